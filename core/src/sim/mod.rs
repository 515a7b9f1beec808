//! The cluster simulator: N peers, a seeded virtual clock, per-link FIFO channels with latency
//! and jitter, faults, client writes, a trace of everything, and the invariants of ZooKeeper's
//! TLA+ specifications checked as the run goes.
//!
//! A run is a pure function of (configuration, seed, actions): the event queue is ordered by
//! (time, sequence number), randomness comes from one [`crate::rng::Rng`], and only ordered
//! containers are used. Running the same seed twice gives the same [`SimTrace::hash`].
//!
//! Faults follow the vocabulary of turmoil/madsim and TigerBeetle's VOPR: crash (the peer and
//! everything not yet persisted are gone; what was durable stays), restart
//! (`Peer::recover` from the durable state), wipe disk, drop one message, cut a link one way
//! or both, heal, delay and drop rates per link.

pub mod bench;
mod cluster;
pub mod fault_model;
pub mod invariants;
mod network;
mod scenario;
pub mod sweep;
pub mod sweep_tree;
mod trace;
pub mod zk;

pub use crate::trace::{HostEvent, TraceRecord};
pub use cluster::{ClientRequest, ClientResult, Cluster, InFlight, SimNode};
pub use fault_model::{CrashPoint, FaultModel};
pub use network::LinkState;
pub use scenario::{Action, Scenario, ScheduledAction, SimConfig};
pub use trace::SimTrace;
