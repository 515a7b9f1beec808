//! [`Lesson::validate`]: every reference in a lesson file must name something that exists,
//! so a typo is an error when the lesson loads, not a confusing failure halfway through a class.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};

use crate::zxid::Sid;

use super::format::{
    parse_zxid, AnswerFrom, Checkpoint, Goal, Lesson, LinkSpec, StepAction, VoteSpec,
};
use super::LessonError;

/// Packet names a checkpoint may count.
pub(crate) const MESSAGE_KINDS: [&str; 17] = [
    "NOTIFICATION",
    "FOLLOWERINFO",
    "OBSERVERINFO",
    "LEADERINFO",
    "ACKEPOCH",
    "DIFF",
    "TRUNC",
    "SNAP",
    "NEWLEADER",
    "UPTODATE",
    "PROPOSAL",
    "ACK",
    "COMMIT",
    "INFORM",
    "PING",
    "REQUEST",
    "SYNC",
];
pub(crate) const STATES: [&str; 5] = ["LOOKING", "FOLLOWING", "LEADING", "OBSERVING", "DOWN"];
pub(crate) const PHASES: [&str; 4] = ["ELECTION", "DISCOVERY", "SYNC", "BROADCAST"];
pub(crate) const SYNC_MODES: [&str; 3] = ["DIFF", "TRUNC", "SNAP"];
/// The fields of a vote, in the order FastLeaderElection compares them.
pub(crate) const VOTE_FIELDS: [&str; 3] = ["epoch", "zxid", "id"];

struct Ctx {
    servers: u64,
    clients: BTreeSet<String>,
    at: String,
}

fn invalid(at: &str, what: String) -> LessonError {
    LessonError::Invalid(format!("{at}: {what}"))
}

impl Ctx {
    fn server(&self, sid: Sid) -> Result<(), LessonError> {
        if sid == 0 || sid > self.servers {
            return Err(invalid(
                &self.at,
                format!("no server {sid} (servers are 1..={})", self.servers),
            ));
        }
        Ok(())
    }
    fn client(&self, name: &str) -> Result<(), LessonError> {
        if !self.clients.contains(name) {
            return Err(invalid(
                &self.at,
                format!("client {name:?} is used before it connects"),
            ));
        }
        Ok(())
    }
    fn zxid(&self, z: &str) -> Result<(), LessonError> {
        parse_zxid(z)
            .map(|_| ())
            .map_err(|e| invalid(&self.at, e.to_string()))
    }
    fn one_of(&self, what: &str, v: &str, allowed: &[&str]) -> Result<(), LessonError> {
        if allowed.contains(&v) {
            Ok(())
        } else {
            Err(invalid(
                &self.at,
                format!("unknown {what} {v:?} (one of {allowed:?})"),
            ))
        }
    }
    fn link(&self, l: &LinkSpec) -> Result<(), LessonError> {
        self.server(l.from)?;
        self.server(l.to)?;
        if l.from == l.to {
            return Err(invalid(
                &self.at,
                format!("a link from {} to itself", l.from),
            ));
        }
        Ok(())
    }

    fn action(&mut self, a: &StepAction) -> Result<(), LessonError> {
        match a {
            StepAction::Start(s)
            | StepAction::Kill(s)
            | StepAction::Restart(s)
            | StepAction::Wipe(s)
            | StepAction::Isolate(s)
            | StepAction::Pause { server: s, .. } => self.server(*s),
            StepAction::AddAuth { client, .. } => self.client(client),
            StepAction::Cut(l)
            | StepAction::Heal(l)
            | StepAction::Slow(l)
            | StepAction::DropNext(l) => self.link(l),
            StepAction::HealAll | StepAction::RunFor(_) => Ok(()),
            StepAction::Connect {
                client,
                server,
                hosts,
                ..
            } => {
                self.server(*server)?;
                for h in hosts {
                    self.server(*h)?;
                }
                if !hosts.is_empty() && !hosts.contains(server) {
                    return Err(invalid(
                        &self.at,
                        format!("the connect string {hosts:?} must contain server {server}"),
                    ));
                }
                if client.is_empty() {
                    return Err(invalid(&self.at, "a client needs a name".to_string()));
                }
                self.clients.insert(client.clone());
                Ok(())
            }
            StepAction::CrashClient(c) | StepAction::CloseClient(c) => self.client(c),
            StepAction::Create(op)
            | StepAction::Set(op)
            | StepAction::Delete(op)
            | StepAction::Get(op)
            | StepAction::Exists(op)
            | StepAction::Children(op)
            | StepAction::Sync(op)
            | StepAction::SetAcl(op)
            | StepAction::GetAcl(op) => {
                self.client(&op.client)?;
                if let Some(acl) = &op.acl {
                    super::actions::parse_acl(acl).map_err(|e| invalid(&self.at, e))?;
                }
                if !op.path.starts_with('/') {
                    return Err(invalid(
                        &self.at,
                        format!("path {:?} must start with /", op.path),
                    ));
                }
                Ok(())
            }
            StepAction::RunUntil { until, .. } => self.checkpoint(until),
        }
    }

    fn vote(&self, v: &VoteSpec) -> Result<(), LessonError> {
        self.server(v.id)?;
        if let Some(z) = &v.zxid {
            self.zxid(z)?;
        }
        Ok(())
    }

    fn checkpoint(&self, c: &Checkpoint) -> Result<(), LessonError> {
        for (s, st) in &c.states {
            self.server(*s)?;
            self.one_of("state", st, &STATES)?;
        }
        for (s, ph) in &c.phases {
            self.server(*s)?;
            self.one_of("phase", ph, &PHASES)?;
        }
        if let Some(l) = c.leader {
            self.server(l)?;
        }
        for (s, l) in &c.following {
            self.server(*s)?;
            self.server(*l)?;
        }
        for (s, v) in &c.votes {
            self.server(*s)?;
            self.vote(v)?;
        }
        for s in c
            .logicclock
            .keys()
            .chain(c.accepted_epoch.keys())
            .chain(c.current_epoch.keys())
        {
            self.server(*s)?;
        }
        for (s, b) in &c.vote_box {
            self.server(*s)?;
            for (voter, id) in b {
                self.server(*voter)?;
                self.server(*id)?;
            }
        }
        for (s, z) in c.last_logged.iter().chain(c.last_committed.iter()) {
            self.server(*s)?;
            self.zxid(z)?;
        }
        for m in &c.messages {
            self.one_of("message kind", &m.kind, &MESSAGE_KINDS)?;
            for s in m.from.iter().chain(m.to.iter()) {
                self.server(*s)?;
            }
            for n in [&m.sent, &m.delivered, &m.dropped, &m.in_flight]
                .into_iter()
                .flatten()
            {
                n.holds(0).map_err(|e| invalid(&self.at, e.to_string()))?;
            }
        }
        for s in &c.sync {
            self.server(s.learner)?;
            if let Some(l) = s.leader {
                self.server(l)?;
            }
            self.one_of("sync mode", &s.mode, &SYNC_MODES)?;
            if let Some(r) = &s.reason {
                let names = crate::trace::SyncReason::ALL.map(|r| r.name());
                self.one_of("sync reason", r, &names)?;
            }
            for z in s
                .peer_last_zxid
                .iter()
                .chain(s.target.iter())
                .chain(s.min_committed.iter())
            {
                self.zxid(z)?;
            }
        }
        for z in &c.znodes {
            if !z.path.starts_with('/') {
                return Err(invalid(
                    &self.at,
                    format!("path {:?} must start with /", z.path),
                ));
            }
            for s in z.on.iter().flatten() {
                self.server(*s)?;
            }
            if let Some(o) = &z.owner {
                self.client(o)?;
            }
            if let Some(c) = &z.czxid {
                self.zxid(c)?;
            }
        }
        for name in c
            .results
            .keys()
            .chain(c.read_data.keys())
            .chain(c.read_version.keys())
            .chain(c.events.keys())
            .chain(c.session_open.keys())
            .chain(c.session_timeout_ms.keys())
            .chain(c.client_state.keys())
            .chain(c.connected_to.keys())
            .chain(c.session_events.keys())
            .chain(c.refused_by.keys())
            .chain(c.pings.keys())
        {
            self.client(name)?;
        }
        Ok(())
    }

    fn answer(&self, a: &AnswerFrom) -> Result<(), LessonError> {
        match a {
            AnswerFrom::StateOf(s)
            | AnswerFrom::VoteOf(s)
            | AnswerFrom::LogicclockOf(s)
            | AnswerFrom::LastLoggedOf(s)
            | AnswerFrom::LastCommittedOf(s)
            | AnswerFrom::SyncModeFor(s) => self.server(*s),
            AnswerFrom::ReadBy(c)
            | AnswerFrom::EventsOf(c)
            | AnswerFrom::ResultOf(c)
            | AnswerFrom::ClientStateOf(c)
            | AnswerFrom::ServerOf(c)
            | AnswerFrom::SessionEventsOf(c)
            | AnswerFrom::PingsOf(c) => self.client(c),
            AnswerFrom::Leader
            | AnswerFrom::DataOf(_)
            | AnswerFrom::HoldersOf(_)
            | AnswerFrom::VersionOf(_)
            | AnswerFrom::Fixed(_) => Ok(()),
        }
    }
}

impl Lesson {
    /// Checks every reference; the first problem is returned with where it is.
    pub fn validate(&self) -> Result<(), LessonError> {
        let servers = self.cluster.servers + self.cluster.observers;
        if self.cluster.servers == 0 || servers > 9 {
            return Err(invalid(
                "cluster",
                format!("{servers} servers (1 to 9 please)"),
            ));
        }
        if self.name.is_empty() || self.title.en.is_empty() || self.title.zh.is_empty() {
            return Err(invalid(
                "lesson",
                "name and both titles are required".to_string(),
            ));
        }
        let mut ctx = Ctx {
            servers,
            clients: BTreeSet::new(),
            at: "cluster".to_string(),
        };
        for (sid, d) in &self.cluster.disks {
            ctx.server(*sid)?;
            if d.epoch == 0 && d.last > 0 {
                return Err(invalid(
                    "cluster",
                    format!("server {sid}: transactions need an epoch > 0"),
                ));
            }
        }
        let mut after_step = alloc::vec::Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            let at = format!("step {}", i + 1);
            ctx.at = at.clone();
            if step.en.trim().is_empty() || step.zh.trim().is_empty() {
                return Err(invalid(&at, "narration needs both en and zh".to_string()));
            }
            for a in &step.actions {
                ctx.action(a)?;
            }
            ctx.checkpoint(&step.check)?;
            let h = &step.highlight;
            for s in &h.servers {
                ctx.server(*s)?;
            }
            for m in &h.messages {
                ctx.one_of("highlighted message kind", m, &MESSAGE_KINDS)?;
            }
            for z in &h.zxids {
                ctx.zxid(z)?;
            }
            if let Some(q) = &step.question {
                if q.en.is_empty() || q.zh.is_empty() || q.expect.is_empty() {
                    return Err(invalid(
                        &at,
                        "a question needs en, zh and expect".to_string(),
                    ));
                }
                ctx.answer(&q.answer)?;
            }
            after_step.push(ctx.clients.clone());
        }
        let mut ids = BTreeSet::new();
        for ex in &self.exercises {
            let at = format!("exercise {:?}", ex.id);
            if !ids.insert(ex.id.clone()) {
                return Err(invalid(&at, "duplicate id".to_string()));
            }
            if ex.start_after_step > self.steps.len() {
                return Err(invalid(
                    &at,
                    format!(
                        "start_after_step {} > {} steps",
                        ex.start_after_step,
                        self.steps.len()
                    ),
                ));
            }
            let clients = match ex.start_after_step {
                0 => BTreeSet::new(),
                n => after_step[n - 1].clone(),
            };
            for script in [&ex.solution, &ex.non_solution] {
                let mut c = Ctx {
                    servers,
                    clients: clients.clone(),
                    at: at.clone(),
                };
                for a in script {
                    c.action(a)?;
                }
            }
            match &ex.goal {
                Goal::LeaderIs(s) => ctx.server(*s)?,
                Goal::SyncMode(m) => ctx.one_of("sync mode", m, &SYNC_MODES)?,
                Goal::WinsOn {
                    leader,
                    over,
                    field,
                } => {
                    ctx.server(*leader)?;
                    ctx.server(*over)?;
                    ctx.one_of("vote field", field, &VOTE_FIELDS)?;
                    if leader == over {
                        return Err(invalid(
                            &at,
                            "wins_on: leader and over are one server".to_string(),
                        ));
                    }
                }
                Goal::LeaderBackToLooking(s) => ctx.server(*s)?,
                Goal::Notified { client, .. }
                | Goal::MissedUpdate { client, .. }
                | Goal::Rejected { client, .. }
                | Goal::ReadLatest { client, .. }
                | Goal::MovedSession { client } => {
                    // The client must exist once the solution has run.
                    let mut c = Ctx {
                        servers,
                        clients: clients.clone(),
                        at: at.clone(),
                    };
                    for a in &ex.solution {
                        c.action(a)?;
                    }
                    c.client(client)?;
                }
                Goal::LoseUncommittedProposal
                | Goal::CommittedByNextLeader
                | Goal::Znode { .. }
                | Goal::NoLeaderWith { .. } => {}
            }
            if ex.title.en.is_empty()
                || ex.title.zh.is_empty()
                || ex.hint.en.is_empty()
                || ex.hint.zh.is_empty()
            {
                return Err(invalid(
                    &at,
                    "title and hint need both en and zh".to_string(),
                ));
            }
        }
        Ok(())
    }
}
