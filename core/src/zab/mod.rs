//! ZAB's three phases after an election (docs/protocol.md §3): discovery (FOLLOWERINFO, LEADERINFO,
//! ACKEPOCH), synchronization (DIFF, TRUNC or SNAP, then NEWLEADER and UPTODATE) and broadcast
//! (PROPOSAL, ACK, COMMIT, INFORM, PING), split by role.

pub mod leader;
pub mod leader_broadcast;
pub mod learner;
#[cfg(test)]
mod learner_tests;
pub mod sync;
