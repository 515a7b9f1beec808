//! Checkpoints and question answers, evaluated against the running cluster. A failure says
//! what was looked at, what the lesson expected and what the run shows, so a teacher who
//! edits a lesson sees at once which number moved.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::peer::Peer;
use crate::sim::HostEvent;
use crate::trace::TraceEvent;
use crate::tree::DataTree;
use crate::zxid::{Sid, Zxid};

use super::format::{parse_zxid, AnswerFrom, Checkpoint, CountSpec, MessageCheck};
use super::run::{Fate, LessonRun};

/// One expectation that did not hold.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Failure {
    /// What was checked, e.g. `state of server 3`.
    pub what: String,
    pub expected: String,
    pub actual: String,
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.what, self.expected, self.actual
        )
    }
}

/// The outcome of a checkpoint: every expectation that failed (none: it holds).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CheckResult {
    pub failures: Vec<Failure>,
    /// How many expectations were checked.
    pub checked: usize,
}

impl CheckResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

struct Acc {
    r: CheckResult,
}

impl Acc {
    fn eq<T: PartialEq + core::fmt::Display>(
        &mut self,
        what: impl FnOnce() -> String,
        expected: T,
        actual: T,
    ) {
        self.r.checked += 1;
        if expected != actual {
            self.r.failures.push(Failure {
                what: what(),
                expected: format!("{expected}"),
                actual: format!("{actual}"),
            });
        }
    }
    fn fail(&mut self, what: String, expected: String, actual: String) {
        self.r.failures.push(Failure {
            what,
            expected,
            actual,
        });
    }
}

/// `LOOKING`, `FOLLOWING`, … or `DOWN` for a server that is not running.
pub(crate) fn state_name(p: Option<&Peer<DataTree>>) -> &'static str {
    p.map_or("DOWN", |p| p.state().name())
}

fn opt<T: core::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "none".to_string(), |v| format!("{v}"))
}

fn zx(s: &str) -> Zxid {
    parse_zxid(s).unwrap_or_default()
}

impl LessonRun {
    /// The servers to read the data tree from: the leader, else the running server that applied
    /// the most.
    pub(crate) fn reference_server(&self) -> Option<Sid> {
        self.cluster.leader().or_else(|| {
            self.cluster
                .nodes()
                .iter()
                .filter_map(|(s, n)| n.peer.as_ref().map(|p| (p.last_processed_zxid(), *s)))
                .max()
                .map(|(_, s)| s)
        })
    }

    fn count(&self, m: &MessageCheck, spec: &CountSpec, field: &str, a: &mut Acc) {
        let from_rec = if m.since_start {
            0
        } else {
            self.step_first_record
        };
        let matches = |f: &&super::FlowMessage| {
            f.kind == m.kind && m.from.is_none_or(|s| s == f.from) && m.to.is_none_or(|s| s == f.to)
        };
        let n = self
            .messages
            .iter()
            .filter(matches)
            .filter(|f| match field {
                "sent" => f.sent_record >= from_rec,
                "delivered" => {
                    matches!(f.fate, Fate::Delivered { .. }) && f.fate_record >= from_rec
                }
                "dropped" => matches!(f.fate, Fate::Dropped { .. }) && f.fate_record >= from_rec,
                _ => f.fate == Fate::InFlight,
            })
            .count() as u64;
        a.r.checked += 1;
        if !spec.holds(n).unwrap_or(false) {
            let between = match (m.from, m.to) {
                (Some(f), Some(t)) => format!(" {f} → {t}"),
                (Some(f), None) => format!(" from {f}"),
                (None, Some(t)) => format!(" to {t}"),
                _ => String::new(),
            };
            let when = if field == "in_flight" {
                " now"
            } else if m.since_start {
                " since the start"
            } else {
                " in this step"
            };
            let field = field.replace('_', " ");
            let expected = match spec {
                CountSpec::Exactly(e) => format!("{e}"),
                CountSpec::Compare(c) => c.clone(),
            };
            a.fail(
                format!("{} {field}{between}{when}", m.kind),
                expected,
                format!("{n}"),
            );
        }
    }

    /// Evaluates a checkpoint now.
    pub fn evaluate(&self, c: &Checkpoint) -> CheckResult {
        let mut a = Acc {
            r: CheckResult::default(),
        };
        let peer = |s: Sid| self.cluster.peer(s);
        if let Some(v) = self.cluster.violation() {
            a.fail(
                "invariants".to_string(),
                "none violated".to_string(),
                format!("{v}"),
            );
        }
        for (s, st) in &c.states {
            a.eq(
                || format!("state of server {s}"),
                st.as_str(),
                state_name(peer(*s)),
            );
        }
        for (s, ph) in &c.phases {
            let actual = peer(*s).map_or("DOWN", |p| p.phase().name());
            a.eq(|| format!("phase of server {s}"), ph.as_str(), actual);
        }
        if let Some(l) = c.leader {
            a.eq(
                || "established leader".to_string(),
                opt(Some(l)),
                opt(self.cluster.leader()),
            );
        }
        if c.no_leader {
            a.eq(
                || "established leader".to_string(),
                opt::<Sid>(None),
                opt(self.cluster.leader()),
            );
        }
        if let Some(st) = c.stable {
            a.eq(
                || "ensemble stable".to_string(),
                st,
                self.cluster.is_stable(),
            );
        }
        for (s, l) in &c.following {
            let actual = peer(*s).and_then(|p| p.leader_id());
            a.eq(
                || format!("leader of server {s}"),
                opt(Some(*l)),
                opt(actual),
            );
        }
        for (s, v) in &c.votes {
            let Some(p) = peer(*s) else {
                a.fail(
                    format!("vote of server {s}"),
                    format!("{}", v.id),
                    "DOWN".to_string(),
                );
                continue;
            };
            let pv = p.vote();
            let want = (
                v.id,
                v.zxid.as_deref().map_or(pv.vote_zxid, zx),
                v.epoch.unwrap_or(pv.peer_epoch),
            );
            let show = |(id, z, _): (Sid, Zxid, u32)| format!("({id}, {z})");
            a.r.checked += 1;
            if want != (pv.vote_id, pv.vote_zxid, pv.peer_epoch) {
                let actual = format!("({}, {}) epoch {}", pv.vote_id, pv.vote_zxid, pv.peer_epoch);
                a.fail(format!("vote of server {s}"), show(want), actual);
            }
        }
        for (s, lc) in &c.logicclock {
            let actual = peer(*s).map(|p| p.election().logicclock);
            a.eq(
                || format!("logicclock of server {s}"),
                opt(Some(*lc)),
                opt(actual),
            );
        }
        for (s, want) in &c.vote_box {
            let actual: BTreeMap<Sid, Sid> = peer(*s)
                .map(|p| {
                    p.election()
                        .recvset
                        .iter()
                        .map(|(k, v)| (*k, v.vote.vote_id))
                        .collect()
                })
                .unwrap_or_default();
            let show = |m: &BTreeMap<Sid, Sid>| {
                let v: Vec<String> = m.iter().map(|(k, v)| format!("{k}→{v}")).collect();
                format!("{{{}}}", v.join(", "))
            };
            a.eq(
                || format!("vote box of server {s}"),
                show(want),
                show(&actual),
            );
        }
        for (s, z) in &c.last_logged {
            let actual = peer(*s).map(|p| p.last_logged_zxid());
            a.eq(
                || format!("last logged zxid of server {s}"),
                opt(Some(zx(z))),
                opt(actual),
            );
        }
        for (s, z) in &c.last_committed {
            let actual = peer(*s).map(|p| p.last_processed_zxid());
            a.eq(
                || format!("last committed zxid of server {s}"),
                opt(Some(zx(z))),
                opt(actual),
            );
        }
        for (s, e) in &c.accepted_epoch {
            let actual = peer(*s).map(|p| p.accepted_epoch());
            a.eq(
                || format!("acceptedEpoch of server {s}"),
                opt(Some(*e)),
                opt(actual),
            );
        }
        for (s, e) in &c.current_epoch {
            let actual = peer(*s).map(|p| p.current_epoch());
            a.eq(
                || format!("currentEpoch of server {s}"),
                opt(Some(*e)),
                opt(actual),
            );
        }
        for m in &c.messages {
            for (field, spec) in [
                ("sent", &m.sent),
                ("delivered", &m.delivered),
                ("dropped", &m.dropped),
                ("in_flight", &m.in_flight),
            ] {
                if let Some(spec) = spec {
                    self.count(m, spec, field, &mut a);
                }
            }
        }
        for sc in &c.sync {
            let found = self.cluster.trace().records()[self.step_first_record..]
                .iter()
                .filter(|r| sc.leader.is_none_or(|l| l == r.node))
                .filter_map(|r| match &r.event {
                    HostEvent::Peer(TraceEvent::SyncChosen {
                        learner,
                        mode,
                        peer_last_zxid,
                        target,
                        min_committed,
                        reason,
                        ..
                    }) if *learner == sc.learner => Some((
                        r.node,
                        mode.name(),
                        *peer_last_zxid,
                        *target,
                        *min_committed,
                        reason.name(),
                    )),
                    _ => None,
                })
                .next_back();
            let want = format!(
                "{}{}{}{}{}",
                sc.mode,
                sc.peer_last_zxid
                    .as_ref()
                    .map_or(String::new(), |z| format!(" peerLastZxid {}", zx(z))),
                sc.target
                    .as_ref()
                    .map_or(String::new(), |z| format!(" target {}", zx(z))),
                sc.min_committed
                    .as_ref()
                    .map_or(String::new(), |z| format!(" minCommittedLog {}", zx(z))),
                sc.reason
                    .as_ref()
                    .map_or(String::new(), |r| format!(" because {r}")),
            );
            let got = found.map(|(_, mode, pl, t, min, reason)| {
                format!(
                    "{mode}{}{}{}{}",
                    sc.peer_last_zxid
                        .as_ref()
                        .map_or(String::new(), |_| format!(" peerLastZxid {pl}")),
                    sc.target
                        .as_ref()
                        .map_or(String::new(), |_| format!(" target {t}")),
                    sc.min_committed
                        .as_ref()
                        .map_or(String::new(), |_| format!(" minCommittedLog {min}")),
                    sc.reason
                        .as_ref()
                        .map_or(String::new(), |_| format!(" because {reason}")),
                )
            });
            a.eq(
                || format!("sync chosen for server {} in this step", sc.learner),
                want,
                got.unwrap_or_else(|| "no sync".to_string()),
            );
        }
        for z in &c.znodes {
            let servers: Vec<Sid> = match &z.on {
                Some(on) => on.clone(),
                None => self
                    .cluster
                    .nodes()
                    .iter()
                    .filter(|(_, n)| n.peer.is_some())
                    .map(|(s, _)| *s)
                    .collect(),
            };
            for s in servers {
                let Some(p) = peer(s) else {
                    a.fail(
                        format!("{} on server {s}", z.path),
                        "a running server".to_string(),
                        "DOWN".to_string(),
                    );
                    continue;
                };
                let tree = p.machine();
                let node = tree.get_data(&super::observer(), &z.path);
                let exists = z.exists.unwrap_or(true);
                let yes_no = |b: bool| if b { "present" } else { "absent" };
                a.eq(
                    || format!("{} on server {s}", z.path),
                    yes_no(exists),
                    yes_no(node.is_ok()),
                );
                let Ok((data, stat)) = node else { continue };
                if let Some(d) = &z.data {
                    let actual =
                        String::from_utf8_lossy(data.as_deref().unwrap_or_default()).into_owned();
                    a.eq(
                        || format!("data of {} on server {s}", z.path),
                        d.clone(),
                        actual,
                    );
                }
                if let Some(ch) = &z.children {
                    let actual = tree
                        .get_children(&super::observer(), &z.path)
                        .map(|(c, _)| c)
                        .unwrap_or_default();
                    a.eq(
                        || format!("children of {} on server {s}", z.path),
                        ch.join(","),
                        actual.join(","),
                    );
                }
                if let Some(want) = &z.czxid {
                    a.eq(
                        || format!("czxid of {} on server {s}", z.path),
                        zx(want),
                        Zxid(stat.czxid as u64),
                    );
                }
                if let Some(v) = z.version {
                    a.eq(
                        || format!("version of {} on server {s}", z.path),
                        v,
                        stat.version,
                    );
                }
                if let Some(v) = z.cversion {
                    a.eq(
                        || format!("cversion of {} on server {s}", z.path),
                        v,
                        stat.cversion,
                    );
                }
                if let Some(v) = z.aversion {
                    a.eq(
                        || format!("aversion of {} on server {s}", z.path),
                        v,
                        stat.aversion,
                    );
                }
                if let Some(want) = &z.acl {
                    let actual: Vec<String> = tree
                        .nodes
                        .get(&z.path)
                        .map(|n| n.rec.acl.iter().map(super::actions::format_acl).collect())
                        .unwrap_or_default();
                    a.eq(
                        || format!("ACL of {} on server {s}", z.path),
                        want.join(","),
                        actual.join(","),
                    );
                }
                if let Some(o) = &z.owner {
                    let sid = self
                        .client_id(o)
                        .and_then(|id| self.clients.get(id))
                        .map(|c| c.session_id);
                    a.eq(
                        || format!("owner of {} on server {s}", z.path),
                        format!("{o} (session {:#x})", sid.unwrap_or(0)),
                        self.session_name(stat.ephemeral_owner),
                    );
                }
            }
        }
        for (name, want) in &c.results {
            a.eq(
                || format!("result of {name}'s last request"),
                want.clone(),
                opt(self.last_result(name)),
            );
        }
        for (name, want) in &c.read_data {
            a.eq(
                || format!("data {name} read"),
                want.clone(),
                opt(self.read_data.get(name)),
            );
        }
        for (name, want) in &c.read_version {
            a.eq(
                || format!("version {name} read"),
                format!("{want}"),
                opt(self.read_version.get(name).map(|v| format!("{v}")).as_ref()),
            );
        }
        for (name, want) in &c.events {
            let got = self.events_in_step(name);
            a.eq(
                || format!("watch events of {name} in this step"),
                want.join("; "),
                got.join("; "),
            );
        }
        for (name, open) in &c.session_open {
            let sid = self
                .client_id(name)
                .and_then(|id| self.clients.get(id))
                .map(|c| c.session_id);
            let actual = match (sid, self.reference_server().and_then(peer)) {
                (Some(sid), Some(p)) => p.machine().sessions().contains_key(&sid),
                _ => false,
            };
            a.eq(|| format!("session of {name} open"), *open, actual);
        }
        for (name, want) in &c.session_timeout_ms {
            let sid = self
                .client_id(name)
                .and_then(|id| self.clients.get(id))
                .map(|c| c.session_id);
            let actual = match (sid, self.reference_server().and_then(peer)) {
                (Some(sid), Some(p)) => p.machine().sessions().get(&sid).map(|s| s.timeout_ms),
                _ => None,
            };
            a.eq(
                || format!("session timeout of {name} (ms)"),
                format!("{want}"),
                opt(actual),
            );
        }
        self.check_connections(c, &mut a);
        a.r
    }

    fn check_connections(&self, c: &Checkpoint, a: &mut Acc) {
        let client = |name: &str| self.client_id(name).and_then(|id| self.clients.get(id));
        for (name, want) in &c.client_state {
            a.eq(
                || format!("connection state of {name}"),
                want.clone(),
                self.client_state(name),
            );
        }
        for (name, want) in &c.connected_to {
            a.eq(
                || format!("server {name} is connected to"),
                format!("{want}"),
                opt(client(name).map(|c| c.server)),
            );
        }
        for (name, want) in &c.session_events {
            a.eq(
                || format!("connection events of {name} in this step"),
                want.join(", "),
                self.session_events_in_step(name).join(", "),
            );
        }
        for (name, want) in &c.refused_by {
            let got: Vec<String> = self
                .connection_log_in_step(name)
                .iter()
                .filter(|e| e.event.is_none() && e.text.contains("is behind"))
                .filter_map(|e| e.text.split_whitespace().nth(1).map(String::from))
                .collect();
            let want: Vec<String> = want.iter().map(|s| format!("{s}")).collect();
            a.eq(
                || format!("servers that refused {name} in this step"),
                want.join(", "),
                got.join(", "),
            );
        }
        for (name, spec) in &c.pings {
            let got = client(name)
                .and_then(|c| c.cnxn.as_ref())
                .map(|x| x.pings - self.cnxn_mark.get(name).map_or(0, |m| m.1));
            a.r.checked += 1;
            let ok = got.is_some_and(|n| spec.holds(n).unwrap_or(false));
            if !ok {
                a.fail(
                    format!("pings {name} sent in this step"),
                    match spec {
                        CountSpec::Exactly(n) => format!("{n}"),
                        CountSpec::Compare(s) => s.clone(),
                    },
                    opt(got),
                );
            }
        }
    }

    /// `CONNECTED`, `CONNECTING` or `CLOSED` for a client with a connect string; for one
    /// without, `CONNECTED` while it is alive.
    pub(crate) fn client_state(&self, name: &str) -> String {
        match self.client_id(name).and_then(|id| self.clients.get(id)) {
            None => "none".to_string(),
            Some(c) => match &c.cnxn {
                Some(x) => x.state.name().to_string(),
                None if c.alive => "CONNECTED".to_string(),
                None => "CLOSED".to_string(),
            },
        }
    }

    /// `a (session 0x…)` for a known client's session, the number otherwise.
    fn session_name(&self, session: i64) -> String {
        for (name, id) in self.client_names() {
            if self.clients.get(id).map(|c| c.session_id) == Some(session) {
                return format!("{name} (session {session:#x})");
            }
        }
        if session == 0 {
            "none (not ephemeral)".to_string()
        } else {
            format!("session {session:#x}")
        }
    }

    /// Watch events a client received during the current step, as `NodeDeleted /master`.
    pub fn events_in_step(&self, name: &str) -> Vec<String> {
        let Some(c) = self.client_id(name).and_then(|id| self.clients.get(id)) else {
            return Vec::new();
        };
        let from = self.events_mark.get(name).copied().unwrap_or(0);
        c.events
            .iter()
            .skip(from)
            .map(|e| format!("{:?} {}", e.event_type, e.path))
            .collect()
    }

    /// A question's answer, computed from the run as it is now.
    pub fn answer(&self, from: &AnswerFrom) -> String {
        let peer = |s: Sid| self.cluster.peer(s);
        match from {
            AnswerFrom::Leader => opt(self.cluster.leader()),
            AnswerFrom::StateOf(s) => state_name(peer(*s)).to_string(),
            AnswerFrom::VoteOf(s) => opt(peer(*s).map(|p| p.vote().vote_id)),
            AnswerFrom::LogicclockOf(s) => opt(peer(*s).map(|p| p.election().logicclock)),
            AnswerFrom::LastLoggedOf(s) => opt(peer(*s).map(|p| p.last_logged_zxid())),
            AnswerFrom::LastCommittedOf(s) => opt(peer(*s).map(|p| p.last_processed_zxid())),
            AnswerFrom::SyncModeFor(s) => self
                .cluster
                .trace()
                .records()
                .iter()
                .rev()
                .find_map(|r| match &r.event {
                    HostEvent::Peer(TraceEvent::SyncChosen { learner, mode, .. })
                        if learner == s =>
                    {
                        Some(mode.name().to_string())
                    }
                    _ => None,
                })
                .unwrap_or_else(|| "none".to_string()),
            AnswerFrom::DataOf(path) => self
                .reference_server()
                .and_then(peer)
                .and_then(|p| p.machine().get_data(&super::observer(), path).ok())
                .map(|(d, _)| {
                    String::from_utf8_lossy(d.as_deref().unwrap_or_default()).into_owned()
                })
                .unwrap_or_else(|| "absent".to_string()),
            AnswerFrom::HoldersOf(path) => {
                let n = self
                    .cluster
                    .nodes()
                    .values()
                    .filter_map(|n| n.peer.as_ref())
                    .filter(|p| p.machine().exists(&super::observer(), path).is_ok())
                    .count();
                format!("{n}")
            }
            AnswerFrom::ReadBy(client) => opt(self.read_data.get(client)),
            AnswerFrom::EventsOf(client) => format!("{}", self.events_in_step(client).len()),
            AnswerFrom::VersionOf(path) => self
                .reference_server()
                .and_then(peer)
                .and_then(|p| p.machine().get_data(&super::observer(), path).ok())
                .map(|(_, stat)| format!("{}", stat.version))
                .unwrap_or_else(|| "absent".to_string()),
            AnswerFrom::ResultOf(client) => opt(self.last_result(client).as_ref()),
            AnswerFrom::ClientStateOf(c) => self.client_state(c),
            AnswerFrom::ServerOf(c) => opt(self
                .client_id(c)
                .and_then(|id| self.clients.get(id))
                .map(|c| c.server)),
            AnswerFrom::SessionEventsOf(c) => {
                let v = self.session_events_in_step(c);
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.join(", ")
                }
            }
            AnswerFrom::PingsOf(c) => opt(self
                .client_id(c)
                .and_then(|id| self.clients.get(id))
                .and_then(|cl| cl.cnxn.as_ref())
                .map(|x| x.pings - self.cnxn_mark.get(c).map_or(0, |m| m.1))),
            AnswerFrom::Fixed(s) => s.clone(),
        }
    }

    /// Whether `given` answers step `step`'s question (case and spaces ignored).
    pub fn check_answer(&self, step: usize, given: &str) -> Option<bool> {
        let q = self.lesson.steps.get(step)?.question.as_ref()?;
        let report = self.reports().get(step)?;
        let want = report
            .answer
            .clone()
            .unwrap_or_else(|| self.answer(&q.answer));
        let norm = |s: &str| s.trim().to_lowercase().replace(' ', "");
        Some(norm(&want) == norm(given))
    }
}
