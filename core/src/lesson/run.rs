//! [`LessonRun`]: a lesson being played — the cluster, its clients, the step index, the
//! checkpoint results so far, and every message of the run with its contents and fate (the
//! "message flow" the UI animates and the terminal prints).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::durable::{DurableState, LogEntry, RequestTag};
use crate::message::Message;
use crate::sim::zk::{ClientId, ZkClients, ZkCluster};
use crate::sim::{Action, ClientResult, SimConfig, SimEvent};
use crate::time::Instant;
use crate::tree::{
    acl::open_acl_unsafe, CreateRequest, DeleteRequest, ReadRequest, ReadResponse, SetDataRequest,
    Txn, WriteOp,
};
use crate::zxid::{Sid, Zxid};

use super::check::CheckResult;
use super::format::{ClientOp, DiskSpec, Lang, Lesson, StepAction};
use super::LessonError;

/// What became of a message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Fate {
    InFlight,
    Delivered {
        at_ms: u64,
    },
    /// Lost: on a cut link, to a random or scripted drop, or because an end was down.
    Dropped {
        at_ms: u64,
        reason: String,
    },
}

/// One message of the run, for the flow view.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FlowMessage {
    pub msg_id: u64,
    pub from: Sid,
    pub to: Sid,
    /// ZooKeeper's packet name (`NOTIFICATION`, `DIFF`, …).
    pub kind: String,
    /// The fields that matter, e.g. `(2, 0:0) round 1` for a notification.
    pub detail: String,
    pub sent_ms: u64,
    pub fate: Fate,
    /// Trace index of the send (or of the drop, for a message lost as it left).
    pub sent_record: usize,
    /// Trace index of the delivery or drop (`usize::MAX` while in flight).
    pub fate_record: usize,
}

/// What playing one step produced.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StepReport {
    /// 0-based index of the step.
    pub step: usize,
    pub check: CheckResult,
    /// The question's answer computed from the run, if the step asks one.
    pub answer: Option<String>,
    /// Trace records `first_record..last_record` happened during the step.
    pub first_record: usize,
    pub last_record: usize,
    /// Virtual time at the end of the step.
    pub now_ms: u64,
}

/// How long a client waits for a write's reply (virtual ms).
const WRITE_WAIT_MS: u64 = 5_000;
/// The session that wrote the preloaded history (its timeout is effectively infinite, so it
/// never expires during a lesson).
pub(crate) const HISTORY_SESSION: i64 = 0x7a62_0000_0000_0001;

#[derive(Clone, Debug)]
enum LastResult {
    Tag(RequestTag),
    Text(String),
}

/// A lesson being played. See the module documentation of [`crate::lesson`].
#[derive(Clone, Debug)]
pub struct LessonRun {
    pub(crate) lesson: Lesson,
    pub(crate) cluster: ZkCluster,
    pub(crate) clients: ZkClients,
    pub(crate) names: BTreeMap<String, ClientId>,
    last_result: BTreeMap<String, LastResult>,
    pub(crate) read_data: BTreeMap<String, String>,
    /// Client → how many watch events it had when the current step began.
    pub(crate) events_mark: BTreeMap<String, usize>,
    pub(crate) messages: Vec<FlowMessage>,
    msg_index: BTreeMap<u64, usize>,
    scanned: usize,
    next: usize,
    reports: Vec<StepReport>,
    pub(crate) step_first_record: usize,
    free_play_from: usize,
}

/// The disk a [`DiskSpec`] describes: a session opens at `epoch:1`, `/counter` is created at
/// `epoch:2` and set to the zxid at every later one, so every server's history is a prefix of
/// the same history.
pub(crate) fn disk(spec: &DiskSpec) -> DurableState<Txn, crate::tree::TreeSnapshot> {
    let s = HISTORY_SESSION;
    let log = (1..=spec.last)
        .map(|c| {
            let zxid = Zxid::new(spec.epoch, c);
            let data = Some(format!("{zxid}").into_bytes());
            let op = match c {
                1 => WriteOp::CreateSession {
                    timeout_ms: i32::MAX,
                },
                2 => WriteOp::Create(CreateRequest {
                    path: "/counter".to_string(),
                    data,
                    acl: open_acl_unsafe(),
                    flags: 0,
                }),
                _ => WriteOp::SetData(SetDataRequest {
                    path: "/counter".to_string(),
                    data,
                    version: -1,
                }),
            };
            LogEntry {
                zxid,
                time_ms: 0,
                origin: None,
                txn: Txn::new(s, c as i32, Vec::new(), op),
            }
        })
        .collect();
    DurableState {
        accepted_epoch: spec.accepted_epoch.unwrap_or(spec.epoch),
        current_epoch: spec.current_epoch.unwrap_or(spec.epoch),
        snapshot: None,
        log,
    }
}

impl LessonRun {
    /// Sets the lesson's cluster up (nothing played yet).
    pub fn new(lesson: Lesson) -> Result<LessonRun, LessonError> {
        lesson.validate()?;
        let c = &lesson.cluster;
        let mut config = SimConfig {
            participants: c.servers,
            observers: c.observers,
            start_all: false,
            ..SimConfig::default()
        };
        if let Some(n) = c.commit_log_count {
            config.commit_log_count = n;
        }
        let mut cluster = ZkCluster::new(config, lesson.seed);
        for (sid, spec) in &c.disks {
            cluster.preload(*sid, disk(spec));
        }
        if c.start_all {
            for sid in cluster.ensemble().all() {
                cluster.act(Action::Start(sid));
            }
        }
        let mut run = LessonRun {
            lesson,
            cluster,
            clients: ZkClients::new(),
            names: BTreeMap::new(),
            last_result: BTreeMap::new(),
            read_data: BTreeMap::new(),
            events_mark: BTreeMap::new(),
            messages: Vec::new(),
            msg_index: BTreeMap::new(),
            scanned: 0,
            next: 0,
            reports: Vec::new(),
            step_first_record: 0,
            free_play_from: 0,
        };
        run.scan();
        Ok(run)
    }

    /// The catalog lesson `name` (or a unique prefix such as `06`), set up.
    #[cfg(feature = "serde")]
    pub fn from_name(name: &str) -> Result<LessonRun, LessonError> {
        LessonRun::new(Lesson::by_name(name)?)
    }

    // ----- what the UI and the terminal read -------------------------------------------------

    pub fn lesson(&self) -> &Lesson {
        &self.lesson
    }
    pub fn cluster(&self) -> &ZkCluster {
        &self.cluster
    }
    pub fn clients(&self) -> &ZkClients {
        &self.clients
    }
    /// The simulated client a lesson calls `name`.
    pub fn client_id(&self, name: &str) -> Option<ClientId> {
        self.names.get(name).copied()
    }
    /// Client names, sorted.
    pub fn client_names(&self) -> impl Iterator<Item = (&str, ClientId)> {
        self.names.iter().map(|(n, id)| (n.as_str(), *id))
    }
    /// How many steps have been played.
    pub fn steps_played(&self) -> usize {
        self.next
    }
    pub fn step_count(&self) -> usize {
        self.lesson.steps.len()
    }
    pub fn is_done(&self) -> bool {
        self.next >= self.lesson.steps.len()
    }
    /// The narration of the step played last (what the screen explains right now).
    pub fn narration(&self, lang: Lang) -> Option<&str> {
        let i = self.next.checked_sub(1)?;
        self.lesson.steps.get(i).map(|s| s.narration(lang))
    }
    /// One report per step played so far.
    pub fn reports(&self) -> &[StepReport] {
        &self.reports
    }
    /// Every message of the run, in the order they were sent.
    pub fn messages(&self) -> &[FlowMessage] {
        &self.messages
    }
    /// Messages sent, delivered or dropped during trace records `first..last`.
    pub fn messages_between(
        &self,
        first: usize,
        last: usize,
    ) -> impl Iterator<Item = &FlowMessage> {
        self.messages.iter().filter(move |m| {
            (m.sent_record >= first && m.sent_record < last)
                || (m.fate_record >= first && m.fate_record < last)
        })
    }
    /// The result of a client's last request: `ok`, `pending`, or an error code name.
    pub fn last_result(&self, client: &str) -> Option<String> {
        Some(match self.last_result.get(client)? {
            LastResult::Text(t) => t.clone(),
            LastResult::Tag(tag) => match self.cluster.request(*tag) {
                Some(ClientResult::Replied { outcome: Ok(_), .. }) => "ok".to_string(),
                Some(ClientResult::Replied {
                    outcome: Err(code), ..
                }) => format!("{code:?}"),
                Some(ClientResult::Pending) => "pending".to_string(),
                _ => "ConnectionLoss".to_string(),
            },
        })
    }

    // ----- playing -----------------------------------------------------------------------------

    /// Plays the next step: its actions, then its checkpoint and question. `None` when the
    /// lesson is over.
    pub fn step_forward(&mut self) -> Option<&StepReport> {
        let step = self.lesson.steps.get(self.next)?.clone();
        self.step_first_record = self.cluster.trace().records().len();
        self.events_mark = self
            .names
            .iter()
            .filter_map(|(n, id)| Some((n.clone(), self.clients.get(*id)?.events.len())))
            .collect();
        let mut action_failures = Vec::new();
        for action in &step.actions {
            if let Err(f) = self.perform(action) {
                action_failures.push(f);
            }
        }
        let mut check = self.evaluate(&step.check);
        check.failures.splice(0..0, action_failures);
        let answer = step.question.as_ref().map(|q| self.answer(&q.answer));
        self.reports.push(StepReport {
            step: self.next,
            check,
            answer,
            first_record: self.step_first_record,
            last_record: self.cluster.trace().records().len(),
            now_ms: self.cluster.now().as_millis(),
        });
        self.next += 1;
        self.reports.last()
    }

    /// Plays every remaining step; true if every checkpoint held.
    pub fn play_to_end(&mut self) -> bool {
        while self.step_forward().is_some() {}
        self.reports.iter().all(|r| r.check.passed())
    }

    /// Shows the state after `steps` steps (0: before the first). Going back re-runs the
    /// lesson from its seed, which yields exactly the same run.
    pub fn goto(&mut self, steps: usize) {
        let steps = steps.min(self.lesson.steps.len());
        if steps < self.next {
            if let Ok(fresh) = LessonRun::new(self.lesson.clone()) {
                *self = fresh;
            }
        }
        while self.next < steps && self.step_forward().is_some() {}
    }

    /// Free play: performs one action now (the UI's buttons, the terminal's commands).
    /// Errors name what was wrong; the run is unchanged then.
    pub fn apply(&mut self, action: &StepAction) -> Result<(), String> {
        self.check_refs(action)?;
        self.step_first_record = self.cluster.trace().records().len();
        self.perform(action)
            .map_err(|f| format!("{}: expected {}, got {}", f.what, f.expected, f.actual))
    }

    /// Marks the start of free play: exercises look at the trace from here on.
    pub fn begin_free_play(&mut self) {
        self.free_play_from = self.cluster.trace().records().len();
    }

    /// A run positioned where exercise `index` of `lesson` starts, ready for free play.
    pub fn for_exercise(lesson: Lesson, index: usize) -> Result<LessonRun, LessonError> {
        let ex = lesson
            .exercises
            .get(index)
            .ok_or_else(|| LessonError::NotFound(format!("exercise {index}")))?;
        let start = ex.start_after_step;
        let mut run = LessonRun::new(lesson)?;
        run.goto(start);
        run.begin_free_play();
        Ok(run)
    }

    /// Checks exercise `index` of this lesson against what happened since free play began.
    pub fn check_exercise(&self, index: usize) -> Option<super::ExerciseResult> {
        let ex = self.lesson.exercises.get(index)?;
        Some(super::check_exercise_since(
            ex,
            &self.cluster,
            self.free_play_from,
        ))
    }

    fn check_refs(&self, action: &StepAction) -> Result<(), String> {
        let servers = self.cluster.ensemble().all();
        let server_ok = |s: &Sid| servers.contains(s);
        let bad = |what: String| Err(what);
        match action {
            StepAction::Start(s)
            | StepAction::Kill(s)
            | StepAction::Restart(s)
            | StepAction::Wipe(s)
            | StepAction::Isolate(s)
            | StepAction::Connect { server: s, .. } => {
                if !server_ok(s) {
                    return bad(format!("no server {s}"));
                }
            }
            StepAction::Cut(l)
            | StepAction::Heal(l)
            | StepAction::Slow(l)
            | StepAction::DropNext(l) => {
                if !server_ok(&l.from) || !server_ok(&l.to) || l.from == l.to {
                    return bad(format!("no link {} → {}", l.from, l.to));
                }
            }
            StepAction::CrashClient(c) | StepAction::CloseClient(c) => {
                if !self.names.contains_key(c) {
                    return bad(format!("no client {c:?}"));
                }
            }
            StepAction::Create(op)
            | StepAction::Set(op)
            | StepAction::Delete(op)
            | StepAction::Get(op)
            | StepAction::Exists(op)
            | StepAction::Children(op) => {
                if !self.names.contains_key(&op.client) {
                    return bad(format!("no client {:?}", op.client));
                }
            }
            StepAction::HealAll | StepAction::RunFor(_) | StepAction::RunUntil { .. } => {}
        }
        Ok(())
    }

    fn perform(&mut self, action: &StepAction) -> Result<(), super::Failure> {
        let sim = |c: &mut ZkCluster, a: Action<Txn>| {
            c.act(a);
        };
        match action {
            StepAction::Start(s) => sim(&mut self.cluster, Action::Start(*s)),
            StepAction::Kill(s) => sim(&mut self.cluster, Action::Crash(*s)),
            StepAction::Restart(s) => sim(&mut self.cluster, Action::Restart(*s)),
            StepAction::Wipe(s) => sim(&mut self.cluster, Action::WipeDisk(*s)),
            StepAction::Isolate(s) => sim(&mut self.cluster, Action::Isolate(*s)),
            StepAction::Cut(l) => sim(
                &mut self.cluster,
                Action::Cut {
                    from: l.from,
                    to: l.to,
                    both: l.both,
                },
            ),
            StepAction::Heal(l) => sim(
                &mut self.cluster,
                Action::Heal {
                    from: l.from,
                    to: l.to,
                    both: l.both,
                },
            ),
            StepAction::HealAll => sim(&mut self.cluster, Action::HealAll),
            StepAction::Slow(l) => {
                let pairs: &[(Sid, Sid)] = if l.both {
                    &[(l.from, l.to), (l.to, l.from)]
                } else {
                    &[(l.from, l.to)]
                };
                for (from, to) in pairs {
                    sim(
                        &mut self.cluster,
                        Action::SetLink {
                            from: *from,
                            to: *to,
                            extra_ms: l.extra_ms,
                            drop_per_million: 0,
                        },
                    );
                }
            }
            StepAction::DropNext(l) => sim(
                &mut self.cluster,
                Action::DropNext {
                    from: l.from,
                    to: l.to,
                },
            ),
            StepAction::Connect {
                client,
                server,
                timeout_ms,
            } => {
                let r = self
                    .clients
                    .connect(&mut self.cluster, *server, *timeout_ms);
                let text = match r {
                    Ok(id) => {
                        self.names.insert(client.clone(), id);
                        self.events_mark.insert(client.clone(), 0);
                        "ok".to_string()
                    }
                    Err(code) => format!("{code:?}"),
                };
                self.last_result
                    .insert(client.clone(), LastResult::Text(text));
            }
            StepAction::CrashClient(c) => {
                if let Some(id) = self.names.get(c) {
                    self.clients.crash(&mut self.cluster, *id);
                }
            }
            StepAction::CloseClient(c) => {
                if let Some(id) = self.names.get(c).copied() {
                    let r = self.clients.close(&mut self.cluster, id);
                    let text = match r {
                        Ok(_) => "ok".to_string(),
                        Err(code) => format!("{code:?}"),
                    };
                    self.last_result.insert(c.clone(), LastResult::Text(text));
                }
            }
            StepAction::Create(op) => {
                let flags = (op.ephemeral as i32) | ((op.sequential as i32) << 1);
                let w = WriteOp::Create(CreateRequest {
                    path: op.path.clone(),
                    data: Some(data_of(op)),
                    acl: open_acl_unsafe(),
                    flags,
                });
                self.write(op, w);
            }
            StepAction::Set(op) => {
                let w = WriteOp::SetData(SetDataRequest {
                    path: op.path.clone(),
                    data: Some(data_of(op)),
                    version: -1,
                });
                self.write(op, w);
            }
            StepAction::Delete(op) => {
                let w = WriteOp::Delete(DeleteRequest {
                    path: op.path.clone(),
                    version: -1,
                });
                self.write(op, w);
            }
            StepAction::Get(op) => self.read(
                op,
                ReadRequest::GetData {
                    path: op.path.clone(),
                    watch: op.watch,
                },
            ),
            StepAction::Exists(op) => self.read(
                op,
                ReadRequest::Exists {
                    path: op.path.clone(),
                    watch: op.watch,
                },
            ),
            StepAction::Children(op) => self.read(
                op,
                ReadRequest::GetChildren {
                    path: op.path.clone(),
                    watch: op.watch,
                },
            ),
            StepAction::RunFor(ms) => {
                let until = self.cluster.now() + *ms;
                self.run(until, None);
            }
            StepAction::RunUntil { until, limit_ms } => {
                let limit = self.cluster.now() + *limit_ms;
                if !self.run(limit, Some(until)) {
                    let mut why = self.evaluate(until);
                    let first = why.failures.drain(..).next();
                    return Err(super::Failure {
                        what: format!("run_until (limit {limit_ms} ms)"),
                        expected: first
                            .as_ref()
                            .map(|f| format!("{} = {}", f.what, f.expected))
                            .unwrap_or_else(|| "the condition".to_string()),
                        actual: first
                            .map(|f| f.actual)
                            .unwrap_or_else(|| "not reached".to_string()),
                    });
                }
            }
        }
        self.clients.pump(&mut self.cluster);
        self.scan();
        Ok(())
    }

    fn write(&mut self, op: &ClientOp, w: WriteOp) {
        let Some(id) = self.names.get(&op.client).copied() else {
            return;
        };
        let Some(tag) = self.clients.submit(&mut self.cluster, id, w) else {
            self.last_result.insert(
                op.client.clone(),
                LastResult::Text("ConnectionLoss".to_string()),
            );
            return;
        };
        self.last_result
            .insert(op.client.clone(), LastResult::Tag(tag));
        self.scan();
        if !op.no_wait {
            let limit = self.cluster.now() + WRITE_WAIT_MS;
            self.run_while(limit, |r| {
                matches!(r.cluster.request(tag), Some(ClientResult::Pending))
            });
        }
    }

    fn read(&mut self, op: &ClientOp, req: ReadRequest) {
        let Some(id) = self.names.get(&op.client).copied() else {
            return;
        };
        let r = self.clients.read(&mut self.cluster, id, &req);
        let text = match &r {
            Ok(ReadResponse::GetData { data, .. }) => {
                let d = data.as_deref().unwrap_or_default();
                self.read_data
                    .insert(op.client.clone(), String::from_utf8_lossy(d).into_owned());
                "ok".to_string()
            }
            Ok(ReadResponse::GetChildren { children }) => {
                self.read_data.insert(op.client.clone(), children.join(","));
                "ok".to_string()
            }
            Ok(_) => "ok".to_string(),
            Err(code) => format!("{code:?}"),
        };
        self.last_result
            .insert(op.client.clone(), LastResult::Text(text));
    }

    /// Runs events up to `limit` (or until `stop` holds); true if `stop` held (or none given).
    fn run(&mut self, limit: Instant, stop: Option<&super::Checkpoint>) -> bool {
        match stop {
            None => {
                self.run_while(limit, |_| true);
                true
            }
            Some(cp) => {
                let cp = cp.clone();
                self.run_while(limit, |r| !r.evaluate(&cp).passed());
                self.evaluate(&cp).passed()
            }
        }
    }

    /// Processes events while `go` holds and the next event is due by `limit`; then, if it
    /// still holds, moves the clock to `limit`.
    fn run_while(&mut self, limit: Instant, mut go: impl FnMut(&LessonRun) -> bool) {
        loop {
            if !go(self) {
                return;
            }
            match self.cluster.next_event_time() {
                Some(t) if t <= limit => {
                    self.cluster.step();
                    self.clients.pump(&mut self.cluster);
                    self.scan();
                }
                _ => {
                    self.cluster.run_until(limit);
                    self.clients.pump(&mut self.cluster);
                    self.scan();
                    return;
                }
            }
        }
    }

    /// Reads the trace records not seen yet into the message list.
    fn scan(&mut self) {
        let records = self.cluster.trace().records();
        if self.scanned >= records.len() {
            return;
        }
        let new_sends: Vec<u64> = records[self.scanned..]
            .iter()
            .filter_map(|r| match &r.event {
                SimEvent::Send { msg_id, .. } => Some(*msg_id),
                _ => None,
            })
            .collect();
        let mut details: BTreeMap<u64, String> = BTreeMap::new();
        if !new_sends.is_empty() {
            for f in self.cluster.in_flight() {
                if new_sends.contains(&f.msg_id) {
                    details.insert(f.msg_id, describe(f.msg));
                }
            }
        }
        for (i, r) in records.iter().enumerate().skip(self.scanned) {
            let at_ms = r.time.as_millis();
            match &r.event {
                SimEvent::Send {
                    to, msg_id, kind, ..
                } => {
                    self.msg_index.insert(*msg_id, self.messages.len());
                    self.messages.push(FlowMessage {
                        msg_id: *msg_id,
                        from: r.node,
                        to: *to,
                        kind: kind.to_string(),
                        detail: details.remove(msg_id).unwrap_or_default(),
                        sent_ms: at_ms,
                        fate: Fate::InFlight,
                        sent_record: i,
                        fate_record: usize::MAX,
                    });
                }
                SimEvent::Deliver { msg_id, .. } => {
                    if let Some(m) = self
                        .msg_index
                        .get(msg_id)
                        .and_then(|ix| self.messages.get_mut(*ix))
                    {
                        m.fate = Fate::Delivered { at_ms };
                        m.fate_record = i;
                    }
                }
                SimEvent::Drop {
                    from,
                    to,
                    msg_id,
                    kind,
                    reason,
                } => {
                    let fate = Fate::Dropped {
                        at_ms,
                        reason: reason.to_string(),
                    };
                    match self
                        .msg_index
                        .get(msg_id)
                        .and_then(|ix| self.messages.get_mut(*ix))
                    {
                        Some(m) => {
                            m.fate = fate;
                            m.fate_record = i;
                        }
                        None => {
                            self.msg_index.insert(*msg_id, self.messages.len());
                            self.messages.push(FlowMessage {
                                msg_id: *msg_id,
                                from: *from,
                                to: *to,
                                kind: kind.to_string(),
                                detail: String::new(),
                                sent_ms: at_ms,
                                fate,
                                sent_record: i,
                                fate_record: i,
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        self.scanned = records.len();
    }
}

fn data_of(op: &ClientOp) -> Vec<u8> {
    op.data.clone().unwrap_or_default().into_bytes()
}

/// A short summary of a transaction, e.g. `create /z` or `createSession`.
pub(crate) fn describe_txn(txn: &Txn) -> String {
    match &txn.op {
        WriteOp::Create(r) | WriteOp::Create2(r) | WriteOp::CreateContainer(r) => {
            format!("create {}", r.path)
        }
        WriteOp::CreateTtl(r) => format!("create {}", r.path),
        WriteOp::Delete(r) => format!("delete {}", r.path),
        WriteOp::SetData(r) => format!("setData {}", r.path),
        WriteOp::SetAcl(r) => format!("setACL {}", r.path),
        WriteOp::Check(r) => format!("check {}", r.path),
        WriteOp::Multi(ops) => format!("multi ({} ops)", ops.len()),
        WriteOp::CreateSession { .. } => "createSession".to_string(),
        WriteOp::CloseSession => "closeSession".to_string(),
        WriteOp::DeleteContainer { path } => format!("deleteContainer {path}"),
    }
}

/// The fields of a message that a student reads in a capture.
pub(crate) fn describe(msg: &Message<Txn, crate::tree::TreeSnapshot>) -> String {
    match msg {
        Message::Notification(n) => {
            let mut s = format!("({}, {}) round {}", n.vote_id, n.vote_zxid, n.logicclock);
            if n.peer_epoch != n.vote_zxid.epoch() {
                s.push_str(&format!(" epoch {}", n.peer_epoch));
            }
            if n.state != crate::message::PeerState::Looking {
                s.push(' ');
                s.push_str(n.state.name());
            }
            s
        }
        Message::FollowerInfo { accepted_epoch } | Message::ObserverInfo { accepted_epoch } => {
            format!("acceptedEpoch {accepted_epoch}")
        }
        Message::LeaderInfo { new_epoch } => format!("newEpoch {new_epoch}"),
        Message::AckEpoch {
            last_logged_zxid,
            current_epoch,
        } => match current_epoch {
            Some(e) => format!("lastLoggedZxid {last_logged_zxid} currentEpoch {e}"),
            None => format!("lastLoggedZxid {last_logged_zxid}"),
        },
        Message::Diff { zxid }
        | Message::Trunc { zxid }
        | Message::Snap { zxid, .. }
        | Message::NewLeader { zxid }
        | Message::Ack { zxid }
        | Message::Commit { zxid } => format!("{zxid}"),
        Message::Proposal(e) | Message::Inform(e) => format!("{} {}", e.zxid, describe_txn(&e.txn)),
        Message::Ping { zxid, .. } => format!("{zxid}"),
        Message::Request { body, .. } => match body {
            crate::message::Forwarded::Write(t) => describe_txn(t),
            crate::message::Forwarded::Sync => "sync".to_string(),
        },
        Message::UpToDate | Message::Sync { .. } => String::new(),
    }
}
