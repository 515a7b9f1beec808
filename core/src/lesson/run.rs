//! [`LessonRun`]: a lesson being played — the cluster, its clients, the step index, the
//! checkpoint results so far, and every message of the run with its contents and fate (the
//! "message flow" the UI animates and the terminal prints).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::durable::RequestTag;
use crate::sim::zk::{ClientId, ZkClients, ZkCluster};
use crate::sim::{Action, ClientResult, HostEvent, SimConfig};
use crate::time::Instant;
use crate::zxid::Sid;

use super::check::CheckResult;
use super::format::{Lang, Lesson, StepAction};
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
pub(crate) const WRITE_WAIT_MS: u64 = 5_000;
/// The session that wrote the preloaded history (its timeout is effectively infinite, so it
/// never expires during a lesson).
pub(crate) const HISTORY_SESSION: i64 = 0x7a62_0000_0000_0001;

#[derive(Clone, Debug)]
pub(crate) enum LastResult {
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
    pub(crate) last_result: BTreeMap<String, LastResult>,
    pub(crate) read_data: BTreeMap<String, String>,
    /// Client → the stat version its last getData returned.
    pub(crate) read_version: BTreeMap<String, i32>,
    /// Client → how many watch events it had when the current step began.
    pub(crate) events_mark: BTreeMap<String, usize>,
    /// Client → (connection log length, pings) when the current step began.
    pub(crate) cnxn_mark: BTreeMap<String, (usize, u64)>,
    pub(crate) messages: Vec<FlowMessage>,
    msg_index: BTreeMap<u64, usize>,
    scanned: usize,
    next: usize,
    reports: Vec<StepReport>,
    pub(crate) step_first_record: usize,
    pub(crate) free_play_from: usize,
    /// Client → how many watch events it had when free play began.
    free_play_events: BTreeMap<String, usize>,
    /// Client → how many reads and writes it has sent.
    pub(crate) requests: BTreeMap<String, u64>,
    /// Client → how many reads and writes it had sent when free play began.
    free_play_requests: BTreeMap<String, u64>,
    /// Client → (its server, its connection log length) when free play began.
    free_play_cnxn: BTreeMap<String, (Sid, usize)>,
    /// [`LessonRun::play_partial`]: stop processing events once the trace holds this many
    /// records.
    record_budget: Option<usize>,
    /// The budget ran out: the rest of the step is not played.
    halted: bool,
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
        if let Some(n) = c.snap_count {
            config.snap_count = n;
        }
        let mut cluster = ZkCluster::new(config, lesson.seed);
        for (sid, spec) in &c.disks {
            cluster.preload(*sid, super::actions::disk(spec));
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
            read_version: BTreeMap::new(),
            events_mark: BTreeMap::new(),
            cnxn_mark: BTreeMap::new(),
            messages: Vec::new(),
            msg_index: BTreeMap::new(),
            scanned: 0,
            next: 0,
            reports: Vec::new(),
            step_first_record: 0,
            free_play_from: 0,
            free_play_events: BTreeMap::new(),
            requests: BTreeMap::new(),
            free_play_requests: BTreeMap::new(),
            free_play_cnxn: BTreeMap::new(),
            record_budget: None,
            halted: false,
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
        self.cnxn_mark = self
            .names
            .iter()
            .filter_map(|(n, id)| {
                let x = self.clients.get(*id)?.cnxn.as_ref()?;
                Some((n.clone(), (x.log.len(), x.pings)))
            })
            .collect();
        let mut action_failures = Vec::new();
        for action in &step.actions {
            if self.halted {
                break;
            }
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

    /// Plays the next step only until the trace holds `first_record + events` records (then
    /// the event being processed is finished and nothing more happens), and reports whether
    /// the step was cut short. The lab animates a step this way: it replays a copy of the run
    /// with a growing budget, so each picture is exactly the full run's state after that
    /// many events (runs are deterministic), never an invented in-between. The partial step's
    /// report is pushed like a full one but checks a state the step has not reached: only
    /// the cluster of such a run is meant to be looked at.
    pub fn play_partial(&mut self, events: usize) -> bool {
        self.record_budget = Some(self.cluster.trace().records().len() + events);
        self.halted = false;
        self.step_forward();
        self.record_budget = None;
        core::mem::take(&mut self.halted)
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
        self.free_play_events = self
            .names
            .iter()
            .filter_map(|(n, id)| Some((n.clone(), self.clients.get(*id)?.events.len())))
            .collect();
        self.free_play_requests = self.requests.clone();
        self.free_play_cnxn = self
            .names
            .iter()
            .filter_map(|(n, id)| {
                let c = self.clients.get(*id)?;
                Some((
                    n.clone(),
                    (c.server, c.cnxn.as_ref().map_or(0, |x| x.log.len())),
                ))
            })
            .collect();
    }

    /// Whether the client sent a request since free play began.
    pub(crate) fn reads_since_free_play(&self, name: &str) -> bool {
        self.requests.get(name).copied().unwrap_or(0)
            > self.free_play_requests.get(name).copied().unwrap_or(0)
    }

    /// The server the client was on when free play began.
    pub(crate) fn free_play_server(&self, name: &str) -> Option<Sid> {
        self.free_play_cnxn.get(name).map(|m| m.0)
    }

    /// The connection events a client's watcher received since free play began.
    pub fn connection_events_since_free_play(&self, name: &str) -> Vec<&'static str> {
        let Some(x) = self
            .client_id(name)
            .and_then(|id| self.clients.get(id))
            .and_then(|c| c.cnxn.as_ref())
        else {
            return Vec::new();
        };
        let from = self.free_play_cnxn.get(name).map_or(0, |m| m.1);
        x.log.iter().skip(from).filter_map(|e| e.event).collect()
    }

    /// The result of a client's last request if it sent one since free play began.
    pub fn last_result_since_free_play(&self, name: &str) -> Option<String> {
        let now = self.requests.get(name).copied().unwrap_or(0);
        let then = self.free_play_requests.get(name).copied().unwrap_or(0);
        (now > then).then(|| self.last_result(name)).flatten()
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
        Some(super::exercise::check_with_clients(ex, self))
    }

    /// The lines of a client's connection log written during the current step.
    pub fn connection_log_in_step(&self, name: &str) -> &[crate::sim::zk::CnxnLogEntry] {
        let Some(x) = self
            .client_id(name)
            .and_then(|id| self.clients.get(id))
            .and_then(|c| c.cnxn.as_ref())
        else {
            return &[];
        };
        let from = self.cnxn_mark.get(name).map_or(0, |m| m.0);
        x.log.get(from..).unwrap_or_default()
    }

    /// The connection events (`Disconnected`, `SyncConnected`, `Expired`) a client's watcher
    /// received during the current step.
    pub fn session_events_in_step(&self, name: &str) -> Vec<&'static str> {
        self.connection_log_in_step(name)
            .iter()
            .filter_map(|e| e.event)
            .collect()
    }

    /// Watch events a client received since free play began, as `NodeDeleted /master`.
    pub fn events_since_free_play(&self, name: &str) -> Vec<String> {
        let Some(c) = self.client_id(name).and_then(|id| self.clients.get(id)) else {
            return Vec::new();
        };
        let from = self.free_play_events.get(name).copied().unwrap_or(0);
        c.events
            .iter()
            .skip(from)
            .map(|e| format!("{:?} {}", e.event_type, e.path))
            .collect()
    }

    /// Runs events up to `limit` (or until `stop` holds); true if `stop` held (or none given).
    pub(crate) fn run(&mut self, limit: Instant, stop: Option<&super::Checkpoint>) -> bool {
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
    pub(crate) fn run_while(&mut self, limit: Instant, mut go: impl FnMut(&LessonRun) -> bool) {
        loop {
            if self.halted {
                return;
            }
            if let Some(budget) = self.record_budget {
                if self.cluster.trace().records().len() >= budget {
                    self.halted = true;
                    return;
                }
            }
            if !go(self) {
                return;
            }
            match self.clients.next_time(&self.cluster) {
                Some(t) if t <= limit => {
                    // The ensemble's next event, or a client's timer (a ping, a timeout).
                    if self.cluster.next_event_time() == Some(t) {
                        self.cluster.step();
                    } else {
                        self.cluster.run_until(t);
                    }
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
    pub(crate) fn scan(&mut self) {
        let records = self.cluster.trace().records();
        if self.scanned >= records.len() {
            return;
        }
        let new_sends: Vec<u64> = records[self.scanned..]
            .iter()
            .filter_map(|r| match &r.event {
                HostEvent::Send { msg_id, .. } => Some(*msg_id),
                _ => None,
            })
            .collect();
        let mut details: BTreeMap<u64, String> = BTreeMap::new();
        if !new_sends.is_empty() {
            for f in self.cluster.in_flight() {
                if new_sends.contains(&f.msg_id) {
                    details.insert(f.msg_id, super::actions::describe(f.msg));
                }
            }
        }
        for (i, r) in records.iter().enumerate().skip(self.scanned) {
            let at_ms = r.time.as_millis();
            match &r.event {
                HostEvent::Send {
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
                HostEvent::Deliver {
                    msg_id: Some(msg_id),
                    ..
                } => {
                    if let Some(m) = self
                        .msg_index
                        .get(msg_id)
                        .and_then(|ix| self.messages.get_mut(*ix))
                    {
                        m.fate = Fate::Delivered { at_ms };
                        m.fate_record = i;
                    }
                }
                HostEvent::Drop {
                    from,
                    to,
                    msg_id: Some(msg_id),
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
