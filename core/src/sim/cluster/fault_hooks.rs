//! The cluster's continuous-fault hooks (see [`FaultModel`]): setting and calming the model,
//! per-server clock rates, and crash points firing with their automatic restart. Split from
//! `cluster.rs` so the event loop reads on its own.

use crate::machine::StateMachine;
use crate::sim::fault_model::{CrashPoint, FaultModel};
use crate::sim::scenario::Action;
use crate::trace::HostEvent;
use crate::zxid::Sid;

use super::{Cluster, Event};

impl<M: StateMachine + Clone> Cluster<M> {
    /// Sets the continuous faults (slow fsyncs, crash points, clock rates); see [`FaultModel`].
    pub fn set_fault_model(&mut self, faults: FaultModel) {
        self.faults = faults;
    }

    pub fn fault_model(&self) -> &FaultModel {
        &self.faults
    }

    /// Ends the continuous faults (crash points, slow fsyncs) and every pause, for the liveness
    /// phase; clock rates stay, they are not faults a cluster recovers from.
    pub fn calm(&mut self) {
        let clock_ppm = core::mem::take(&mut self.faults.clock_ppm);
        self.faults = FaultModel {
            clock_ppm,
            ..FaultModel::default()
        };
        let now = self.now;
        for n in self.nodes.values_mut() {
            n.paused_until = n.paused_until.min(now);
        }
    }

    /// A server's clock rate offset (0 unless the fault model skews it).
    pub(super) fn ppm(&self, sid: Sid) -> i32 {
        if self.faults.clock_ppm.is_empty() {
            return 0;
        }
        self.faults.clock_ppm.get(&sid).copied().unwrap_or(0)
    }

    /// Whether an armed crash point fires now (one draw per matching moment).
    pub(super) fn crash_point_fires(&mut self, point: CrashPoint) -> bool {
        match self.faults.crash_chance(point) {
            Some(chance) => self.rng.chance(chance),
            None => false,
        }
    }

    /// Kills a server at a crash point; it restarts by itself after `restart_after_ms`.
    pub(super) fn crash_at_point(&mut self, sid: Sid) {
        if self.nodes.get(&sid).is_none_or(|n| n.peer.is_none()) {
            return;
        }
        self.record(sid, HostEvent::CrashPoint);
        self.do_action(Action::Crash(sid));
        let (lo, hi) = self.faults.restart_after_ms;
        let at = self.now + self.rng.range(lo, hi);
        self.push_event(at, Event::Action(Action::Restart(sid)));
    }
}
