//! `zoo.cfg` as Apache ZooKeeper reads it, plus `dataDir/myid`. Unknown keys give a warning;
//! an invalid value or a missing myid is a [`ConfigError`] naming the key (exit code 2).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use zablab_core::config::{Ensemble, LearnerType, PeerConfig, Timing};
use zablab_core::zxid::Sid;

pub mod dynamic;

use crate::tls::{Applied, X509Settings, CLIENT_PREFIX, QUORUM_PREFIX};

/// One `server.N=host:quorumPort:electionPort[:participant|:observer][;clientHost:clientPort]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerEntry {
    pub sid: Sid,
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub learner_type: LearnerType,
    pub client: Option<(String, u16)>,
}

impl ServerEntry {
    pub fn quorum_addr(&self) -> String {
        format!("{}:{}", self.host, self.quorum_port)
    }
    pub fn election_addr(&self) -> String {
        format!("{}:{}", self.host, self.election_port)
    }
}

#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub tick_time_ms: u64,
    pub init_limit: u32,
    pub sync_limit: u32,
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    /// `clientPort`; 0 when only a secure client port is configured.
    pub client_port: u16,
    pub client_port_address: String,
    /// `secureClientPort` (0 = none) and `secureClientPortAddress` (default: every address, as
    /// ZooKeeper binds it): the client protocol inside TLS ([`crate::tls`]).
    pub secure_client_port: u16,
    pub secure_client_port_address: String,
    /// `ssl.*`: the secure client port's key and trust stores and `ssl.clientAuth`.
    pub ssl: X509Settings,
    /// `sslQuorum`: mutual TLS on the quorum and election ports, with `ssl.quorum.*`.
    pub ssl_quorum: bool,
    pub ssl_quorum_settings: X509Settings,
    pub max_client_cnxns: u32,
    pub min_session_timeout_ms: u64,
    pub max_session_timeout_ms: u64,
    pub snap_count: u64,
    /// `zookeeper.snapshotSizeFactor` in percent (`None` when negative: never DIFF from the
    /// transaction log).
    pub snapshot_size_factor_percent: Option<u32>,
    /// `zookeeper.commitLogCount`: committed proposals kept in memory for DIFF.
    pub commit_log_count: usize,
    pub snap_retain_count: u32,
    pub purge_interval_hours: u32,
    /// The enabled four-letter words (`srvr` is always in).
    pub four_letter_words: Vec<String>,
    pub jute_max_buffer: usize,
    /// `DigestAuthenticationProvider.superDigest` (`user:base64(sha1(user:password))`): a
    /// digest auth with these credentials also gets the `super` id, which passes every ACL.
    pub super_digest: Option<String>,
    /// `/metrics` (Prometheus) when `metricsProvider.className` names ZooKeeper's Prometheus
    /// provider: `metricsProvider.httpHost` (0.0.0.0) and `metricsProvider.httpPort` (7000).
    pub metrics_addr: Option<(String, u16)>,
    /// `metricsProvider.exportJvmInfo` (true): with it, `/metrics` also has the standard
    /// `process_*` families Prometheus' client exports beside the JVM's (ZabLab has no JVM).
    pub metrics_export_process_info: bool,
    /// The AdminServer: `admin.enableServer`, `admin.serverAddress` (0.0.0.0),
    /// `admin.serverPort` (8080), `admin.commandURL` (/commands). Off unless enabled: ZooKeeper
    /// turns it on by default, but ZabLab servers often share a host (`zablab cluster`, the
    /// lab, whose page is on 8080), so each must be given its own port to have one.
    pub admin: AdminConfig,
    /// `readonlymode.enabled` (ZooKeeper's system property; also read from zoo.cfg here, with
    /// or without the `zookeeper.` prefix): a server LOOKING for `max(2000 ms, tickTime)`
    /// serves read-only clients from its own tree until the election ends
    /// ([`zablab_core::session::ReadOnlyChange`]).
    pub read_only_mode: bool,
    /// The zoo.cfg text as read (`initial_configuration`).
    pub initial_text: String,
    pub myid: Sid,
    /// Empty in standalone mode (no `server.N` lines).
    pub servers: BTreeMap<Sid, ServerEntry>,
    /// `reconfigEnabled` (false, as ZooKeeper 3.5.3+): whether the leader accepts `reconfig`.
    pub reconfig_enabled: bool,
    /// `dynamicConfigFile`: where the membership was read from ([`dynamic`]); `servers` holds
    /// its lines, and a committed reconfig writes the next one.
    pub dynamic_config_file: Option<PathBuf>,
    /// The membership's version (`version=<hex>` of the dynamic file; 0 without one).
    pub config_version: u64,
    /// Warnings found while parsing (unknown keys), printed by the caller.
    pub warnings: Vec<String>,
    /// The zoo.cfg this was loaded from: a committed reconfig rewrites it to point at the new
    /// dynamic file ([`dynamic::write_after_reconfig`]). `None` for a config parsed from text.
    pub source: Option<PathBuf>,
}

/// The AdminServer's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminConfig {
    pub enabled: bool,
    pub address: String,
    pub port: u16,
    pub command_url: String,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: false,
            address: "0.0.0.0".to_string(),
            port: 8080,
            command_url: "/commands".to_string(),
        }
    }
}

/// `true` / `false` as Java's `Boolean.parseBoolean` reads them (anything else is an error
/// here, not a silent false).
fn boolean(key: &str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => err(key, format!("`{v}` is not true or false")),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn err<T>(key: &str, message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError {
        key: key.to_string(),
        message: message.into(),
    })
}

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, ConfigError> {
    v.parse::<T>()
        .or_else(|_| err(key, format!("`{v}` is not a valid number")))
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(
    key: &str,
    v: &str,
) -> Result<T, ConfigError> {
    let n: T = num(key, v)?;
    if n <= T::default() {
        return err(key, format!("`{v}` must be greater than 0"));
    }
    Ok(n)
}

const KNOWN_WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srvr", "srst", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro", "hash",
];

/// Keys ZooKeeper accepts that ZabLab reads but does not act on; no warning for these.
const ACCEPTED_UNUSED: &[&str] = &[
    "admin.idleTimeout",
    "standaloneEnabled",
    "electionAlg",
    "quorumListenOnAllIPs",
    "syncEnabled",
    "peerType",
    "globalOutstandingLimit",
    "preAllocSize",
    "leaderServes",
    "forceSync",
    // ZooKeeper needs its Netty factory for a secure client port; ZabLab has one kind of port.
    "serverCnxnFactory",
    "zookeeper.serverCnxnFactory",
];

/// The zoo.cfg key of the super user's digest.
/// The largest `commitLogCount` accepted: the committed log is held in memory.
pub const MAX_COMMIT_LOG_COUNT: usize = 1_000_000;

/// ZooKeeper's `snapshotSizeFactor` (a double, default 0.33): negative turns DIFF from the
/// transaction log off, above 1 falls back to the default (as ZKDatabase does).
fn parse_size_factor(k: &str, v: &str) -> Result<Option<u32>, ConfigError> {
    let f: f64 = match v.trim().parse() {
        Ok(f) if f64::is_finite(f) => f,
        _ => return err(k, format!("`{v}` is not a number")),
    };
    Ok(if f < 0.0 {
        None
    } else if f > 1.0 {
        Some(33)
    } else {
        Some((f * 100.0).round() as u32)
    })
}

/// The `metricsProvider.className` that turns `/metrics` on.
pub const PROMETHEUS_PROVIDER_CLASS: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

pub const SUPER_DIGEST_KEY: &str = "DigestAuthenticationProvider.superDigest";
/// The same as ZooKeeper's system property.
pub const SUPER_DIGEST_PROPERTY: &str = "zookeeper.DigestAuthenticationProvider.superDigest";

/// `user:hash` as `DigestAuthenticationProvider.generateDigest` prints it: a non-empty user and
/// a base64 SHA-1 (28 characters).
fn parse_super_digest(key: &str, v: &str) -> Result<String, ConfigError> {
    let Some((user, hash)) = v.split_once(':') else {
        return err(key, format!("`{v}` is not user:base64digest"));
    };
    let base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    if user.is_empty() || hash.len() != 28 || !hash.chars().all(base64) {
        return err(
            key,
            format!("`{v}` is not user:base64digest (28 characters)"),
        );
    }
    Ok(v.to_string())
}

fn parse_server(key: &str, sid: Sid, v: &str) -> Result<ServerEntry, ConfigError> {
    let (main, client) = match v.split_once(';') {
        Some((m, c)) => (m.trim(), Some(c.trim())),
        None => (v.trim(), None),
    };
    let parts: Vec<&str> = main.split(':').collect();
    if parts.len() < 3 || parts.len() > 4 {
        return err(
            key,
            format!("`{v}` is not host:quorumPort:electionPort[:participant|:observer]"),
        );
    }
    if parts[0].is_empty() {
        return err(key, "empty host");
    }
    let quorum_port = positive::<u16>(key, parts[1])?;
    let election_port = positive::<u16>(key, parts[2])?;
    let learner_type = match parts.get(3).copied() {
        None | Some("participant") => LearnerType::Participant,
        Some("observer") => LearnerType::Observer,
        Some(other) => return err(key, format!("unknown server type `{other}`")),
    };
    let client = match client {
        None | Some("") => None,
        Some(c) => {
            let (h, p) = match c.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p),
                None => ("0.0.0.0".to_string(), c),
            };
            Some((h, positive::<u16>(key, p)?))
        }
    };
    Ok(ServerEntry {
        sid,
        host: parts[0].to_string(),
        quorum_port,
        election_port,
        learner_type,
        client,
    })
}

impl NodeConfig {
    /// Reads `path` and `dataDir/myid`.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .or_else(|e| err("zoo.cfg", format!("cannot read {}: {e}", path.display())))?;
        let mut cfg = NodeConfig::parse(&text)?;
        if let Some(path) = cfg.dynamic_config_file.clone() {
            if !cfg.servers.is_empty() {
                return err(
                    "dynamicConfigFile",
                    "given beside server.N lines in zoo.cfg (the membership must be in one place)",
                );
            }
            let d = dynamic::load(&path)?;
            cfg.servers = d.servers;
            cfg.config_version = d.version;
        }
        let myid_path = cfg.data_dir.join("myid");
        match std::fs::read_to_string(&myid_path) {
            Ok(s) => cfg.myid = positive::<u64>("myid", s.trim())?,
            Err(e) if cfg.servers.is_empty() => {
                let _ = e; // standalone: myid is optional
            }
            Err(e) => return err("myid", format!("cannot read {}: {e}", myid_path.display())),
        }
        cfg.validate()?;
        cfg.source = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// Parses the text of a zoo.cfg (myid stays 1 until [`NodeConfig::load`] reads it).
    pub fn parse(text: &str) -> Result<NodeConfig, ConfigError> {
        let mut kv: Vec<(String, String)> = Vec::new();
        for (lineno, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                return err(
                    &format!("line {}", lineno + 1),
                    format!("`{line}` is not key=value"),
                );
            };
            kv.push((k.trim().to_string(), v.trim().to_string()));
        }
        let mut cfg = NodeConfig {
            tick_time_ms: 3000,
            init_limit: 10,
            sync_limit: 5,
            data_dir: PathBuf::new(),
            data_log_dir: PathBuf::new(),
            client_port: 0,
            client_port_address: "0.0.0.0".to_string(),
            secure_client_port: 0,
            secure_client_port_address: "0.0.0.0".to_string(),
            ssl: X509Settings::default(),
            ssl_quorum: false,
            ssl_quorum_settings: X509Settings::default(),
            max_client_cnxns: 60,
            min_session_timeout_ms: 0,
            max_session_timeout_ms: 0,
            snap_count: 100_000,
            snapshot_size_factor_percent: Some(33),
            commit_log_count: 500,
            snap_retain_count: 3,
            purge_interval_hours: 0,
            four_letter_words: vec!["srvr".to_string()],
            jute_max_buffer: 0xfffff,
            super_digest: None,
            read_only_mode: false,
            metrics_addr: None,
            metrics_export_process_info: true,
            admin: AdminConfig::default(),
            initial_text: text.to_string(),
            myid: 1,
            servers: BTreeMap::new(),
            reconfig_enabled: false,
            dynamic_config_file: None,
            config_version: 0,
            warnings: Vec::new(),
            source: None,
        };
        let (mut data_log_dir, mut client_port, mut init_set, mut sync_set) =
            (None, None, false, false);
        let (mut metrics_class, mut metrics_host, mut metrics_port) =
            (None, "0.0.0.0".to_string(), 7000u16);
        let mut secure_address_set = false;
        for (k, v) in &kv {
            let k = k.as_str();
            match k {
                // A Java int in ZooKeeper; bounded so tickTime × initLimit and the session
                // timeout bounds (2 and 20 ticks) cannot overflow.
                "tickTime" => cfg.tick_time_ms = positive::<i32>(k, v)? as u64,
                "initLimit" => {
                    cfg.init_limit = positive(k, v)?;
                    init_set = true;
                }
                "syncLimit" => {
                    cfg.sync_limit = positive(k, v)?;
                    sync_set = true;
                }
                "dataDir" => {
                    if v.is_empty() {
                        return err(k, "empty path");
                    }
                    cfg.data_dir = PathBuf::from(v)
                }
                "dataLogDir" => {
                    if v.is_empty() {
                        return err(k, "empty path");
                    }
                    data_log_dir = Some(PathBuf::from(v))
                }
                "clientPort" => client_port = Some(positive::<u16>(k, v)?),
                "clientPortAddress" => {
                    if v.is_empty() {
                        return err(k, "empty address");
                    }
                    cfg.client_port_address = v.clone()
                }
                "secureClientPort" => cfg.secure_client_port = positive::<u16>(k, v)?,
                "secureClientPortAddress" => {
                    if v.is_empty() {
                        return err(k, "empty address");
                    }
                    cfg.secure_client_port_address = v.clone();
                    secure_address_set = true;
                }
                "sslQuorum" => cfg.ssl_quorum = boolean(k, v)?,
                "maxClientCnxns" => cfg.max_client_cnxns = num(k, v)?,
                "minSessionTimeout" => cfg.min_session_timeout_ms = num(k, v)?,
                "maxSessionTimeout" => cfg.max_session_timeout_ms = num(k, v)?,
                "snapCount" => cfg.snap_count = positive(k, v)?,
                "snapshotSizeFactor" | "zookeeper.snapshotSizeFactor" => {
                    cfg.snapshot_size_factor_percent = parse_size_factor(k, v)?
                }
                "commitLogCount" | "zookeeper.commitLogCount" => {
                    let n: usize = positive(k, v)?;
                    if n > MAX_COMMIT_LOG_COUNT {
                        return err(k, format!("`{v}` above {MAX_COMMIT_LOG_COUNT}"));
                    }
                    cfg.commit_log_count = n
                }
                "autopurge.snapRetainCount" => {
                    // ZooKeeper raises anything below 3 to 3.
                    cfg.snap_retain_count = num::<u32>(k, v)?.max(3)
                }
                "autopurge.purgeInterval" => cfg.purge_interval_hours = num(k, v)?,
                "4lw.commands.whitelist" => {
                    let mut words = vec!["srvr".to_string()];
                    for w in v.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                        if w == "*" {
                            words = KNOWN_WORDS.iter().map(|s| s.to_string()).collect();
                            break;
                        }
                        if !KNOWN_WORDS.contains(&w) {
                            return err(k, format!("unknown four-letter word `{w}`"));
                        }
                        if !words.iter().any(|x| x == w) {
                            words.push(w.to_string());
                        }
                    }
                    cfg.four_letter_words = words;
                }
                "jute.maxbuffer" => {
                    let n = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
                        Some(hex) => usize::from_str_radix(hex, 16)
                            .or_else(|_| err(k, format!("`{v}` is not a valid number")))?,
                        None => num::<usize>(k, v)?,
                    };
                    if n == 0 || n > i32::MAX as usize {
                        return err(k, format!("`{v}` out of range"));
                    }
                    cfg.jute_max_buffer = n;
                }
                // ZooKeeper turns an unknown zoo.cfg key K into the system property
                // `zookeeper.K`; the property's own name is accepted here too.
                SUPER_DIGEST_KEY | SUPER_DIGEST_PROPERTY => {
                    cfg.super_digest = Some(parse_super_digest(k, v)?)
                }
                "readonlymode.enabled" | "zookeeper.readonlymode.enabled" => {
                    cfg.read_only_mode = boolean(k, v)?
                }
                // kazoo's harness sets these for its read-only test; ZabLab's read-only
                // sessions are always local and its read-write sessions always global.
                "localSessionsEnabled" | "localSessionsUpgradingEnabled" => {
                    boolean(k, v)?;
                    cfg.warnings.push(format!(
                        "`{k}` ignored: sessions of a read-only server are always local, all others global"
                    ));
                }
                "metricsProvider.className" => metrics_class = Some(v.clone()),
                "metricsProvider.httpHost" => {
                    if v.is_empty() {
                        return err(k, "empty address");
                    }
                    metrics_host = v.clone()
                }
                "metricsProvider.httpPort" => metrics_port = positive(k, v)?,
                "metricsProvider.exportJvmInfo" => cfg.metrics_export_process_info = boolean(k, v)?,
                "admin.enableServer" => cfg.admin.enabled = boolean(k, v)?,
                "admin.serverAddress" => {
                    if v.is_empty() {
                        return err(k, "empty address");
                    }
                    cfg.admin.address = v.clone()
                }
                "admin.serverPort" => cfg.admin.port = positive(k, v)?,
                "admin.commandURL" => {
                    if !v.starts_with('/') || v.len() < 2 || v.ends_with('/') {
                        return err(k, format!("`{v}` is not a path like /commands"));
                    }
                    cfg.admin.command_url = v.clone()
                }
                "reconfigEnabled" => cfg.reconfig_enabled = boolean(k, v)?,
                "dynamicConfigFile" => {
                    if v.is_empty() {
                        return err(k, "empty path");
                    }
                    cfg.dynamic_config_file = Some(PathBuf::from(v))
                }
                _ if k.starts_with("server.") => {
                    let sid = positive::<u64>(k, &k["server.".len()..])?;
                    let entry = parse_server(k, sid, v)?;
                    if cfg.servers.insert(sid, entry).is_some() {
                        return err(k, "server id given twice");
                    }
                }
                _ if ACCEPTED_UNUSED.contains(&k) => {}
                _ => {
                    let applied = match cfg.ssl_quorum_settings.apply(QUORUM_PREFIX, k, v) {
                        Ok(Applied::NotMine) => cfg.ssl.apply(CLIENT_PREFIX, k, v),
                        other => other,
                    };
                    match applied {
                        Err(m) => return err(k, m),
                        Ok(Applied::Set) => {}
                        Ok(Applied::Unused(why)) => cfg.warnings.push(format!("`{k}`: {why}")),
                        Ok(Applied::NotMine) => cfg
                            .warnings
                            .push(format!("unknown configuration key `{k}` ignored")),
                    }
                }
            }
        }
        if cfg.data_dir.as_os_str().is_empty() {
            return err("dataDir", "missing (required)");
        }
        match metrics_class.as_deref() {
            None => {}
            Some(crate::config::PROMETHEUS_PROVIDER_CLASS) => {
                cfg.metrics_addr = Some((metrics_host, metrics_port))
            }
            // ZooKeeper's default provider keeps metrics for mntr and the AdminServer only.
            Some("org.apache.zookeeper.metrics.impl.DefaultMetricsProvider") => {}
            Some(other) => {
                return err(
                    "metricsProvider.className",
                    format!(
                        "`{other}`: ZabLab has only ZooKeeper's Prometheus and default providers"
                    ),
                )
            }
        }
        cfg.data_log_dir = data_log_dir.unwrap_or_else(|| cfg.data_dir.clone());
        if !cfg.servers.is_empty() && (!init_set || !sync_set) {
            let key = if init_set { "syncLimit" } else { "initLimit" };
            return err(key, "missing (required in quorum mode)");
        }
        cfg.client_port = client_port.unwrap_or(0);
        if secure_address_set && cfg.secure_client_port == 0 {
            return err(
                "secureClientPortAddress",
                "is set but secureClientPort is not set",
            );
        }
        if cfg.secure_client_port != 0 && cfg.ssl.key_store_location.is_none() {
            return err(
                "ssl.keyStore.location",
                "missing (required with secureClientPort)",
            );
        }
        if cfg.ssl_quorum {
            for (key, set) in [
                (
                    "ssl.quorum.keyStore.location",
                    &cfg.ssl_quorum_settings.key_store_location,
                ),
                (
                    "ssl.quorum.trustStore.location",
                    &cfg.ssl_quorum_settings.trust_store_location,
                ),
            ] {
                if set.is_none() {
                    return err(key, "missing (required with sslQuorum=true)");
                }
            }
        }
        if cfg.min_session_timeout_ms == 0 {
            cfg.min_session_timeout_ms = 2 * cfg.tick_time_ms;
        }
        if cfg.max_session_timeout_ms == 0 {
            cfg.max_session_timeout_ms = 20 * cfg.tick_time_ms;
        }
        Ok(cfg)
    }

    /// Checks that need myid: this server is in the list, and a client port is known.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        if !self.servers.is_empty() {
            let Some(me) = self.servers.get(&self.myid) else {
                return err(
                    "myid",
                    format!("{} is not among the server.N entries", self.myid),
                );
            };
            if self.client_port == 0 {
                if let Some((host, port)) = &me.client {
                    self.client_port = *port;
                    self.client_port_address = host.clone();
                }
            }
            if !self
                .servers
                .values()
                .any(|s| s.learner_type == LearnerType::Participant)
            {
                return err("server.N", "no participant");
            }
        }
        if self.client_port == 0 && self.secure_client_port == 0 {
            return err("clientPort", "missing (and no secureClientPort)");
        }
        Ok(())
    }

    pub fn is_standalone(&self) -> bool {
        self.servers.is_empty()
    }

    pub fn me(&self) -> Option<&ServerEntry> {
        self.servers.get(&self.myid)
    }

    /// The core's view of this configuration.
    pub fn peer_config(&self) -> PeerConfig {
        let ensemble = if self.servers.is_empty() {
            Ensemble::new(0, 0).with_member(self.myid, LearnerType::Participant)
        } else {
            let mut e = Ensemble::default();
            for s in self.servers.values() {
                e = e.with_member(s.sid, s.learner_type);
            }
            e
        };
        let mut pc = PeerConfig::new(self.myid, ensemble);
        pc.timing = Timing {
            tick_time_ms: self.tick_time_ms,
            init_limit: self.init_limit,
            sync_limit: self.sync_limit,
            ..Timing::default()
        };
        pc.snap_count = self.snap_count;
        pc.snapshot_size_factor_percent = self.snapshot_size_factor_percent;
        pc.commit_log_count = self.commit_log_count;
        pc.reconfig_enabled = self.reconfig_enabled;
        pc
    }

    /// ZooKeeper's `QuorumVerifier.toString()` (docs/protocol.md §2.8): sent in notifications and
    /// NEWLEADER, printed by `conf`.
    pub fn membership_text(&self) -> String {
        dynamic::format(&self.servers, self.config_version)
    }
}

trait WithMember {
    fn with_member(self, sid: Sid, t: LearnerType) -> Self;
}

impl WithMember for Ensemble {
    fn with_member(mut self, sid: Sid, t: LearnerType) -> Ensemble {
        self.members.insert(sid, t);
        self
    }
}

#[cfg(test)]
mod tests;
