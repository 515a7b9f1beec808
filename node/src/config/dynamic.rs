//! ZooKeeper's dynamic configuration file (3.5+): the membership lives apart from zoo.cfg, in
//! `zoo.cfg.dynamic.<version in hex>`, so that a committed reconfig can replace it without
//! touching the static settings, and a restart comes back with the new membership.
//!
//! The file holds `server.N=host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]`
//! lines and at most one `version=<hex>` line; anything else is refused, as ZooKeeper refuses
//! static keys in a dynamic file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use zablab_core::config::LearnerType;
use zablab_core::reconfig::ReconfigRequest;
use zablab_core::zxid::Sid;

use super::{err, parse_server, positive, ConfigError, ServerEntry};

/// The most servers one dynamic file may list: a bound on what is read from disk.
pub const MAX_SERVERS: usize = 255;
/// The largest dynamic file read (bytes); a few hundred servers fit in far less.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;

/// A dynamic configuration: the members and the config's version (the zxid of the reconfig
/// that made it; 0 for one never reconfigured).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DynamicConfig {
    pub servers: BTreeMap<Sid, ServerEntry>,
    pub version: u64,
}

/// Parses the text of a dynamic config file.
pub fn parse(text: &str) -> Result<DynamicConfig, ConfigError> {
    let mut cfg = DynamicConfig::default();
    let mut version_seen = false;
    for (lineno, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return err(
                &format!("dynamic line {}", lineno + 1),
                format!("`{line}` is not key=value"),
            );
        };
        let (k, v) = (k.trim(), v.trim());
        if let Some(n) = k.strip_prefix("server.") {
            let sid = positive::<u64>(k, n)?;
            let entry = parse_server(k, sid, v)?;
            if cfg.servers.insert(sid, entry).is_some() {
                return err(k, "server id given twice");
            }
            if cfg.servers.len() > MAX_SERVERS {
                return err(k, format!("more than {MAX_SERVERS} servers"));
            }
        } else if k == "version" {
            if version_seen {
                return err(k, "given twice");
            }
            version_seen = true;
            cfg.version = match u64::from_str_radix(v, 16) {
                Ok(n) => n,
                Err(_) => return err(k, format!("`{v}` is not a hexadecimal version")),
            };
        } else {
            return err(
                k,
                "not allowed in a dynamic config file (only server.N and version)",
            );
        }
    }
    if cfg.servers.is_empty() {
        return err("dynamicConfigFile", "no server.N lines");
    }
    Ok(cfg)
}

/// Reads and parses `path`, bounded to [`MAX_FILE_BYTES`].
pub fn load(path: &Path) -> Result<DynamicConfig, ConfigError> {
    let cannot = |e: std::io::Error| {
        err::<DynamicConfig>(
            "dynamicConfigFile",
            format!("cannot read {}: {e}", path.display()),
        )
    };
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => return cannot(e),
    };
    if len > MAX_FILE_BYTES {
        return err(
            "dynamicConfigFile",
            format!("{} is {len} bytes, over {MAX_FILE_BYTES}", path.display()),
        );
    }
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text),
        Err(e) => cannot(e),
    }
}

/// One member as ZooKeeper's `QuorumServer.toString()` prints it (the type always spelled out,
/// the client address as `;host:port`).
pub fn server_line(e: &ServerEntry) -> String {
    let t = match e.learner_type {
        LearnerType::Participant => "participant",
        LearnerType::Observer => "observer",
    };
    let mut s = format!(
        "server.{}={}:{}:{}:{}",
        e.sid, e.host, e.quorum_port, e.election_port, t
    );
    if let Some((h, p)) = &e.client {
        s.push_str(&format!(";{h}:{p}"));
    }
    s
}

/// The text of a dynamic config, which is also the data of `/zookeeper/config`:
/// `server.N=...` lines in id order, then `version=<hex>`.
pub fn format(servers: &BTreeMap<Sid, ServerEntry>, version: u64) -> String {
    let mut s = String::new();
    for e in servers.values() {
        s.push_str(&server_line(e));
        s.push('\n');
    }
    s.push_str(&format!("version={version:x}"));
    s
}

/// The longest list a client's `reconfig` may carry (bytes of each string): a bound on what a
/// request makes the server parse, far above MAX_SERVERS lines.
pub const MAX_RECONFIG_ARG_BYTES: usize = 64 * 1024;

/// A client's `reconfig` arguments (ReconfigRequest's strings, as zkCli.sh and kazoo send
/// them) as the core's request: `joining` and `new_members` are comma-separated
/// `server.N=host:quorumPort:electionPort[:role][;[clientHost:]clientPort]` entries (each
/// checked as a dynamic file's line, its text after `=` kept as the member's spec for
/// `/zookeeper/config`), `leaving` comma-separated ids, `cur_config_id` the version the current
/// config must have (-1: any). Anything malformed is the client's BadArguments.
pub fn reconfig_request(
    joining: Option<&str>,
    leaving: Option<&str>,
    new_members: Option<&str>,
    cur_config_id: i64,
) -> Result<ReconfigRequest, ConfigError> {
    let servers = |list: &str| -> Result<Vec<(Sid, LearnerType, String)>, ConfigError> {
        if list.len() > MAX_RECONFIG_ARG_BYTES {
            return err("reconfig", "argument too long");
        }
        let mut out = Vec::new();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let Some((k, v)) = item.split_once('=') else {
                return err("reconfig", format!("`{item}` is not server.N=..."));
            };
            let Some(n) = k.trim().strip_prefix("server.") else {
                return err("reconfig", format!("`{item}` is not server.N=..."));
            };
            let sid = positive::<u64>(k, n)?;
            let entry = parse_server(k, sid, v)?;
            out.push((sid, entry.learner_type, v.trim().to_string()));
            if out.len() > MAX_SERVERS {
                return err("reconfig", format!("more than {MAX_SERVERS} servers"));
            }
        }
        Ok(out)
    };
    let mut request = ReconfigRequest {
        from_config: crate::codec::wire::config_id(cur_config_id),
        ..ReconfigRequest::default()
    };
    let mut specs = Vec::new();
    if let Some(list) = new_members.filter(|l| !l.trim().is_empty()) {
        let members = servers(list)?;
        request.new_members = Some(members.iter().map(|(s, t, _)| (*s, *t)).collect());
        specs.extend(members.into_iter().map(|(s, _, v)| (s, v)));
    }
    if let Some(list) = joining.filter(|l| !l.trim().is_empty()) {
        let members = servers(list)?;
        request.joining = members.iter().map(|(s, t, _)| (*s, *t)).collect();
        specs.extend(members.into_iter().map(|(s, _, v)| (s, v)));
    }
    if let Some(list) = leaving.filter(|l| !l.trim().is_empty()) {
        if list.len() > MAX_RECONFIG_ARG_BYTES {
            return err("reconfig", "argument too long");
        }
        for id in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            request
                .leaving
                .push(positive::<u64>("reconfig leaving", id)?);
        }
    }
    if request.new_members.is_none() && request.joining.is_empty() && request.leaving.is_empty() {
        return err("reconfig", "nothing to change");
    }
    request.specs = specs;
    Ok(request)
}

/// `zoo.cfg.dynamic.<hex>` beside `zoo_cfg`, as ZooKeeper names it after a reconfig.
pub fn file_path(zoo_cfg: &Path, version: u64) -> PathBuf {
    let name = zoo_cfg
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "zoo.cfg".to_string());
    zoo_cfg.with_file_name(format!("{name}.dynamic.{version:x}"))
}

/// After a reconfig committed: writes the new dynamic file, then rewrites `zoo_cfg` without
/// `server.N`, `version` or an old `dynamicConfigFile` line and with one pointing at the new
/// file. Each file is written to `.tmp`, fsynced and renamed, so a crash leaves the old or the
/// new file whole; the dynamic file comes first, so zoo.cfg never points at a missing one.
pub fn write_after_reconfig(
    zoo_cfg: &Path,
    servers: &BTreeMap<Sid, ServerEntry>,
    version: u64,
) -> std::io::Result<PathBuf> {
    let dynamic = file_path(zoo_cfg, version);
    write_atomic(&dynamic, format(servers, version).as_bytes())?;
    let old = std::fs::read_to_string(zoo_cfg)?;
    let mut text = String::new();
    for line in old.lines() {
        let key = line.split_once('=').map(|(k, _)| k.trim()).unwrap_or("");
        if key.starts_with("server.") || key == "version" || key == "dynamicConfigFile" {
            continue;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&format!("dynamicConfigFile={}\n", dynamic.display()));
    write_atomic(zoo_cfg, text.as_bytes())?;
    Ok(dynamic)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zablab_core::zxid::Zxid;

    #[test]
    fn a_clients_reconfig_strings_become_the_cores_request_with_each_members_spec() {
        let r = reconfig_request(
            Some("server.100=0.0.0.0:1234:2345:observer;0.0.0.0:3456"),
            None,
            None,
            -1,
        )
        .expect("kazoo's joining string parses");
        assert_eq!(r.joining, vec![(100, LearnerType::Observer)]);
        assert_eq!(
            r.specs,
            vec![(100, "0.0.0.0:1234:2345:observer;0.0.0.0:3456".to_string())]
        );
        assert_eq!(r.from_config, None);
        let r = reconfig_request(None, Some("100, 7"), None, 0x1_0000_0003).expect("leaving");
        assert_eq!(r.leaving, vec![100, 7]);
        assert_eq!(r.from_config, Some(Zxid(0x1_0000_0003)));
        let r = reconfig_request(
            None,
            None,
            Some("server.1=h:1:2;3,server.2=h:4:5:participant;6"),
            -1,
        )
        .expect("new members");
        assert_eq!(
            r.new_members,
            Some(vec![
                (1, LearnerType::Participant),
                (2, LearnerType::Participant)
            ])
        );
        for bad in [
            (Some("some thing"), None, None),
            (Some("server.x=h:1:2"), None, None),
            (Some("server.4=h:1"), None, None),
            (None, Some("one"), None),
            (None, None, None),
        ] {
            assert!(
                reconfig_request(bad.0, bad.1, bad.2, -1).is_err(),
                "{bad:?} is BadArguments"
            );
        }
    }

    const KAZOO_LIKE: &str = "server.1=127.0.0.1:20001:20002:participant;127.0.0.1:20000\n\
        server.2=127.0.0.1:20011:20012:participant;20010\n\
        server.3=127.0.0.1:20021:20022:observer;127.0.0.1:20020\n\
        version=100000000\n";

    #[test]
    fn parses_kazoo_style_lines_and_hex_version() {
        let d = parse(KAZOO_LIKE).unwrap();
        assert_eq!(d.version, 0x1_0000_0000);
        assert_eq!(d.servers.len(), 3);
        assert_eq!(
            d.servers[&2].client,
            Some(("0.0.0.0".to_string(), 20010)),
            "a bare client port listens on every address"
        );
        assert_eq!(d.servers[&3].learner_type, LearnerType::Observer);
    }

    #[test]
    fn format_is_zookeepers_config_text() {
        let d = parse(KAZOO_LIKE).unwrap();
        assert_eq!(
            format(&d.servers, d.version),
            "server.1=127.0.0.1:20001:20002:participant;127.0.0.1:20000\n\
             server.2=127.0.0.1:20011:20012:participant;0.0.0.0:20010\n\
             server.3=127.0.0.1:20021:20022:observer;127.0.0.1:20020\n\
             version=100000000"
        );
        let again = parse(&format(&d.servers, d.version)).unwrap();
        assert_eq!(
            again,
            parse(&format(&again.servers, again.version)).unwrap()
        );
    }

    #[test]
    fn refuses_static_keys_bad_versions_and_empty_files() {
        for bad in [
            "tickTime=2000\nserver.1=h:1:2\n",
            "server.1=h:1:2\nversion=xyz\n",
            "server.1=h:1:2\nversion=1\nversion=2\n",
            "server.1=h:1:2\nserver.1=h:3:4\n",
            "version=1\n",
            "server.1=h:1:2:voter\n",
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn rewrites_zoo_cfg_to_point_at_the_new_file() {
        let dir = std::env::temp_dir().join(format!("zablab-dyn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let zoo = dir.join("zoo.cfg");
        std::fs::write(
            &zoo,
            "tickTime=2000\nserver.1=127.0.0.1:1:2\ndataDir=/x\nreconfigEnabled=true\n",
        )
        .unwrap();
        let d = parse(KAZOO_LIKE).unwrap();
        let path = write_after_reconfig(&zoo, &d.servers, 0x2_0000_0003).unwrap();
        assert_eq!(path, dir.join("zoo.cfg.dynamic.200000003"));
        let written = load(&path).unwrap();
        assert_eq!(written.version, 0x2_0000_0003);
        assert_eq!(written.servers, d.servers);
        let cfg = std::fs::read_to_string(&zoo).unwrap();
        assert_eq!(
            cfg,
            format!(
                "tickTime=2000\ndataDir=/x\nreconfigEnabled=true\ndynamicConfigFile={}\n",
                path.display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn zoo_cfg_with_a_dynamic_file_loads_its_members_and_reconfig_enabled() {
        let dir = std::env::temp_dir().join(format!("zablab-dynload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dyn_path = dir.join("zoo.cfg.dynamic.100000000");
        std::fs::write(&dyn_path, KAZOO_LIKE).unwrap();
        std::fs::write(dir.join("myid"), "2\n").unwrap();
        let zoo = dir.join("zoo.cfg");
        let text = format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nreconfigEnabled=true\n\
             standaloneEnabled=false\ndynamicConfigFile={}\n",
            dir.display(),
            dyn_path.display()
        );
        std::fs::write(&zoo, &text).unwrap();
        let cfg = super::super::NodeConfig::load(&zoo).unwrap();
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
        assert_eq!(cfg.myid, 2);
        assert_eq!(cfg.config_version, 0x1_0000_0000);
        assert_eq!(cfg.servers.len(), 3);
        assert!(cfg.peer_config().reconfig_enabled);
        assert!(cfg.membership_text().ends_with("\nversion=100000000"));
        // The membership in two places is refused rather than merged.
        std::fs::write(&zoo, format!("{text}server.4=127.0.0.1:1:2\n")).unwrap();
        assert!(super::super::NodeConfig::load(&zoo).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
