//! Invariants checked after every simulated event, one per file, each named after Apache
//! ZooKeeper's TLA+ specification (`zookeeper-specifications`) or the ZAB paper (Junqueira,
//! Reed, Serafini, DSN 2011), docs/protocol.md §9.
//!
//! The checker reads the trace as it is produced, so checking costs one look at each record.

pub mod acked_writes;
pub mod agreement;
pub mod committed_durably;
pub mod durable_acks;
pub mod epochs;
pub mod integrity;
pub mod leadership;
pub mod liveness;
pub mod primary_order;
pub mod reconfig_quorums;

use alloc::string::String;
use alloc::vec::Vec;

use crate::machine::StateMachine;
use crate::peer::Peer;
use crate::time::Instant;
use crate::trace::{HostEvent, TraceRecord};
use crate::zxid::{Sid, Zxid};

/// A broken invariant: which, when, where, and what was seen.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Violation {
    pub invariant: String,
    pub time: Instant,
    pub nodes: Vec<Sid>,
    /// The transactions the violation is about, where an invariant names them (the lab's bug
    /// museum highlights them in its logs view); empty otherwise.
    #[cfg_attr(feature = "serde", serde(default))]
    pub zxids: Vec<Zxid>,
    pub detail: String,
}

impl core::fmt::Display for Violation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} violated at {} ms on {:?}: {}",
            self.invariant, self.time.0, self.nodes, self.detail
        )
    }
}

pub(crate) fn violation(
    invariant: &str,
    time: Instant,
    nodes: &[Sid],
    detail: String,
) -> Violation {
    Violation {
        invariant: invariant.into(),
        time,
        nodes: nodes.to_vec(),
        zxids: Vec::new(),
        detail,
    }
}

/// A broken invariant about particular transactions.
pub(crate) fn violation_on(
    invariant: &str,
    time: Instant,
    nodes: &[Sid],
    zxids: Vec<Zxid>,
    detail: String,
) -> Violation {
    Violation {
        zxids,
        ..violation(invariant, time, nodes, detail)
    }
}

/// Runs every invariant over the trace as it is produced.
#[derive(Clone, Debug)]
pub struct Checker<M: StateMachine> {
    pub leadership: leadership::Leadership,
    pub agreement: agreement::Agreement,
    pub integrity: integrity::Integrity,
    pub primary_order: primary_order::PrimaryOrder,
    /// Writes acknowledged to clients: (zxid, txn).
    pub acked: Vec<(Zxid, M::Request)>,
    /// Whether a state contains a write (set by the workload).
    pub contains: Option<fn(&M, &M::Request) -> bool>,
}

impl<M: StateMachine> Checker<M> {
    pub fn new() -> Checker<M> {
        Checker {
            leadership: Default::default(),
            agreement: Default::default(),
            integrity: Default::default(),
            primary_order: Default::default(),
            acked: Vec::new(),
            contains: None,
        }
    }

    pub fn observe(&mut self, record: &TraceRecord) -> Result<(), Violation> {
        match &record.event {
            HostEvent::Peer(event) => {
                self.leadership.observe(record.time, record.node, event)?;
                self.integrity.observe(record.time, record.node, event)?;
                self.agreement.observe(record.time, record.node, event)?;
                self.primary_order
                    .observe(record.time, record.node, event)?;
            }
            HostEvent::Crashed => self.primary_order.forget(record.node),
            _ => {}
        }
        Ok(())
    }

    /// At the moment a leader is established it must hold every acknowledged write.
    pub fn check_leader_has_acked_writes(
        &self,
        now: Instant,
        sid: Sid,
        peer: &Peer<M>,
    ) -> Result<(), Violation> {
        acked_writes::check(self, now, sid, peer, "at leader establishment")
    }

    /// End of run: every running server holds every acknowledged write.
    pub fn check_final(&self, now: Instant, peers: &[(Sid, &Peer<M>)]) -> Result<(), Violation> {
        for (sid, peer) in peers {
            acked_writes::check(self, now, *sid, peer, "at the end of the run")?;
        }
        Ok(())
    }
}

impl<M: StateMachine> Default for Checker<M> {
    fn default() -> Self {
        Checker::new()
    }
}
