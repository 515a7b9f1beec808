//! The lab's model, free of any browser type: one [`Cluster`] of the core's simulator replaying
//! a branch (a [`Scenario`]: configuration, seed, timed actions), rewind checkpoints, and the
//! timeline's phase bands. Every number the page shows comes from the cluster; this module only
//! decides *when* to step it.
//!
//! **Replay rule.** An action recorded at virtual time `at` is performed once every event at or
//! before `at` has been processed (and before any later event). The page keeps to the same rule
//! when a student acts (it finishes the events of the current millisecond first), so replaying
//! a branch's scenario from its seed gives the identical run — the basis of rewind, forks and
//! shareable URLs.

use std::rc::Rc;

use zablab_core::peer::Peer;
use zablab_core::sim::{
    Action, Cluster, HostEvent, Scenario, ScheduledAction, SimConfig, TraceRecord,
};
use zablab_core::trace::{TraceEvent, ZabPhase};
use zablab_core::tree::{DataTree, Request};
use zablab_core::{Instant, RequestTag, Sid};

/// The state machine the lab replicates: ZooKeeper's data tree.
pub type Machine = DataTree;
pub type LabCluster = Cluster<Machine>;
pub type LabAction = Action<Request>;
pub type LabScenario = Scenario<Request>;

/// Steps between two rewind checkpoints.
const CHECKPOINT_EVERY_STEPS: u64 = 4000;
/// At most this many checkpoints per branch (older ones are thinned out).
const MAX_CHECKPOINTS: usize = 64;
/// At most this many trace records held by a branch's checkpoints together. Each checkpoint is a
/// whole cluster, trace included, so without this bound their memory grows with the square of
/// the run's length: `?t=10000000` (≈ 900,000 records, up to 64 copies) ran the page out of
/// memory and wasm aborted with `RuntimeError: unreachable`.
const MAX_CHECKPOINT_RECORDS: u64 = 2_000_000;

/// The simulator configuration the lab starts with: the core's defaults with slower links and
/// disks, so a message's flight is visible next to the election timeouts.
pub fn lab_config(participants: u64, observers: u64) -> SimConfig {
    SimConfig {
        participants,
        observers,
        latency_ms: (15, 35),
        disk_latency_ms: (3, 8),
        ..SimConfig::default()
    }
}

/// What a server is doing on the timeline.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Band {
    Down,
    Phase(ZabPhase),
}

impl Band {
    pub fn name(self) -> &'static str {
        match self {
            Band::Down => "DOWN",
            Band::Phase(p) => p.name(),
        }
    }
}

/// One server's timeline: (start time, band, trace records it was derived from), in time order.
pub type BandRow = Vec<(u64, Band, u64)>;

/// Empty timelines: every server of `sids` down from time 0.
pub fn new_bands(sids: impl IntoIterator<Item = Sid>) -> Vec<(Sid, BandRow)> {
    sids.into_iter()
        .map(|s| (s, vec![(0, Band::Down, 0)]))
        .collect()
}

/// Extends the timelines with what trace records `from..` say: starts, crashes, wipes and phase
/// changes (shared by the lab's branches and the lessons' runs).
pub fn extend_bands(bands: &mut [(Sid, BandRow)], records: &[TraceRecord], from: usize) {
    for (i, r) in records.iter().enumerate().skip(from) {
        let band = match &r.event {
            HostEvent::Crashed | HostEvent::Wiped => Some(Band::Down),
            HostEvent::Started | HostEvent::Restarted => Some(Band::Phase(ZabPhase::Election)),
            HostEvent::Peer(TraceEvent::PhaseChanged { phase }) => Some(Band::Phase(*phase)),
            _ => None,
        };
        let Some(band) = band else { continue };
        if let Some((_, v)) = bands.iter_mut().find(|(s, _)| *s == r.node) {
            let rec = i as u64 + 1;
            match v.last_mut() {
                Some(last) if last.1 == band => {}
                Some(last) if last.0 == r.time.0 => *last = (r.time.0, band, rec),
                _ => v.push((r.time.0, band, rec)),
            }
        }
    }
}

/// A restorable moment of a branch.
#[derive(Clone)]
struct Checkpoint {
    steps: u64,
    next_action: usize,
    cluster: Rc<LabCluster>,
}

/// One line of exploration: a scenario, how far it was explored, and its phase bands.
#[derive(Clone)]
pub struct Branch {
    pub name: String,
    pub scenario: LabScenario,
    /// The furthest virtual time and step count this branch was run to.
    pub explored_ms: u64,
    pub explored_steps: u64,
    /// Per server: (start time, band), in time order; the trace-record count each came from.
    pub bands: Vec<(Sid, BandRow)>,
    /// Trace records already turned into bands.
    bands_records: u64,
    checkpoints: Vec<Checkpoint>,
}

/// The lab: branches and the cluster replaying the current one.
pub struct Lab {
    pub branches: Vec<Branch>,
    pub current: usize,
    cluster: LabCluster,
    steps: u64,
    next_action: usize,
    /// The request tag of the last client request [`Lab::act`] performed.
    last_request: Option<RequestTag>,
}

fn fresh_cluster(scenario: &LabScenario) -> LabCluster {
    Cluster::new(scenario.config.clone(), scenario.seed)
}

impl Lab {
    pub fn new(scenario: LabScenario) -> Lab {
        let cluster = fresh_cluster(&scenario);
        let bands = new_bands(cluster.ensemble().all());
        let branch = Branch {
            name: "main".into(),
            scenario,
            explored_ms: 0,
            explored_steps: 0,
            bands,
            bands_records: 0,
            checkpoints: Vec::new(),
        };
        let mut lab = Lab {
            branches: vec![branch],
            current: 0,
            cluster,
            steps: 0,
            next_action: 0,
            last_request: None,
        };
        lab.after_progress();
        lab
    }

    pub fn cluster(&self) -> &LabCluster {
        &self.cluster
    }
    pub fn branch(&self) -> &Branch {
        &self.branches[self.current]
    }
    pub fn scenario(&self) -> &LabScenario {
        &self.branch().scenario
    }
    pub fn steps(&self) -> u64 {
        self.steps
    }
    pub fn now_ms(&self) -> u64 {
        self.cluster.now().0
    }
    /// The request tag of the last write or sync [`Lab::act`] performed.
    pub fn last_request(&self) -> Option<RequestTag> {
        self.last_request
    }
    /// A running server, for the page's session layer ([`crate::page_client`]): it answers
    /// reads and keeps its connections in the tree's connection tables, nothing replicated.
    pub fn peer_mut(&mut self, sid: Sid) -> Option<&mut Peer<Machine>> {
        self.cluster.peer_mut(sid)
    }

    /// True when this moment lies before the end of what the branch explored: acting now forks.
    pub fn in_past(&self) -> bool {
        self.steps < self.branch().explored_steps
            || self.next_action < self.scenario().actions.len()
    }

    /// Performs every scripted action that is due: at or before `limit`, and before the next
    /// event (all events at or before its time are done).
    fn apply_due_actions(&mut self, limit: u64) {
        while let Some(a) = self.scenario().actions.get(self.next_action).cloned() {
            let before_next_event = match self.cluster.next_event_time() {
                Some(t) => t > a.at,
                None => true,
            };
            if a.at.0 > limit || !before_next_event {
                break;
            }
            self.cluster.run_until(a.at);
            self.cluster.act(a.action);
            self.next_action += 1;
        }
    }

    /// Processes one event, after the scripted actions due before it. Returns false when no
    /// event is left.
    fn advance_one(&mut self) -> bool {
        self.apply_due_actions(u64::MAX);
        self.step_only()
    }

    fn step_only(&mut self) -> bool {
        if self.cluster.step() {
            self.steps += 1;
            if self.steps % CHECKPOINT_EVERY_STEPS == 0 {
                self.checkpoint();
            }
            true
        } else {
            false
        }
    }

    fn checkpoint(&mut self) {
        let (steps, next_action) = (self.steps, self.next_action);
        let cps = &mut self.branches[self.current].checkpoints;
        if cps.last().is_some_and(|c| c.steps >= steps) {
            return;
        }
        cps.push(Checkpoint {
            steps,
            next_action,
            cluster: Rc::new(self.cluster.clone()),
        });
        let held =
            |cps: &[Checkpoint]| -> u64 { cps.iter().map(|c| c.cluster.trace().len()).sum() };
        while cps.len() > MAX_CHECKPOINTS || (cps.len() > 1 && held(cps) > MAX_CHECKPOINT_RECORDS) {
            // Keep every other one: spacing doubles, memory stays bounded.
            let mut i = 0;
            cps.retain(|_| {
                i += 1;
                i % 2 == 0
            });
        }
    }

    /// Runs to virtual time `t` (every event and action at or before it).
    pub fn run_to(&mut self, t: u64) {
        self.run_to_bounded(t, u64::MAX);
    }

    /// Runs at most `max_steps` events up to time `t`; returns true if it reached `t`.
    pub fn run_to_bounded(&mut self, t: u64, max_steps: u64) -> bool {
        self.run_to_inner(t, max_steps, false)
    }

    /// As [`Lab::run_to_bounded`], but stops right after the event that first breaks an
    /// invariant (and returns false), so a playing page pauses at the violation itself.
    pub fn play_to(&mut self, t: u64, max_steps: u64) -> bool {
        self.run_to_inner(t, max_steps, true)
    }

    fn run_to_inner(&mut self, t: u64, max_steps: u64, stop_at_violation: bool) -> bool {
        let start = self.steps;
        let clean = stop_at_violation && self.cluster.violation().is_none();
        loop {
            self.apply_due_actions(t);
            match self.cluster.next_event_time() {
                Some(e) if e.0 <= t => {
                    if self.steps - start >= max_steps {
                        self.after_progress();
                        return false;
                    }
                    self.step_only();
                    if clean && self.cluster.violation().is_some() {
                        self.after_progress();
                        return false;
                    }
                }
                _ => break,
            }
        }
        if t > self.cluster.now().0 {
            self.cluster.run_until(Instant(t));
        }
        self.apply_due_actions(t);
        self.after_progress();
        true
    }

    /// Processes exactly one event (after any action due before it).
    pub fn step_event(&mut self) -> bool {
        let done = self.advance_one();
        self.after_progress();
        done
    }

    /// Rewinds (or fast-forwards) to the state after `steps` events.
    pub fn seek_steps(&mut self, steps: u64) {
        if steps < self.steps {
            self.restore_before(|c| c.steps <= steps);
        }
        while self.steps < steps {
            if !self.advance_one() {
                break;
            }
        }
        let now = self.now_ms();
        self.apply_due_actions(now);
        self.after_progress();
    }

    /// Rewinds (or fast-forwards) to virtual time `t`.
    pub fn seek_time(&mut self, t: u64) {
        if t < self.now_ms() {
            self.restore_before(|c| c.cluster.now().0 <= t);
        }
        self.run_to(t);
    }

    fn restore_before(&mut self, ok: impl Fn(&Checkpoint) -> bool) {
        let cp = self
            .branch()
            .checkpoints
            .iter()
            .rev()
            .find(|c| ok(c))
            .cloned();
        match cp {
            Some(c) => {
                self.cluster = (*c.cluster).clone();
                self.steps = c.steps;
                self.next_action = c.next_action;
            }
            None => {
                self.cluster = fresh_cluster(self.scenario());
                self.steps = 0;
                self.next_action = 0;
            }
        }
    }

    /// Performs a student's action now. In the past, this forks a new branch first (the old
    /// branch stays selectable). Returns the branch the action went into.
    pub fn act(&mut self, action: LabAction) -> usize {
        // Finish the current millisecond so that a replay performs the action at the same point.
        let now = self.now_ms();
        while matches!(self.cluster.next_event_time(), Some(t) if t.0 <= now) {
            self.advance_one();
        }
        if self.in_past() {
            self.fork();
        }
        let at = self.cluster.now();
        let b = &mut self.branches[self.current];
        b.scenario.actions.push(ScheduledAction {
            at,
            action: action.clone(),
        });
        self.last_request = self.cluster.act(action);
        self.next_action += 1;
        self.after_progress();
        self.current
    }

    /// Starts a new branch from this moment: the actions done so far, nothing after.
    fn fork(&mut self) {
        let old = self.branch().clone();
        let records = self.cluster.trace().len();
        let mut scenario = old.scenario.clone();
        scenario.actions.truncate(self.next_action);
        let bands = old
            .bands
            .iter()
            .map(|(s, v)| {
                (
                    *s,
                    v.iter()
                        .copied()
                        .filter(|(_, _, r)| *r <= records)
                        .collect(),
                )
            })
            .collect();
        let checkpoints = old
            .checkpoints
            .iter()
            .filter(|c| c.steps <= self.steps)
            .cloned()
            .collect();
        let name = format!(
            "branch {} (from {} @ {} ms)",
            self.branches.len() + 1,
            old.name,
            self.now_ms()
        );
        self.branches.push(Branch {
            name,
            scenario,
            explored_ms: self.now_ms(),
            explored_steps: self.steps,
            bands,
            bands_records: records,
            checkpoints,
        });
        self.current = self.branches.len() - 1;
    }

    /// Adds a branch restored from a shared run: explored `explored_steps` events far (it is
    /// replayed when selected). The branch shown does not change.
    pub fn add_branch(&mut self, name: String, scenario: LabScenario, explored_steps: u64) {
        let bands = new_bands(self.cluster.ensemble().all());
        self.branches.push(Branch {
            name,
            scenario,
            explored_ms: 0,
            explored_steps,
            bands,
            bands_records: 0,
            checkpoints: Vec::new(),
        });
    }

    /// Switches to another branch, at the furthest point it was explored.
    pub fn select_branch(&mut self, index: usize) {
        if index >= self.branches.len() || index == self.current {
            return;
        }
        self.current = index;
        let target = self.branch().explored_steps;
        self.restore_before(|_| true);
        if self.steps > target {
            self.restore_before(|c| c.steps <= target);
        }
        self.seek_steps(target);
    }

    /// Bookkeeping after the cluster moved: extend the explored range and the phase bands.
    fn after_progress(&mut self) {
        let now = self.now_ms();
        let steps = self.steps;
        let records = self.cluster.trace().records();
        let b = &mut self.branches[self.current];
        if steps >= b.explored_steps {
            b.explored_steps = steps;
            b.explored_ms = b.explored_ms.max(now);
        }
        let len = records.len() as u64;
        if len <= b.bands_records {
            return;
        }
        extend_bands(&mut b.bands, records, b.bands_records as usize);
        b.bands_records = len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(seed: u64) -> LabScenario {
        Scenario {
            config: lab_config(3, 0),
            seed,
            actions: Vec::new(),
        }
    }

    #[test]
    fn a_run_elects_one_leader_and_rewinding_replays_it_exactly() {
        let mut lab = Lab::new(scenario(7));
        lab.run_to(5_000);
        let leader = lab.cluster().leader().expect("a leader after 5 s");
        let hash = lab.cluster().trace().hash();
        // The state at a time includes the actions at that time: act a millisecond later.
        lab.run_to(5_001);
        lab.act(Action::Crash(leader));
        lab.run_to(12_000);
        let after = lab.cluster().trace().hash();
        assert_ne!(lab.cluster().leader(), Some(leader));
        lab.seek_time(5_000);
        assert_eq!(
            lab.cluster().trace().hash(),
            hash,
            "rewind gives the same state"
        );
        lab.seek_time(12_000);
        assert_eq!(
            lab.cluster().trace().hash(),
            after,
            "replay with the action gives the same state"
        );
        // Acting in the past forks; the old branch keeps its action.
        lab.seek_time(3_000);
        lab.act(Action::Crash(1));
        assert_eq!(lab.branches.len(), 2);
        assert_eq!(lab.branches[0].scenario.actions.len(), 1);
        assert_eq!(lab.scenario().actions.len(), 1);
        lab.select_branch(0);
        assert_eq!(lab.cluster().trace().hash(), after);
    }

    #[test]
    fn a_long_run_keeps_its_checkpoints_within_the_record_bound() {
        let mut lab = Lab::new(scenario(1));
        lab.run_to(3_000_000);
        let held: u64 = lab
            .branch()
            .checkpoints
            .iter()
            .map(|c| c.cluster.trace().len())
            .sum();
        assert!(!lab.branch().checkpoints.is_empty());
        assert!(
            held <= MAX_CHECKPOINT_RECORDS,
            "checkpoints hold {held} records"
        );
        let hash = lab.cluster().trace().hash();
        lab.seek_time(1_000_000);
        lab.seek_time(3_000_000);
        assert_eq!(
            lab.cluster().trace().hash(),
            hash,
            "rewind and replay agree"
        );
    }

    #[test]
    fn replaying_a_scenario_from_scratch_matches_the_live_run() {
        let mut lab = Lab::new(scenario(11));
        lab.run_to(3_000);
        lab.act(Action::Isolate(2));
        lab.run_to(6_000);
        lab.act(Action::HealAll);
        lab.run_to(9_000);
        let mut again = Lab::new(lab.scenario().clone());
        again.run_to(9_000);
        assert_eq!(again.cluster().trace().hash(), lab.cluster().trace().hash());
    }
}
