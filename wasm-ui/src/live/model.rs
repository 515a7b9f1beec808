//! The live lab's picture of a real cluster, built only from the servers' trace streams (the
//! one trace format, docs/trace-format.md) and the lab process's `/api/cluster` answer: no
//! browser type here, so the same code folds a live stream and a saved session, and the tests
//! run natively.
//!
//! Each stream starts with a `Status` (the server's whole state as the reader joins), and later
//! records move that picture on between statuses: a state or phase change, an election's
//! result, a delivered transaction. Messages are paired as the format says for a real server
//! (a `Deliver` has no `msg_id`): with the oldest unpaired `Send` of that kind on that link,
//! since each quorum connection is one ordered TCP stream.

use std::collections::{BTreeMap, VecDeque};

use zablab_core::trace::{HostEvent, PeerStatus, TraceEvent, TraceRecord};
use zablab_core::{Sid, Zxid};

/// How long (record ms) a message is drawn crossing its lane. Real loopback messages arrive
/// in well under a millisecond; stretched, a student sees each one leave and arrive.
pub const MESSAGE_SHOW_MS: u64 = 900;
/// Messages kept for drawing (the newest); older ones are long past their lane.
pub const MAX_MESSAGES: usize = 4_096;
/// Unpaired sends kept per link and kind (a reader that joined late or skipped never sees some
/// deliveries; the oldest are forgotten first).
pub const MAX_UNPAIRED: usize = 1_024;
/// Timeline entries kept.
pub const MAX_EVENTS: usize = 500;
/// Records a live session keeps for saving and replay; past it the recording stops (and says
/// so) while the live picture goes on.
pub const MAX_RECORDED: usize = 200_000;

/// One real server as the page knows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveServer {
    pub sid: Sid,
    /// Its `--trace-addr` (host:port).
    pub trace: String,
    /// Its client address, from `/api/cluster`.
    pub client: String,
    /// The trace stream is open.
    pub connected: bool,
    /// The lab process says the process runs (None: no control API).
    pub running: Option<bool>,
    pub pid: Option<u32>,
    /// The newest `Status`, moved on by the records after it.
    pub status: Option<PeerStatus>,
    /// Records read from its stream, and how many it said it skipped.
    pub records: u64,
    pub skipped: u64,
    /// The newest record time of its stream.
    pub last_time: u64,
    /// A `Status` came since the stream opened (the first one of each stream is on the timeline).
    pub joined: bool,
}

impl LiveServer {
    /// The state the diagram shows: `DOWN` when its stream is closed or it has not said yet.
    pub fn state_name(&self) -> &'static str {
        match (&self.status, self.connected) {
            (Some(s), true) => s.state.name(),
            _ => "DOWN",
        }
    }
}

/// One message between two servers, from its `Send` (or a `Drop` on sending) to its `Deliver`.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveMessage {
    pub from: Sid,
    pub to: Sid,
    pub kind: String,
    pub zxid: Option<Zxid>,
    pub sent: u64,
    pub delivered: Option<u64>,
    /// Lost, and why (`cut`, `connection closed`, …).
    pub dropped: Option<String>,
}

/// What the timeline marks an entry with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    Election,
    Sync,
    Write,
    Fault,
    Life,
}

impl Marker {
    pub fn class(self) -> &'static str {
        match self {
            Marker::Election => "m-election",
            Marker::Sync => "m-sync",
            Marker::Write => "m-write",
            Marker::Fault => "m-fault",
            Marker::Life => "m-life",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LiveEvent {
    pub time: u64,
    pub node: Sid,
    pub marker: Marker,
    pub text: String,
    /// Consecutive writes done at one server are one entry (a benchmark is thousands).
    pub count: u64,
}

/// The whole live picture.
#[derive(Clone, Debug, Default)]
pub struct LiveModel {
    pub servers: BTreeMap<Sid, LiveServer>,
    /// Cut directions (from, to), from `/api/cluster`.
    pub cuts: Vec<(Sid, Sid)>,
    messages: VecDeque<LiveMessage>,
    /// Sequence number of `messages[0]`.
    first_seq: u64,
    unpaired: BTreeMap<(Sid, Sid, String), VecDeque<u64>>,
    pub events: VecDeque<LiveEvent>,
    /// The newest record time seen (the servers share this machine's clock).
    pub latest: u64,
    /// The first record time (the timeline counts from it).
    pub first: Option<u64>,
    /// The session's records in arrival order (for saving and replay), bounded.
    pub recorded: Vec<TraceRecord>,
    /// Records not recorded because the recording was full.
    pub unrecorded: u64,
    /// Keep a recording (a replayed model does not record itself again).
    pub recording: bool,
}

impl LiveModel {
    pub fn new(recording: bool) -> LiveModel {
        LiveModel {
            recording,
            ..LiveModel::default()
        }
    }

    /// Adds or updates a server the control API (or `?live=`) named.
    pub fn know(&mut self, sid: Sid, trace: &str, client: &str) -> &mut LiveServer {
        let s = self.servers.entry(sid).or_insert_with(|| LiveServer {
            sid,
            ..LiveServer::default()
        });
        if !trace.is_empty() {
            s.trace = trace.to_string();
        }
        if !client.is_empty() {
            s.client = client.to_string();
        }
        s
    }

    /// The stream of `sid` opened (its header was readable).
    pub fn connected(&mut self, sid: Sid) {
        self.know(sid, "", "").connected = true;
    }

    /// The stream of `sid` closed: its process died or was killed. Messages it would still
    /// have delivered or answered never will; it is drawn DOWN.
    pub fn disconnected(&mut self, sid: Sid, time: u64) {
        let s = self.know(sid, "", "");
        let was = std::mem::replace(&mut s.connected, false);
        s.joined = false;
        self.unpaired
            .retain(|(from, to, _), _| *from != sid && *to != sid);
        if was {
            self.event(
                time,
                sid,
                Marker::Life,
                "trace stream closed (process down)".into(),
            );
        }
    }

    /// Folds one record of `record.node`'s stream into the picture.
    pub fn apply(&mut self, r: TraceRecord) {
        let (time, node) = (r.time.0, r.node);
        self.latest = self.latest.max(time);
        self.first.get_or_insert(time);
        if self.recording {
            if self.recorded.len() < MAX_RECORDED {
                self.recorded.push(r.clone());
            } else {
                self.unrecorded += 1;
            }
        }
        let server = self.know(node, "", "");
        server.records += 1;
        server.last_time = server.last_time.max(time);
        match r.event {
            HostEvent::Status(s) => {
                let first = !std::mem::replace(&mut server.joined, true);
                let what = format!(
                    "status: {} · {} · logged {}",
                    s.state.name(),
                    s.phase.name(),
                    s.last_logged_zxid
                );
                server.status = Some(*s);
                if first {
                    self.event(time, node, Marker::Life, what);
                }
            }
            HostEvent::Skipped { records } => {
                server.skipped += records;
                self.unpaired
                    .retain(|(from, to, _), _| *from != node && *to != node);
                self.event(
                    time,
                    node,
                    Marker::Fault,
                    format!("the page fell behind: {records} records skipped"),
                );
            }
            HostEvent::Send { to, kind, zxid, .. } => {
                let seq = self.push_message(LiveMessage {
                    from: node,
                    to,
                    kind: kind.to_string(),
                    zxid,
                    sent: time,
                    delivered: None,
                    dropped: None,
                });
                let q = self
                    .unpaired
                    .entry((node, to, kind.to_string()))
                    .or_default();
                if q.len() >= MAX_UNPAIRED {
                    q.pop_front();
                }
                q.push_back(seq);
            }
            HostEvent::Deliver { from, kind, .. } => {
                if let Some(m) = self.pair(from, node, &kind) {
                    m.delivered = Some(time);
                }
            }
            HostEvent::Drop {
                from,
                to,
                kind,
                reason,
                ..
            } => {
                // Lost on receipt (the fault hook at the receiver): its send is on record.
                let paired = if to == node && from != node {
                    self.pair(from, to, &kind)
                } else {
                    None
                };
                match paired {
                    Some(m) => m.dropped = Some(reason.to_string()),
                    None => {
                        self.push_message(LiveMessage {
                            from,
                            to,
                            kind: kind.to_string(),
                            zxid: None,
                            sent: time,
                            delivered: None,
                            dropped: Some(reason.to_string()),
                        });
                    }
                }
            }
            HostEvent::Peer(e) => self.peer_event(time, node, e),
            HostEvent::Started => self.event(time, node, Marker::Life, "started".into()),
            HostEvent::Disconnected { peer } => self.event(
                time,
                node,
                Marker::Fault,
                format!("quorum connection with S{peer} closed"),
            ),
            HostEvent::ClientReply { zxid, .. } if zxid.0 != 0 => self.event(
                time,
                node,
                Marker::Write,
                format!("client write done at {zxid}"),
            ),
            _ => {}
        }
    }

    fn peer_event(&mut self, time: u64, node: Sid, e: TraceEvent) {
        let status = self.servers.get_mut(&node).and_then(|s| s.status.as_mut());
        if let Some(s) = status {
            match &e {
                TraceEvent::StateChanged { to, .. } => s.state = *to,
                TraceEvent::PhaseChanged { phase } => s.phase = *phase,
                TraceEvent::ElectionDone { leader, .. } => s.leader = Some(*leader),
                TraceEvent::ElectionRound { logicclock, vote } => {
                    s.logicclock = *logicclock;
                    s.vote = *vote;
                    s.leader = None;
                    s.votes.clear();
                }
                TraceEvent::Proposed { zxid } => s.last_logged_zxid = s.last_logged_zxid.max(*zxid),
                TraceEvent::Delivered { zxid, .. } => {
                    s.last_processed_zxid = s.last_processed_zxid.max(*zxid);
                    for entry in s.log.iter_mut().filter(|l| l.zxid <= *zxid) {
                        entry.applied = true;
                    }
                }
                TraceEvent::NewEpochAccepted { epoch }
                | TraceEvent::LeaderEstablished { epoch } => s.current_epoch = *epoch,
                TraceEvent::EpochProposed { epoch } => s.accepted_epoch = *epoch,
                _ => {}
            }
        }
        let (marker, text) = match e {
            TraceEvent::StateChanged { from, to } => {
                (Marker::Election, format!("{} → {}", from.name(), to.name()))
            }
            TraceEvent::ElectionDone {
                leader, logicclock, ..
            } => (
                Marker::Election,
                format!("election round {logicclock} done: leader S{leader}"),
            ),
            TraceEvent::LeaderEstablished { epoch } => (
                Marker::Election,
                format!("a quorum ACKed NEWLEADER: leading epoch {epoch}"),
            ),
            TraceEvent::SyncChosen {
                learner,
                mode,
                reason,
                peer_last_zxid,
                target,
                ..
            } => (
                Marker::Sync,
                format!(
                    "{} S{learner} (its last zxid {peer_last_zxid}, to {target}): {}",
                    mode.name(),
                    reason.describe()
                ),
            ),
            TraceEvent::GaveUp { reason } => (Marker::Fault, format!("gave up: {reason:?}")),
            TraceEvent::StateReset { zxid, reason, .. } => {
                (Marker::Sync, format!("state reset to {zxid}: {reason:?}"))
            }
            _ => return,
        };
        self.event(time, node, marker, text);
    }

    fn event(&mut self, time: u64, node: Sid, marker: Marker, text: String) {
        if let Some(last) = self.events.back_mut() {
            if marker == Marker::Write && last.marker == Marker::Write && last.node == node {
                last.count += 1;
                last.time = time;
                last.text = text;
                return;
            }
        }
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(LiveEvent {
            time,
            node,
            marker,
            text,
            count: 1,
        });
    }

    fn push_message(&mut self, m: LiveMessage) -> u64 {
        if self.messages.len() >= MAX_MESSAGES {
            self.messages.pop_front();
            self.first_seq += 1;
        }
        self.messages.push_back(m);
        self.first_seq + self.messages.len() as u64 - 1
    }

    /// The oldest unpaired send of `kind` from `from` to `to`, if still kept.
    fn pair(&mut self, from: Sid, to: Sid, kind: &str) -> Option<&mut LiveMessage> {
        let seq = self
            .unpaired
            .get_mut(&(from, to, kind.to_string()))?
            .pop_front()?;
        let i = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.messages.get_mut(i)
    }

    /// The messages to draw at record time `t`: each while it crosses its lane (sent within
    /// [`MESSAGE_SHOW_MS`] before `t`), with how far along it is.
    pub fn in_flight(&self, t: u64) -> Vec<(&LiveMessage, f64)> {
        // Not sorted by time: each stream's records arrive in order, the streams out of step.
        let since = t.saturating_sub(MESSAGE_SHOW_MS);
        self.messages
            .iter()
            .rev()
            .filter(|m| m.sent >= since && m.sent <= t)
            .map(|m| (m, (t - m.sent) as f64 / MESSAGE_SHOW_MS as f64))
            .collect()
    }

    /// Every message kept, oldest first (the same-decisions test and the message list).
    pub fn messages(&self) -> impl Iterator<Item = &LiveMessage> {
        self.messages.iter()
    }

    /// The time every open stream has reached (the slowest one's newest record): drawn at it,
    /// the picture has every server's records up to then, even when one stream lags.
    pub fn settled(&self) -> u64 {
        self.servers
            .values()
            .filter(|s| s.connected && s.records > 0)
            .map(|s| s.last_time)
            .min()
            .unwrap_or(self.latest)
    }

    /// The servers with state LEADING now.
    pub fn leaders(&self) -> Vec<Sid> {
        self.servers
            .values()
            .filter(|s| s.state_name() == "LEADING")
            .map(|s| s.sid)
            .collect()
    }

    /// A model of the same servers that has folded `records` (a saved session up to a moment).
    pub fn replayed(&self, records: &[TraceRecord]) -> LiveModel {
        let mut m = LiveModel::new(false);
        for s in self.servers.values() {
            m.know(s.sid, &s.trace, &s.client);
        }
        for r in records {
            m.connected(r.node);
            m.apply(r.clone());
        }
        m
    }
}

/// A saved session as a file in the one trace format: the cluster header (`node` null: every
/// record names its server) and one record per line.
pub fn session_file(records: &[TraceRecord]) -> String {
    let header = zablab_core::trace::TraceHeader::new(None);
    let mut out = serde_json::to_string(&header).unwrap_or_default();
    out.push('\n');
    for r in records {
        if let Ok(line) = serde_json::to_string(r) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// Reads a session file back, or says why not (an unknown header, a line that is not a
/// record). At most [`MAX_RECORDED`] records.
pub fn read_session(text: &str) -> Result<Vec<TraceRecord>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().ok_or("the file is empty")?;
    let header: zablab_core::trace::TraceHeader =
        serde_json::from_str(first).map_err(|e| format!("not a ZabLab trace header: {e}"))?;
    if !header.is_readable() {
        return Err(format!(
            "trace format {} version {}: this page reads version {}",
            header.format,
            header.version,
            zablab_core::trace::TRACE_FORMAT_VERSION
        ));
    }
    let mut records = Vec::new();
    for (i, line) in lines.enumerate() {
        if records.len() >= MAX_RECORDED {
            return Err(format!("more than {MAX_RECORDED} records"));
        }
        let r: TraceRecord =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 2))?;
        records.push(r);
    }
    Ok(records)
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
