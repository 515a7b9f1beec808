//! What the peer task shares with the ports that read it: the [`NodeStatus`] it publishes after
//! every event, the open connections, the counters. The client port, the four-letter words,
//! `/metrics` and the AdminServer read these; only the peer task ([`super::runtime`]) writes
//! the status.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use zablab_core::message::PeerState;
use zablab_core::trace::ZabPhase;
use zablab_core::zxid::{Epoch, Sid, Zxid};

use crate::config::NodeConfig;
use crate::server::connections::{Connections, ServerStats};
use crate::server::metrics::ServerMetrics;
use crate::server::sessions::ClientEvent;

/// The version `srvr`, `stat`, `mntr` and the AdminServer report: ZooKeeper's release line
/// (clients and tools parse it) with ZabLab's own version after it.
pub const VERSION: &str = concat!(
    "3.8.4-zablab-",
    env!("CARGO_PKG_VERSION"),
    ", built on 1970-01-01 00:00 UTC"
);

/// What the four-letter words report, refreshed after every step.
#[derive(Clone, Debug)]
pub struct NodeStatus {
    pub state: PeerState,
    pub phase: ZabPhase,
    pub serving: bool,
    /// `readonlymode.enabled` and cut from the quorum: the read-only server runs (ZooKeeper's
    /// `ReadOnlyZooKeeperServer`), serving read-only clients; `serving` is false.
    pub read_only: bool,
    pub last_zxid: Zxid,
    pub accepted_epoch: Epoch,
    pub current_epoch: Epoch,
    pub leader: Option<Sid>,
    pub node_count: u64,
    pub watch_count: u64,
    pub ephemerals_count: u64,
    pub approximate_data_size: u64,
    /// Leader only: learners connected, followers/observers in broadcast, pending syncs.
    pub learners: usize,
    pub synced_followers: usize,
    pub synced_observers: usize,
    pub pending_syncs: usize,
    /// Leader only: followers in broadcast that are not voters of the current configuration.
    pub synced_non_voting_followers: usize,
    /// Sessions of the replicated session table (`zk_global_sessions`).
    pub global_sessions: u64,
    /// Leader only: when it started leading (ms since process start).
    pub leading_since_ms: Option<u64>,
    /// How this learner was synced (DIFF/TRUNC/SNAP), for `zk_peer_state`.
    pub sync_mode: Option<&'static str>,
}

impl Default for NodeStatus {
    fn default() -> Self {
        NodeStatus {
            state: PeerState::Looking,
            phase: ZabPhase::Election,
            serving: false,
            read_only: false,
            last_zxid: Zxid::ZERO,
            accepted_epoch: 0,
            current_epoch: 0,
            leader: None,
            node_count: 0,
            watch_count: 0,
            ephemerals_count: 0,
            approximate_data_size: 0,
            learners: 0,
            synced_followers: 0,
            synced_observers: 0,
            pending_syncs: 0,
            synced_non_voting_followers: 0,
            global_sessions: 0,
            leading_since_ms: None,
            sync_mode: None,
        }
    }
}

/// State shared between the peer task and the client port.
pub struct Shared {
    pub config: NodeConfig,
    pub status: Mutex<NodeStatus>,
    pub started: std::time::Instant,
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub fsyncs: Arc<AtomicU64>,
    /// Client connection tasks talk to the peer task through this.
    pub client_events: mpsc::UnboundedSender<ClientEvent>,
    /// Client connection ids.
    pub next_conn: AtomicU64,
    /// Client request latency (`srvr`, `mntr`; reset by `srst`).
    pub server_stats: ServerStats,
    /// ZooKeeper's trace mask (`gtmk`, `stmk`): kept and reported; ZabLab's log does not use it.
    pub trace_mask: AtomicU64,
    /// The open client connections and their statistics.
    pub connections: Arc<Connections>,
    /// ZooKeeper's `ServerMetrics` (`/metrics`, `mntr`, the AdminServer's `monitor`).
    pub metrics: ServerMetrics,
}

impl NodeStatus {
    /// Client requests are answered: read-write, or read-only (`readonlymode.enabled`). The
    /// four-letter words and AdminServer commands that need a running server need this.
    pub fn answers_clients(&self) -> bool {
        self.serving || self.read_only
    }
}

impl Shared {
    pub fn status(&self) -> NodeStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }
    pub fn uptime_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// ZooKeeper's `Mode:` (`srvr`, `mntr`'s `zk_server_state`, the AdminServer).
pub fn mode(cfg: &NodeConfig, s: &NodeStatus) -> &'static str {
    if cfg.is_standalone() {
        return "standalone";
    }
    if s.read_only {
        return "read-only";
    }
    match s.state {
        PeerState::Leading => "leader",
        PeerState::Following => "follower",
        PeerState::Observing => "observer",
        PeerState::Looking => "looking",
    }
}
