//! The server process: one task owns the [`Peer`] and is fed by a channel of [`Event`]s from
//! the election port, the quorum port and the log writer; it executes the peer's outputs in
//! order (send, persist, disconnect, trace) and publishes a [`NodeStatus`] for the client port.
//! Protocol decisions are the core's; this file only moves bytes and time.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use zablab_core::message::{Message, Notification, PeerState};
use zablab_core::peer::{Input, Output, Peer};
use zablab_core::time::Instant;
use zablab_core::trace::{HostEvent, TraceEvent};
use zablab_core::zxid::Sid;

use crate::codec::machine::NodeMachine;
use crate::codec::wire::{self, NodeMessage};
use crate::config::NodeConfig;
use crate::server::election::{self, ElectionNet};
use crate::server::fault::{self, LinkFaults};
use crate::server::quorum::{self, QuorumConn, QuorumEvent};
use crate::server::sessions::{ClientEvent, ReadOnlyChange, Sessions};
use crate::server::shared::{NodeStatus, Shared};
use crate::server::storage::{self, Store, WriterCmd};
use crate::server::trace::TracePublisher;
use crate::tls::{self, QuorumTls};

mod membership;
mod observe;
mod shutdown;
mod status;
mod trace_records;

/// Everything the peer task reacts to.
pub enum Event<M: NodeMachine> {
    /// A notification from the election port.
    Notification(Notification),
    /// A learner connected, a packet arrived or a connection ended on the quorum port.
    Quorum(QuorumEvent<M>),
    /// The log writer made everything up to `id` durable.
    Persisted { id: u64 },
}

impl<M: NodeMachine> From<QuorumEvent<M>> for Event<M> {
    fn from(e: QuorumEvent<M>) -> Self {
        Event::Quorum(e)
    }
}

fn io_err(what: &str, e: io::Error) -> String {
    format!("{what}: {e}")
}

/// Options of `zablab server` beyond the config file.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// `--trace-addr`: publish the trace stream here.
    pub trace_addr: Option<String>,
    /// `--trace-wait MS`: before starting the peer, wait up to this long for a first trace
    /// client, so a viewer (or a test) sees everything from the start.
    pub trace_wait_ms: u64,
    /// `--fault-addr 127.0.0.1:PORT`: serve the test-only fault hook ([`crate::server::fault`]) there.
    pub fault_addr: Option<String>,
}

/// Runs a server until the process is killed, or until SIGTERM/SIGINT, which end it cleanly
/// ([`Host::shut_down`]) and return `Ok`.
pub async fn run_server<M: NodeMachine>(
    cfg: NodeConfig,
    opts: ServerOptions,
) -> Result<(), String> {
    let trace_addr = opts.trace_addr.clone();
    let myid = cfg.myid;
    let mut store = Store::<M>::open(&cfg.data_dir, &cfg.data_log_dir)
        .map_err(|e| io_err("cannot open data directories", e))?;
    let (durable, report) = store.recover().map_err(|e| io_err("recovery failed", e))?;
    for l in &report.lines {
        eprintln!("zablab[{myid}]: {l}");
    }
    eprintln!(
        "zablab[{myid}]: recovered acceptedEpoch={} currentEpoch={} lastLoggedZxid=0x{:x} ({} log entries after the snapshot)",
        durable.accepted_epoch,
        durable.current_epoch,
        durable.last_logged_zxid().0,
        durable.log.len()
    );
    // Watched from the start, so a SIGTERM during start-up is not the default (abrupt) exit.
    let stop = shutdown::stop_signals().map_err(|e| io_err("cannot watch SIGTERM", e))?;
    let (client_tx, client_rx) = mpsc::unbounded_channel::<ClientEvent>();
    let shared = Arc::new(Shared {
        client_events: client_tx,
        next_conn: AtomicU64::new(1),
        server_stats: Default::default(),
        trace_mask: AtomicU64::new(crate::server::fourlw::DEFAULT_TRACE_MASK),
        config: cfg.clone(),
        status: Mutex::new(NodeStatus::default()),
        started: std::time::Instant::now(),
        packets_received: AtomicU64::new(0),
        packets_sent: AtomicU64::new(0),
        fsyncs: store.fsyncs.clone(),
        connections: Arc::default(),
        metrics: crate::server::metrics::ServerMetrics {
            fsynctime: store.fsync_time.clone(),
            fsync_threshold_exceed_count: store.fsync_threshold_exceed_count.clone(),
            ..Default::default()
        },
    });
    let (events_tx, events_rx) = mpsc::unbounded_channel::<Event<M>>();
    let done_tx = events_tx.clone();
    let writer = storage::spawn_writer(
        store,
        move |id| {
            let _ = done_tx.send(Event::Persisted { id });
        },
        move |e| {
            eprintln!("zablab[{myid}]: FATAL: cannot write to disk: {e}; exiting");
            std::process::exit(1);
        },
    )
    .map_err(|e| io_err("cannot start the log writer", e))?;

    // TLS stores are read before anything listens: a bad store stops the start-up.
    let client_tls = if cfg.secure_client_port != 0 {
        Some(tls::client_acceptor(&cfg.ssl)?)
    } else {
        None
    };
    let quorum_tls = if cfg.ssl_quorum && !cfg.is_standalone() {
        Some(QuorumTls::new(&cfg.ssl_quorum_settings)?)
    } else {
        None
    };

    // Client ports first: the four-letter words answer while the rest starts.
    let conns = shared.connections.clone();
    let mut client_addrs = Vec::new();
    if cfg.client_port != 0 {
        let client_addr = format!("{}:{}", cfg.client_port_address, cfg.client_port);
        let client_listener = TcpListener::bind(&client_addr)
            .await
            .map_err(|e| io_err(&format!("cannot bind client port {client_addr}"), e))?;
        crate::server::client::spawn(client_listener, shared.clone(), conns.clone(), None);
        client_addrs.push(client_addr);
    }
    if let Some(acceptor) = client_tls {
        let addr = format!(
            "{}:{}",
            cfg.secure_client_port_address, cfg.secure_client_port
        );
        let l = TcpListener::bind(&addr)
            .await
            .map_err(|e| io_err(&format!("cannot bind secure client port {addr}"), e))?;
        crate::server::client::spawn(l, shared.clone(), conns.clone(), Some(acceptor));
        client_addrs.push(format!("{addr} (TLS)"));
    }
    if let Some((host, port)) = &cfg.metrics_addr {
        let a = format!("{host}:{port}");
        let l = TcpListener::bind(&a)
            .await
            .map_err(|e| io_err(&format!("cannot bind metricsProvider.httpPort {a}"), e))?;
        crate::server::prometheus::spawn(l, shared.clone());
        eprintln!("zablab[{myid}]: Prometheus metrics on http://{a}/metrics");
    }
    if cfg.admin.enabled {
        let a = format!("{}:{}", cfg.admin.address, cfg.admin.port);
        let l = TcpListener::bind(&a)
            .await
            .map_err(|e| io_err(&format!("cannot bind admin.serverPort {a}"), e))?;
        crate::server::admin::spawn(l, shared.clone());
        eprintln!(
            "zablab[{myid}]: AdminServer on http://{a}{}",
            cfg.admin.command_url
        );
    }

    let trace = match &trace_addr {
        Some(a) => {
            let l = TcpListener::bind(a)
                .await
                .map_err(|e| io_err(&format!("cannot bind trace address {a}"), e))?;
            eprintln!("zablab[{myid}]: trace stream on {a}");
            let t = TracePublisher::serve(l, myid);
            let until = tokio::time::Instant::now() + Duration::from_millis(opts.trace_wait_ms);
            while !t.is_active() && tokio::time::Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Some(t)
        }
        None => None,
    };

    let faults = match &opts.fault_addr {
        Some(a) => {
            let hook = fault::serve(a).await.map_err(|e| e.to_string())?;
            eprintln!("zablab[{myid}]: fault hook (test only) on {a}");
            Some(LinkFaults::new(hook))
        }
        None => None,
    };

    let mut election_net = None;
    if let Some(me) = cfg.me() {
        let el = election::bind(&me.election_addr()).await.map_err(|e| {
            io_err(
                &format!("cannot bind election port {}", me.election_addr()),
                e,
            )
        })?;
        let ql = TcpListener::bind(&me.quorum_addr())
            .await
            .map_err(|e| io_err(&format!("cannot bind quorum port {}", me.quorum_addr()), e))?;
        let peers = cfg
            .servers
            .values()
            .map(|s| (s.sid, s.election_addr()))
            .collect();
        let tx = events_tx.clone();
        election_net = Some(
            election::start(
                myid,
                me.election_addr(),
                el,
                peers,
                quorum_tls.clone(),
                Arc::new(move |n| {
                    let _ = tx.send(Event::Notification(n));
                }),
            )
            .await,
        );
        let first_timeout = Duration::from_millis(cfg.tick_time_ms * cfg.init_limit as u64);
        quorum::spawn_listener::<M, _>(
            ql,
            events_tx.clone(),
            cfg.jute_max_buffer * 2,
            first_timeout,
            quorum_tls.clone(),
        );
    }
    if cfg.purge_interval_hours > 0 {
        let w = writer.clone();
        let retain = cfg.snap_retain_count as usize;
        let every = Duration::from_secs(3600 * cfg.purge_interval_hours as u64);
        // As ZooKeeper's DatadirCleanupManager: the first purge at start, then every interval.
        std::thread::spawn(move || loop {
            if w.send(WriterCmd::Purge { retain }).is_err() {
                return;
            }
            std::thread::sleep(every);
        });
    }
    eprintln!(
        "zablab[{myid}]: serving four-letter words on {}; {}{}",
        client_addrs.join(", "),
        if cfg.is_standalone() {
            "standalone".to_string()
        } else {
            format!("ensemble of {}", cfg.servers.len())
        },
        if quorum_tls.is_some() {
            " (sslQuorum)"
        } else {
            ""
        }
    );
    let mut host = Host::<M> {
        peer: Peer::recover(cfg.peer_config(), durable),
        shared,
        election: election_net,
        writer,
        conns: HashMap::new(),
        events_tx,
        trace,
        traced_sends: 0,
        membership: cfg.membership_text(),
        clock: tokio::time::Instant::now(),
        wall_start_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        out: Vec::new(),
        sessions: Sessions::new(
            cfg.jute_max_buffer,
            zablab_core::tree::AuthConfig {
                super_digest: cfg.super_digest.clone(),
                skip_acl: false,
            },
            cfg.read_only_mode,
            cfg.is_standalone(),
        ),
        walk_stats_due_ms: 0,
        faults,
        timings: Default::default(),
        quorum_tls,
    };
    host.install_membership();
    let mut client_rx = client_rx;
    if let Some(signal) = host.run(events_rx, &mut client_rx, stop).await {
        host.shut_down(signal, &mut client_rx).await;
    }
    Ok(())
}

struct Host<M: NodeMachine> {
    peer: Peer<M>,
    shared: Arc<Shared>,
    election: Option<ElectionNet>,
    writer: std_mpsc::Sender<WriterCmd<M>>,
    /// Quorum connections by peer sid (learners on a leader; the leader on a learner).
    conns: HashMap<Sid, QuorumConn>,
    events_tx: mpsc::UnboundedSender<Event<M>>,
    trace: Option<TracePublisher>,
    /// The number of this server's last traced send (a trace's `msg_id`).
    traced_sends: u64,
    membership: String,
    clock: tokio::time::Instant,
    /// The wall clock when `clock` started: the core's time is wall-clock milliseconds
    /// advanced by a monotonic clock, so ctime/mtime are real dates and time never goes back.
    wall_start_ms: u64,
    out: Vec<Output<M>>,
    sessions: Sessions<M>,
    /// When the tree-walking statistics of [`NodeStatus`] are next refreshed.
    walk_stats_due_ms: u64,
    /// The fault hook's cuts, when `--fault-addr` is given; `None` costs one branch per message.
    faults: Option<LinkFaults<QuorumConn>>,
    /// Start times behind `election_time` and `quorum_ack_latency`.
    timings: observe::Timings,
    /// `sslQuorum`: TLS for the quorum connections this server dials.
    quorum_tls: Option<QuorumTls>,
}

impl<M: NodeMachine> Host<M> {
    fn now(&self) -> Instant {
        Instant(self.wall_start_ms + self.clock.elapsed().as_millis() as u64)
    }

    fn step(&mut self, input: Input<M>) {
        self.trace_input(&input);
        let now = self.now();
        let mut out = std::mem::take(&mut self.out);
        self.peer.step(now, input, &mut out);
        // Published before the replies go out: a client that has its answer and asks `srvr`
        // at once sees at least the zxid it was answered at (the connection tasks run beside
        // this one, so the publish at the end of the event would come too late for it).
        if out
            .iter()
            .any(|o| matches!(o, Output::Reply { .. } | Output::SyncDone { .. }))
        {
            self.publish_status();
        }
        // Watch events fired by applied transactions go out in zxid order with the replies:
        // an event of transaction z before the reply to any write after z.
        let mut fired = self.sessions.take_fired(&mut self.peer);
        for o in out.drain(..) {
            if let Output::Reply { zxid, .. } = &o {
                let due = fired.until(*zxid);
                self.sessions.dispatch_events(due);
            }
            self.execute(o);
        }
        self.sessions.dispatch_events(fired.rest());
        self.out = out;
        self.sessions.after_step(&mut self.peer);
        self.read_only_step();
    }

    fn handle_client(&mut self, ev: ClientEvent) {
        let now = self.now();
        let inputs = self.sessions.on_event(ev, &mut self.peer, now);
        for input in inputs {
            self.step(input);
        }
        // Local operations (setWatches) may fire events without a peer step.
        let events = self.sessions.take_fired(&mut self.peer).rest();
        self.sessions.dispatch_events(events);
    }

    /// The event loop; returns the stop signal's name, or `None` if every event source ended.
    async fn run(
        &mut self,
        mut rx: mpsc::UnboundedReceiver<Event<M>>,
        client_rx: &mut mpsc::UnboundedReceiver<ClientEvent>,
        stop: impl std::future::Future<Output = &'static str>,
    ) -> Option<&'static str> {
        self.observe_start();
        // The recovered state first: a reader that waited for the start (`--trace-wait`)
        // then reads the whole run after its picture.
        self.trace_status(true);
        self.trace(|| HostEvent::Started);
        self.step(Input::Start);
        self.publish_status();
        let mut last_tick = Instant(0);
        let status_wanted = self.trace.as_ref().map(TracePublisher::status_wanted);
        tokio::pin!(stop);
        loop {
            let deadline = self.peer.next_deadline().map(|d| {
                // Never spin: at least 1 ms after the last tick.
                let at = d.0.max(last_tick.0 + 1);
                self.clock + Duration::from_millis(at.saturating_sub(self.wall_start_ms))
            });
            // The end of the read-only grace period, when it comes before the peer's deadline.
            let read_only_at = self
                .sessions
                .read_only_deadline(&self.peer)
                .map(|d| {
                    let at = d.0.max(self.now().0 + 1);
                    self.clock + Duration::from_millis(at.saturating_sub(self.wall_start_ms))
                })
                .filter(|ro| deadline.is_none_or(|d| *ro < d));
            tokio::select! {
                signal = &mut stop => return Some(signal),
                ev = rx.recv() => match ev {
                    Some(ev) => self.handle(ev),
                    None => return None,
                },
                Some(ev) = client_rx.recv() => self.handle_client(ev),
                _ = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending::<()>().await,
                    }
                } => {
                    last_tick = self.now();
                    self.step(Input::Tick);
                }
                _ = async {
                    match read_only_at {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending::<()>().await,
                    }
                } => self.read_only_step(),
                _ = async {
                    match &status_wanted {
                        Some(n) => n.notified().await,
                        None => std::future::pending::<()>().await,
                    }
                } => self.trace_status(true),
            }
            self.trace_status(false);
            self.publish_status();
        }
    }

    fn handle(&mut self, ev: Event<M>) {
        match ev {
            Event::Notification(n) => {
                if let Some(f) = &self.faults {
                    if f.drops_notification_from(n.sender) {
                        self.trace_drop_on_receipt(n.sender, "NOTIFICATION");
                        return;
                    }
                }
                self.trace_receive(n.sender, &Message::Notification(n));
                self.step(Input::Receive {
                    from: n.sender,
                    msg: Message::Notification(n),
                });
            }
            Event::Quorum(QuorumEvent::Accepted { sid, conn, msg }) => {
                if self.peer.state() != PeerState::Leading
                    || !self.peer.config().ensemble.is_member(sid)
                {
                    // The peer would refuse it (`Peer::on_message` disconnects a learner at a
                    // non-leader); close it before it replaces our current connection with
                    // `sid` (core/src/peer/host_contract.md). The learner retries.
                    drop(conn);
                    return;
                }
                if let Some(f) = &mut self.faults {
                    if f.drops_packet_from(sid, conn.id) {
                        f.hold(sid, conn);
                        self.trace_drop_on_receipt(sid, msg.kind());
                        return;
                    }
                }
                self.conns.insert(sid, conn);
                self.receive(sid, msg);
            }
            Event::Quorum(QuorumEvent::Packet { sid, conn_id, msg }) => {
                if self.conns.get(&sid).map(|c| c.id) == Some(conn_id) {
                    if let Some(f) = &mut self.faults {
                        if f.drops_packet_from(sid, conn_id) {
                            self.trace_drop_on_receipt(sid, msg.kind());
                            return;
                        }
                    }
                    self.receive(sid, msg);
                }
            }
            Event::Quorum(QuorumEvent::Closed { sid, conn_id, why }) => {
                if self.conns.get(&sid).map(|c| c.id) == Some(conn_id) {
                    self.conns.remove(&sid);
                    eprintln!(
                        "zablab[{}]: quorum connection to {sid} lost: {why}",
                        self.peer.id()
                    );
                    self.step(Input::PeerDisconnected { peer: sid });
                }
            }
            Event::Persisted { id } => self.step(Input::Persisted { id }),
        }
    }

    fn receive(&mut self, from: Sid, msg: NodeMessage<M>) {
        self.shared.packets_received.fetch_add(1, Ordering::Relaxed);
        self.observe_received(&msg);
        self.trace_receive(from, &msg);
        self.step(Input::Receive { from, msg });
    }

    fn execute(&mut self, o: Output<M>) {
        let myid = self.peer.id();
        match o {
            Output::Send { to, msg } => {
                self.traced_sends += 1;
                let msg_id = self.traced_sends;
                let kind = msg.kind();
                self.trace(|| HostEvent::Send {
                    to,
                    msg_id,
                    kind: Cow::Borrowed(kind),
                    arrives: None,
                    zxid: msg.zxid(),
                });
                self.shared.packets_sent.fetch_add(1, Ordering::Relaxed);
                if let Message::Config { .. } = &msg {
                    // The core's CONFIG is the member list ZooKeeper sends inside each
                    // notification; this node's notifications carry its members already
                    // (`encode_notification`), and it never switches reconfig on, so its
                    // peer emits none.
                    return;
                }
                if let Message::Notification(n) = &msg {
                    if self
                        .faults
                        .as_ref()
                        .is_some_and(|f| f.drops_notification_to(to))
                    {
                        self.trace_drop_on_send(to, msg_id, kind, "cut");
                        return;
                    }
                    if let Some(net) = &self.election {
                        net.send(to, wire::encode_notification(n, &self.membership));
                    }
                    return;
                }
                let mut bytes = Vec::new();
                wire::encode_quorum::<M>(&msg, myid, &self.membership, &mut bytes);
                if matches!(msg, Message::Proposal(_)) {
                    self.shared.metrics.proposal_sizes.record(bytes.len());
                }
                match &msg {
                    Message::FollowerInfo { .. } | Message::ObserverInfo { .. } => {
                        let Some(addr) =
                            self.shared.config.servers.get(&to).map(|s| s.quorum_addr())
                        else {
                            self.trace_drop_on_send(to, msg_id, kind, "no address");
                            return;
                        };
                        if self.faults.as_ref().is_some_and(|f| f.drops_dial_to(to)) {
                            // As a SYN dropped by a firewall: no connection; initLimit acts.
                            self.conns.remove(&to);
                            self.trace_drop_on_send(to, msg_id, kind, "cut");
                            return;
                        }
                        let conn = quorum::dial::<M, _>(
                            to,
                            addr,
                            bytes,
                            self.events_tx.clone(),
                            self.shared.config.jute_max_buffer * 2,
                            self.quorum_tls.clone(),
                        );
                        self.conns.insert(to, conn);
                    }
                    _ => match self.conns.get(&to) {
                        Some(c) => {
                            if let Some(f) = &mut self.faults {
                                if f.drops_packet_to(to, c.id) {
                                    self.trace_drop_on_send(to, msg_id, kind, "cut");
                                    return;
                                }
                                let conns = &self.conns;
                                f.forget_gone(|id| conns.values().any(|c| c.id == id));
                            }
                            c.send(bytes);
                        }
                        None => self.trace_drop_on_send(to, msg_id, kind, "connection closed"),
                    },
                }
            }
            Output::Persist { id, op } => {
                self.trace(|| HostEvent::Persist {
                    id,
                    op: Cow::Borrowed(op.kind()),
                });
                if self.writer.send(WriterCmd::Persist { id, op }).is_err() {
                    eprintln!("zablab[{myid}]: FATAL: the log writer is gone; exiting");
                    std::process::exit(1);
                }
            }
            Output::Disconnect { peer } => {
                self.conns.remove(&peer);
            }
            Output::Reply { .. }
            | Output::SyncDone { .. }
            | Output::RequestFailed { .. }
            | Output::ReconfigFailed { .. } => {
                self.trace_reply(&o);
                self.sessions.on_output(&mut self.peer, &o);
            }
            Output::Trace(ev) => {
                self.log_event(&ev);
                self.observe(&ev);
                if let TraceEvent::ConfigActivated { version, .. } = &ev {
                    self.on_config_activated(*version);
                }
                self.trace(|| HostEvent::Peer(ev));
            }
        }
    }

    fn log_event(&mut self, ev: &TraceEvent) {
        let myid = self.peer.id();
        match ev {
            TraceEvent::StateChanged { from, to } => {
                eprintln!("zablab[{myid}]: {} -> {}", from.name(), to.name());
                if let Ok(mut s) = self.shared.status.lock() {
                    s.leading_since_ms =
                        (*to == PeerState::Leading).then(|| self.shared.uptime_ms());
                    s.sync_mode = None;
                }
            }
            TraceEvent::ElectionDone {
                leader, logicclock, ..
            } => {
                eprintln!("zablab[{myid}]: election round {logicclock} done: leader is {leader}")
            }
            TraceEvent::GaveUp { reason } => eprintln!("zablab[{myid}]: left the role: {reason:?}"),
            TraceEvent::PhaseChanged { phase } => {
                eprintln!("zablab[{myid}]: phase {}", phase.name())
            }
            TraceEvent::SyncChosen {
                learner,
                mode,
                reason,
                ..
            } => {
                eprintln!(
                    "zablab[{myid}]: syncing learner {learner} with {} ({})",
                    mode.name(),
                    reason.describe()
                )
            }
            TraceEvent::StateReset { reason, zxid, .. } => {
                eprintln!("zablab[{myid}]: state reset ({reason:?}) at 0x{:x}", zxid.0)
            }
            _ => {}
        }
    }
}
