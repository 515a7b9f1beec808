//! The four-letter words (reference §6): every word of ZooKeeper 3.8 (`conf cons crst dump
//! envi ruok srst srvr stat wchs wchc wchp mntr isro gtmk stmk dirs`), in its output formats,
//! obeying `4lw.commands.whitelist`. Pure functions over a [`Context`]: the published
//! [`NodeStatus`], the connections' statistics and, for the words that read the tree, an
//! [`Inspection`] the peer task made.

use std::sync::atomic::Ordering;

use zablab_core::message::PeerState;

use crate::client::Connections;
use crate::config::NodeConfig;
use crate::runtime::{NodeStatus, Shared};
use crate::sessions::Inspection;

mod dump;

pub use dump::java_date;

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
        && shared.status().serving
}

/// True when `4lw.commands.whitelist` lets `word` run.
pub fn allowed(cfg: &NodeConfig, word: &str) -> bool {
    cfg.four_letter_words.iter().any(|w| w == word)
}

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
        "isro" => if s.serving { "rw" } else { "null" }.to_string(),
        "envi" => envi(cfg),
        "gtmk" => shared.trace_mask.load(Ordering::Relaxed).to_string(),
        "stmk" => {
            if let Some(mask) = cx.arg {
                shared.trace_mask.store(mask as u64, Ordering::Relaxed);
            }
            (shared.trace_mask.load(Ordering::Relaxed) as i64).to_string()
        }
        _ if !s.serving => NOT_SERVING.to_string(),
        "srvr" => srvr(shared, &s, n, &infos, false),
        "stat" => srvr(shared, &s, n, &infos, true),
        "conf" => conf(cfg),
        "mntr" => mntr(shared, &s, n, &infos),
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
            shared.server_stats.reset();
            shared.packets_received.store(0, Ordering::Relaxed);
            shared.packets_sent.store(0, Ordering::Relaxed);
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
fn java_double(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

fn outstanding(infos: &[crate::conn_stats::ConnInfo]) -> u64 {
    infos.iter().map(|i| i.queued).sum()
}

fn srvr(
    shared: &Shared,
    s: &NodeStatus,
    connections: u64,
    infos: &[crate::conn_stats::ConnInfo],
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

fn mntr(
    shared: &Shared,
    s: &NodeStatus,
    connections: u64,
    infos: &[crate::conn_stats::ConnInfo],
) -> String {
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
    let l = shared.server_stats.latency();
    kv("avg_latency", java_double(l.avg()));
    kv("max_latency", l.max_ms.to_string());
    kv("min_latency", l.min().to_string());
    kv(
        "packets_received",
        shared.packets_received.load(rel).to_string(),
    );
    kv("packets_sent", shared.packets_sent.load(rel).to_string());
    kv("num_alive_connections", connections.to_string());
    kv("outstanding_requests", outstanding(infos).to_string());
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
