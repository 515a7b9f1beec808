//! ZooKeeper 3.8's metrics as it shows them, with ZooKeeper's names and types: the counters and
//! summaries of [`ServerMetrics`](super::metrics::ServerMetrics) and the gauges
//! `ZooKeeperServer`, `QuorumZooKeeperServer` and `LeaderZooKeeperServer` register. One
//! catalogue ([`catalogue`]) feeds the three places ZooKeeper shows them: `/metrics`
//! ([`super::prometheus`]), the AdminServer's `monitor` and the `mntr` word
//! ([`monitor_values`]), so the three never disagree.
//!
//! Every value is read from the server's own state or counted where the event happens. Two keys
//! of ZooKeeper's `mntr` are left out on purpose because ZabLab has nothing behind them:
//! `local_sessions` (no local sessions) and `connection_drop_probability` (no connection
//! throttle); printing a constant 0 would pretend.

use std::sync::atomic::{AtomicU64, Ordering};

use zablab_core::message::PeerState;

use crate::server::metrics::SummaryView;
use crate::server::shared::{NodeStatus, Shared};

const REL: Ordering = Ordering::Relaxed;

/// A metric's type, as Prometheus names it. `advanced` summaries report the 0.5, 0.9 and 0.99
/// quantiles, basic ones only the median (`PrometheusSummary` by `DetailLevel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Summary { advanced: bool },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Summary(SummaryView),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub value: Value,
}

fn count(a: &AtomicU64) -> Value {
    Value::Int(i64::try_from(a.load(REL)).unwrap_or(i64::MAX))
}

fn int<T: TryInto<i64>>(v: T) -> Value {
    Value::Int(v.try_into().unwrap_or(i64::MAX))
}

/// Every metric this server reports now, in a stable order.
pub fn catalogue(shared: &Shared) -> Vec<Metric> {
    let s = shared.status();
    catalogue_of(shared, &s)
}

fn catalogue_of(shared: &Shared, s: &NodeStatus) -> Vec<Metric> {
    let m = &shared.metrics;
    let cfg = &shared.config;
    let l = shared.server_stats.latency();
    let (last_resp, min_resp, max_resp) = shared.server_stats.response_sizes.get();
    let infos = shared.connections.infos();
    let outstanding: u64 = infos.iter().map(|i| i.queued).sum();
    let mut v = Vec::with_capacity(48);
    let mut push = |name, kind, value| v.push(Metric { name, kind, value });
    use Kind::{Counter, Gauge};
    // ZooKeeperServer.registerMetrics.
    push("avg_latency", Gauge, Value::Float(l.avg()));
    push("max_latency", Gauge, int(l.max_ms));
    push("min_latency", Gauge, int(l.min()));
    push("packets_received", Gauge, count(&shared.packets_received));
    push("packets_sent", Gauge, count(&shared.packets_sent));
    push(
        "num_alive_connections",
        Gauge,
        int(shared.connections.total()),
    );
    push("outstanding_requests", Gauge, int(outstanding));
    push("uptime", Gauge, int(shared.uptime_ms()));
    push("znode_count", Gauge, int(s.node_count));
    push("watch_count", Gauge, int(s.watch_count));
    push("ephemerals_count", Gauge, int(s.ephemerals_count));
    push("approximate_data_size", Gauge, int(s.approximate_data_size));
    push("global_sessions", Gauge, int(s.global_sessions));
    push("open_file_descriptor_count", Gauge, int(open_fds()));
    push("max_file_descriptor_count", Gauge, int(max_fds()));
    push("last_client_response_size", Gauge, Value::Int(last_resp));
    push("max_client_response_size", Gauge, Value::Int(max_resp));
    push("min_client_response_size", Gauge, Value::Int(min_resp));
    // QuorumZooKeeperServer.registerMetrics.
    if !cfg.is_standalone() {
        push(
            "quorum_size",
            Gauge,
            int(cfg.peer_config().ensemble.voter_count()),
        );
    }
    // LeaderZooKeeperServer.registerMetrics.
    if s.state == PeerState::Leading && !cfg.is_standalone() {
        let (last, min, max) = m.proposal_sizes.get();
        let since = s.leading_since_ms.unwrap_or(0);
        push("learners", Gauge, int(s.learners));
        push("synced_followers", Gauge, int(s.synced_followers));
        push(
            "synced_non_voting_followers",
            Gauge,
            int(s.synced_non_voting_followers),
        );
        push("synced_observers", Gauge, int(s.synced_observers));
        push("pending_syncs", Gauge, int(s.pending_syncs));
        push(
            "leader_uptime",
            Gauge,
            int(shared.uptime_ms().saturating_sub(since)),
        );
        push("last_proposal_size", Gauge, Value::Int(last));
        push("max_proposal_size", Gauge, Value::Int(max));
        push("min_proposal_size", Gauge, Value::Int(min));
    }
    // ServerMetrics.
    push("looking_count", Counter, count(&m.looking_count));
    push("diff_count", Counter, count(&m.diff_count));
    push("snap_count", Counter, count(&m.snap_count));
    push("trunc_count", Counter, count(&m.trunc_count));
    push("commit_count", Counter, count(&m.commit_count));
    push("proposal_count", Counter, count(&m.proposal_count));
    push(
        "learner_proposal_received_count",
        Counter,
        count(&m.learner_proposal_received_count),
    );
    push(
        "learner_commit_received_count",
        Counter,
        count(&m.learner_commit_received_count),
    );
    push(
        "connection_request_count",
        Counter,
        count(&m.connection_request_count),
    );
    let basic = Kind::Summary { advanced: false };
    let advanced = Kind::Summary { advanced: true };
    push(
        "election_time",
        basic,
        Value::Summary(m.election_time.view()),
    );
    push("fsynctime", basic, Value::Summary(m.fsynctime.view()));
    for (name, summary) in [
        ("follower_sync_time", &m.follower_sync_time),
        ("observer_sync_time", &m.observer_sync_time),
        ("unavailable_time", &m.unavailable_time),
        ("leader_unavailable_time", &m.leader_unavailable_time),
    ] {
        push(name, basic, Value::Summary(summary.view()));
    }
    push(
        "readlatency",
        advanced,
        Value::Summary(m.readlatency.view()),
    );
    push(
        "updatelatency",
        advanced,
        Value::Summary(m.updatelatency.view()),
    );
    push(
        "quorum_ack_latency",
        advanced,
        Value::Summary(m.quorum_ack_latency.view()),
    );
    v
}

/// One value of `mntr` / `monitor`.
#[derive(Clone, Debug, PartialEq)]
pub enum MonitorValue {
    Str(String),
    Int(i64),
    Float(f64),
}

/// What `mntr` prints (each key with `zk_` before it) and the AdminServer's `monitor` returns:
/// `ZooKeeperServer.dumpMonitorValues` (version, server_state, peer_state), ZabLab's epoch and
/// log figures, then every metric; a summary as `DefaultMetricsProvider` dumps it
/// (`avg_ min_ max_ cnt_ sum_`, and `p50_ p95_ p99_ p999_` for the advanced ones).
pub fn monitor_values(shared: &Shared) -> Vec<(String, MonitorValue)> {
    let s = shared.status();
    let cfg = &shared.config;
    let mut out: Vec<(String, MonitorValue)> = Vec::with_capacity(96);
    let mut put = |k: &str, v: MonitorValue| out.push((k.to_string(), v));
    put(
        "version",
        MonitorValue::Str(crate::server::shared::VERSION.into()),
    );
    put(
        "server_state",
        MonitorValue::Str(crate::server::shared::mode(cfg, &s).into()),
    );
    if !cfg.is_standalone() {
        put("peer_state", MonitorValue::Str(peer_state(&s)));
    }
    put(
        "last_zxid",
        MonitorValue::Str(format!("0x{:x}", s.last_zxid.0)),
    );
    put("current_epoch", MonitorValue::Int(s.current_epoch.into()));
    put("accepted_epoch", MonitorValue::Int(s.accepted_epoch.into()));
    put(
        "fsync_count",
        MonitorValue::Int(i64::try_from(shared.fsyncs.load(REL)).unwrap_or(i64::MAX)),
    );
    for metric in catalogue_of(shared, &s) {
        match metric.value {
            Value::Int(i) => put(metric.name, MonitorValue::Int(i)),
            Value::Float(f) => put(metric.name, MonitorValue::Float(f)),
            Value::Summary(view) => {
                let n = metric.name;
                let i = |x: u64| MonitorValue::Int(i64::try_from(x).unwrap_or(i64::MAX));
                put(&format!("avg_{n}"), MonitorValue::Float(view.avg()));
                put(&format!("min_{n}"), i(view.min));
                put(&format!("max_{n}"), i(view.max));
                put(&format!("cnt_{n}"), i(view.count));
                put(&format!("sum_{n}"), i(view.sum));
                if metric.kind == (Kind::Summary { advanced: true }) {
                    for (p, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)] {
                        put(&format!("{p}_{n}"), i(view.quantile(q).unwrap_or(0)));
                    }
                }
            }
        }
    }
    out
}

/// `zk_peer_state`: "following - broadcast", "leading - synchronization - diff", ...
pub fn peer_state(s: &NodeStatus) -> String {
    use zablab_core::trace::ZabPhase;
    let role = match s.state {
        PeerState::Leading => "leading",
        PeerState::Following => "following",
        PeerState::Observing => "observing",
        PeerState::Looking => "looking",
    };
    let phase = match s.phase {
        ZabPhase::Election => "election",
        ZabPhase::Discovery => "discovery",
        ZabPhase::Synchronization => "synchronization",
        ZabPhase::Broadcast => "broadcast",
    };
    match (s.phase, s.sync_mode) {
        (ZabPhase::Synchronization, Some(m)) => format!("{role} - {phase} - {}", m.to_lowercase()),
        _ => format!("{role} - {phase}"),
    }
}

/// Open file descriptors of this process (`OperatingSystemMXBean.getOpenFileDescriptorCount`).
pub fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

/// The soft limit on open files.
pub fn max_fds() -> u64 {
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
