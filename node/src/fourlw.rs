//! The four-letter words (reference §6): `ruok srvr stat mntr conf envi isro`, in ZooKeeper's
//! output formats, obeying `4lw.commands.whitelist`. Pure functions over a [`NodeStatus`].

use zablab_core::message::PeerState;

use crate::config::NodeConfig;
use crate::runtime::{NodeStatus, Shared};

/// The version string printed where ZooKeeper prints its own.
pub const VERSION: &str = concat!(
    "3.8.4-zablab-",
    env!("CARGO_PKG_VERSION"),
    ", built on 1970-01-01 00:00 UTC"
);
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

/// Every word ZooKeeper knows (an unknown 4-byte prefix is the start of a client frame).
pub const KNOWN: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srvr", "srst", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro", "hash",
];

pub fn is_known(word: &[u8]) -> Option<&'static str> {
    KNOWN.iter().copied().find(|w| w.as_bytes() == word)
}

/// `leader|follower|observer|standalone` as `srvr`'s `Mode:` line prints it.
pub fn mode(cfg: &NodeConfig, s: &NodeStatus) -> &'static str {
    if cfg.is_standalone() {
        return "standalone";
    }
    match s.state {
        PeerState::Leading => "leader",
        PeerState::Following => "follower",
        PeerState::Observing => "observer",
        PeerState::Looking => "looking",
    }
}

/// The answer to `word` (already known to be a four-letter word), given the current status.
pub fn answer(word: &str, shared: &Shared, connections: u64, clients: &str) -> String {
    let cfg = &shared.config;
    if !cfg.four_letter_words.iter().any(|w| w == word) {
        return format!("{word} is not executed because it is not in the whitelist.\n");
    }
    let s = shared.status();
    match word {
        "ruok" => "imok".to_string(),
        "isro" => if s.serving { "rw" } else { "null" }.to_string(),
        "envi" => envi(cfg),
        _ if !s.serving => NOT_SERVING.to_string(),
        "srvr" => srvr(shared, &s, connections, None),
        "stat" => srvr(shared, &s, connections, Some(clients)),
        "conf" => conf(cfg),
        "mntr" => mntr(shared, &s, connections),
        other => format!("{other} is not implemented by ZabLab yet.\n"),
    }
}

fn srvr(shared: &Shared, s: &NodeStatus, connections: u64, clients: Option<&str>) -> String {
    let cfg = &shared.config;
    let mut o = format!("Zookeeper version: {VERSION}\n");
    if let Some(c) = clients {
        o.push_str("Clients:\n");
        o.push_str(c);
        o.push('\n');
    }
    o.push_str("Latency min/avg/max: 0/0.0/0\n");
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
    o.push_str("Outstanding: 0\n");
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
    kv("clientPort", cfg.client_port.to_string());
    kv("secureClientPort", "-1".into());
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

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn envi(cfg: &NodeConfig) -> String {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut o = String::from("Environment:\n");
    for (k, v) in [
        ("zookeeper.version", VERSION.to_string()),
        ("host.name", host),
        (
            "java.version",
            "n/a (ZabLab is written in Rust)".to_string(),
        ),
        ("os.name", std::env::consts::OS.to_string()),
        ("os.arch", std::env::consts::ARCH.to_string()),
        ("user.name", var("USER")),
        ("user.home", var("HOME")),
        ("user.dir", cwd),
        ("zablab.myid", cfg.myid.to_string()),
    ] {
        o.push_str(&format!("{k}={v}\n"));
    }
    o
}

fn mntr(shared: &Shared, s: &NodeStatus, connections: u64) -> String {
    let cfg = &shared.config;
    let mut o = String::new();
    let mut kv = |k: &str, v: String| o.push_str(&format!("zk_{k}\t{v}\n"));
    kv("version", VERSION.to_string());
    let state = mode(cfg, s);
    kv("server_state", state.to_string());
    if !cfg.is_standalone() {
        let role = match s.state {
            PeerState::Leading => "leading",
            PeerState::Following => "following",
            PeerState::Observing => "observing",
            PeerState::Looking => "looking",
        };
        let phase = match s.phase {
            zablab_core::trace::ZabPhase::Election => "election",
            zablab_core::trace::ZabPhase::Discovery => "discovery",
            zablab_core::trace::ZabPhase::Synchronization => "synchronization",
            zablab_core::trace::ZabPhase::Broadcast => "broadcast",
        };
        let peer_state = match (s.phase, s.sync_mode) {
            (zablab_core::trace::ZabPhase::Synchronization, Some(m)) => {
                format!("{role} - {phase} - {}", m.to_lowercase())
            }
            _ => format!("{role} - {phase}"),
        };
        kv("peer_state", peer_state);
    }
    let rel = std::sync::atomic::Ordering::Relaxed;
    kv("avg_latency", "0.0".into());
    kv("max_latency", "0".into());
    kv("min_latency", "0".into());
    kv(
        "packets_received",
        shared.packets_received.load(rel).to_string(),
    );
    kv("packets_sent", shared.packets_sent.load(rel).to_string());
    kv("num_alive_connections", connections.to_string());
    kv("outstanding_requests", "0".into());
    kv("uptime", shared.uptime_ms().to_string());
    kv("znode_count", s.node_count.to_string());
    kv("watch_count", s.watch_count.to_string());
    kv("ephemerals_count", s.ephemerals_count.to_string());
    kv("approximate_data_size", s.approximate_data_size.to_string());
    kv("global_sessions", "0".into());
    kv("local_sessions", "0".into());
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    kv("open_file_descriptor_count", fds.to_string());
    kv("max_file_descriptor_count", max_fds().to_string());
    kv("connection_drop_probability", "0.0".into());
    kv("last_zxid", format!("0x{:x}", s.last_zxid.0));
    kv("current_epoch", s.current_epoch.to_string());
    kv("accepted_epoch", s.accepted_epoch.to_string());
    kv("fsync_count", shared.fsyncs.load(rel).to_string());
    if s.state == PeerState::Leading {
        kv("learners", s.learners.to_string());
        kv("synced_followers", s.synced_followers.to_string());
        kv("synced_non_voting_followers", "0".into());
        kv("synced_observers", s.synced_observers.to_string());
        kv("pending_syncs", s.pending_syncs.to_string());
        let since = s.leading_since_ms.unwrap_or(0);
        kv(
            "leader_uptime",
            shared.uptime_ms().saturating_sub(since).to_string(),
        );
        kv("last_proposal_size", "-1".into());
        kv("max_proposal_size", "-1".into());
        kv("min_proposal_size", "-1".into());
    }
    o
}

fn max_fds() -> u64 {
    // "Max open files  <soft>  <hard>  files" in /proc/self/limits.
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
