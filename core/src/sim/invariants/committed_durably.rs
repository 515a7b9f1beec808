//! **A commit is durable on a quorum** (ZAB paper, broadcast: the leader commits once a quorum
//! has *logged* the proposal; ZooKeeper: "a follower writes the proposal to its disk log first,
//! then ACKs"): at the moment a leader commits a zxid, a quorum of voters' disks holds it.
//!
//! Stronger than counting ACKs: an ACK that no longer stands for what the disk holds (the
//! learner was TRUNCated or restarted since) breaks this at once, long before a later election
//! loses the write.

use alloc::format;
use alloc::vec::Vec;

use super::{violation_on, Violation};
use crate::config::Ensemble;
use crate::durable::DurableState;
use crate::time::Instant;
use crate::zxid::{Sid, Zxid};

pub fn check<'a, T: 'a, S: 'a>(
    now: Instant,
    leader: Sid,
    zxid: Zxid,
    ensemble: &Ensemble,
    disks: impl Iterator<Item = (Sid, &'a DurableState<T, S>)>,
) -> Result<(), Violation> {
    let holders: Vec<Sid> = disks
        .filter(|(sid, d)| {
            ensemble.is_voter(*sid)
                && (d.log.binary_search_by_key(&zxid, |e| e.zxid).is_ok()
                    || d.snapshot.as_ref().is_some_and(|(s, _)| *s >= zxid))
        })
        .map(|(sid, _)| sid)
        .collect();
    if ensemble.is_quorum(&holders) {
        return Ok(());
    }
    Err(violation_on(
        "CommittedDurably",
        now,
        &[leader],
        alloc::vec![zxid],
        format!("server {leader} committed {zxid} while only {holders:?} had it on disk"),
    ))
}
