//! The four-letter words (docs/protocol.md §6): every word of ZooKeeper 3.8 (`conf cons crst dump
//! envi ruok srst srvr stat wchs wchc wchp mntr isro gtmk stmk dirs`), in its output formats,
//! obeying `4lw.commands.whitelist`. Pure functions over a [`Context`]: the published
//! [`NodeStatus`], the connections' statistics and, for the words that read the tree, an
//! [`Inspection`] the peer task made.

use std::sync::atomic::Ordering;

use zablab_core::message::PeerState;

use crate::config::NodeConfig;
use crate::server::connections::Connections;
use crate::server::sessions::Inspection;
use crate::server::shared::{mode, NodeStatus, Shared, VERSION};

mod dump;

/// ZooKeeper's default trace mask (`ZooTrace`): client requests, server packets, sessions,
/// warnings.
pub const DEFAULT_TRACE_MASK: u64 = (1 << 1) | (1 << 4) | (1 << 5) | (1 << 8);

/// What a four-letter word is answered from.
pub struct Context<'a> {
    pub shared: &'a Shared,
    pub conns: &'a Connections,
    /// For `wchs wchc wchp dump`: the peer task's snapshot (None if it did not answer).
    pub inspection: Option<&'a Inspection>,
    /// For `stmk`: the 8-byte mask that followed the word.
    pub arg: Option<i64>,
}

/// True when answering `word` needs an [`Inspection`] from the peer task.
pub fn needs_inspection(word: &str, shared: &Shared) -> bool {
    matches!(word, "wchs" | "wchc" | "wchp" | "dump")
        && allowed(&shared.config, word)
        && shared.status().answers_clients()
}

/// True when `4lw.commands.whitelist` lets `word` run.
pub fn allowed(cfg: &NodeConfig, word: &str) -> bool {
    cfg.four_letter_words.iter().any(|w| w == word)
}

/// ZooKeeper's answer to a word that needs a serving server, while this one does not serve.
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

/// Every word ZooKeeper knows (an unknown 4-byte prefix is the start of a client frame).
pub const KNOWN: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srvr", "srst", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro", "hash",
];

pub fn is_known(word: &[u8]) -> Option<&'static str> {
    KNOWN.iter().copied().find(|w| w.as_bytes() == word)
}

/// The answer to `word` (already known to be a four-letter word), given the current status.
pub fn answer(word: &str, cx: &Context) -> String {
    let shared = cx.shared;
    let cfg = &shared.config;
    if !allowed(cfg, word) {
        return format!("{word} is not executed because it is not in the whitelist.\n");
    }
    let s = shared.status();
    let infos = cx.conns.infos();
    let n = cx.conns.total();
    match word {
        "ruok" => "imok".to_string(),
        "isro" => if s.read_only {
            "ro"
        } else if s.serving {
            "rw"
        } else {
            "null"
        }
        .to_string(),
        "envi" => envi(cfg),
        "gtmk" => shared.trace_mask.load(Ordering::Relaxed).to_string(),
        "stmk" => {
            if let Some(mask) = cx.arg {
                shared.trace_mask.store(mask as u64, Ordering::Relaxed);
            }
            (shared.trace_mask.load(Ordering::Relaxed) as i64).to_string()
        }
        _ if !s.answers_clients() => NOT_SERVING.to_string(),
        "srvr" => srvr(shared, &s, n, &infos, false),
        "stat" => srvr(shared, &s, n, &infos, true),
        "conf" => conf(cfg),
        "mntr" => mntr(shared),
        "dirs" => format!(
            "datadir_size: {}\nlogdir_size: {}\n",
            dir_size(&cfg.data_dir.join("version-2")),
            dir_size(&cfg.data_log_dir.join("version-2"))
        ),
        "cons" => dump::cons(&infos),
        "crst" => {
            cx.conns.reset_stats();
            "Connection stats reset.\n".to_string()
        }
        "srst" => {
            reset_server_stats(shared);
            "Server stats reset.\n".to_string()
        }
        "wchs" | "wchc" | "wchp" | "dump" => {
            let Some(i) = cx.inspection else {
                return NOT_SERVING.to_string();
            };
            match word {
                "wchs" => dump::wchs(i),
                "wchc" => dump::wchc(i),
                "wchp" => dump::wchp(i),
                _ => {
                    let leads = cfg.is_standalone() || s.state == PeerState::Leading;
                    dump::dump(i, leads, &infos)
                }
            }
        }
        other => format!("{other} is not implemented by ZabLab.\n"),
    }
}

/// A double as Java prints it for these figures ("0.0", "2.5").
pub fn java_double(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

pub fn outstanding(infos: &[crate::server::connections::ConnInfo]) -> u64 {
    infos.iter().map(|i| i.queued).sum()
}

fn srvr(
    shared: &Shared,
    s: &NodeStatus,
    connections: u64,
    infos: &[crate::server::connections::ConnInfo],
    clients: bool,
) -> String {
    let cfg = &shared.config;
    let mut o = format!("Zookeeper version: {VERSION}\n");
    if clients {
        o.push_str("Clients:\n");
        for i in infos {
            o.push_str(&i.dump(true));
            o.push('\n');
        }
        o.push('\n');
    }
    let l = shared.server_stats.latency();
    o.push_str(&format!(
        "Latency min/avg/max: {}/{}/{}\n",
        l.min(),
        java_double(l.avg()),
        l.max_ms
    ));
    o.push_str(&format!(
        "Received: {}\n",
        shared
            .packets_received
            .load(std::sync::atomic::Ordering::Relaxed)
    ));
    o.push_str(&format!(
        "Sent: {}\n",
        shared
            .packets_sent
            .load(std::sync::atomic::Ordering::Relaxed)
    ));
    o.push_str(&format!("Connections: {connections}\n"));
    o.push_str(&format!("Outstanding: {}\n", outstanding(infos)));
    o.push_str(&format!("Zxid: 0x{:x}\n", s.last_zxid.0));
    o.push_str(&format!("Mode: {}\n", mode(cfg, s)));
    o.push_str(&format!("Node count: {}\n", s.node_count));
    if s.state == PeerState::Leading {
        o.push_str("Proposal sizes last/min/max: -1/-1/-1\n");
    }
    o
}

fn conf(cfg: &NodeConfig) -> String {
    let mut o = String::new();
    let mut kv = |k: &str, v: String| o.push_str(&format!("{k}={v}\n"));
    // ZooKeeper prints -1 for a port that is not configured.
    let port = |p: u16| {
        if p == 0 {
            "-1".to_string()
        } else {
            p.to_string()
        }
    };
    kv("clientPort", port(cfg.client_port));
    kv("secureClientPort", port(cfg.secure_client_port));
    kv(
        "dataDir",
        cfg.data_dir.join("version-2").display().to_string(),
    );
    kv(
        "dataDirSize",
        dir_size(&cfg.data_dir.join("version-2")).to_string(),
    );
    kv(
        "dataLogDir",
        cfg.data_log_dir.join("version-2").display().to_string(),
    );
    kv(
        "dataLogSize",
        dir_size(&cfg.data_log_dir.join("version-2")).to_string(),
    );
    kv("tickTime", cfg.tick_time_ms.to_string());
    kv("maxClientCnxns", cfg.max_client_cnxns.to_string());
    kv("minSessionTimeout", cfg.min_session_timeout_ms.to_string());
    kv("maxSessionTimeout", cfg.max_session_timeout_ms.to_string());
    kv("clientPortListenBacklog", "-1".into());
    kv("serverId", cfg.myid.to_string());
    if let Some(me) = cfg.me() {
        kv("initLimit", cfg.init_limit.to_string());
        kv("syncLimit", cfg.sync_limit.to_string());
        kv("electionAlg", "3".into());
        kv("electionPort", me.election_port.to_string());
        kv("quorumPort", me.quorum_port.to_string());
        let observer = me.learner_type == zablab_core::config::LearnerType::Observer;
        kv("peerType", if observer { "1" } else { "0" }.into());
        o.push_str("membership: \n");
        o.push_str(&cfg.membership_text());
        o.push('\n');
    }
    o
}

pub fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// `srst` and the AdminServer's `stat_reset` (`ServerStats.reset`): latency, packet counts
/// and reply sizes start over, and so do the metrics unless Prometheus serves them.
pub fn reset_server_stats(shared: &Shared) {
    shared.server_stats.reset();
    shared.packets_received.store(0, Ordering::Relaxed);
    shared.packets_sent.store(0, Ordering::Relaxed);
    if shared.config.metrics_addr.is_none() {
        shared.metrics.reset_all();
    }
}

/// What `envi` prints and the AdminServer's `environment` returns (ZooKeeper's
/// `Environment.list`, with what a Rust process has in place of the JVM's figures).
pub fn environment(cfg: &NodeConfig) -> Vec<(&'static str, String)> {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let os_version = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    vec![
        ("zookeeper.version", VERSION.to_string()),
        ("host.name", host),
        (
            "java.version",
            "n/a (ZabLab is written in Rust)".to_string(),
        ),
        ("java.io.tmpdir", std::env::temp_dir().display().to_string()),
        ("os.name", std::env::consts::OS.to_string()),
        ("os.arch", std::env::consts::ARCH.to_string()),
        ("os.version", os_version),
        ("user.name", var("USER")),
        ("user.home", var("HOME")),
        ("user.dir", cwd),
        ("zablab.myid", cfg.myid.to_string()),
    ]
}

fn envi(cfg: &NodeConfig) -> String {
    let mut o = String::from("Environment:\n");
    for (k, v) in environment(cfg) {
        o.push_str(&format!("{k}={v}\n"));
    }
    o
}

/// `mntr`: [`crate::server::monitor::monitor_values`], one `zk_key<TAB>value` line each.
fn mntr(shared: &Shared) -> String {
    use crate::server::monitor::MonitorValue;
    let mut o = String::new();
    for (k, v) in crate::server::monitor::monitor_values(shared) {
        let v = match v {
            MonitorValue::Str(s) => s,
            MonitorValue::Int(i) => i.to_string(),
            MonitorValue::Float(f) => java_double(f),
        };
        o.push_str(&format!("zk_{k}\t{v}\n"));
    }
    o
}
