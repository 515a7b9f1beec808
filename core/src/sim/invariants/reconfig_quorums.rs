//! **A commit during a reconfiguration is durable on a quorum of the old and of the new
//! member list** (ZooKeeper 3.5's dynamic reconfiguration, Shraer et al., "Dynamic
//! Reconfiguration of Primary/Backup Clusters", USENIX ATC 2012; Leader.tryToCommit's
//! `qvAcksetPairs`): while a reconfig is proposed and not yet committed, the leader commits a
//! zxid (the reconfig's own included) only once a majority of the voters of *each* list logged
//! it. Servers that have not activated the new list still elect with the old one, the others
//! with the new one; a commit on only one side's quorum can be lost by an election on the
//! other side.
//!
//! [`committed_durably`](super::committed_durably) checks the leader's active list; this
//! checks its pending one, at the moment of the commit.

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
    pending_version: Zxid,
    pending: &Ensemble,
    disks: impl Iterator<Item = (Sid, &'a DurableState<T, S>)>,
) -> Result<(), Violation> {
    let holders: Vec<Sid> = disks
        .filter(|(sid, d)| {
            pending.is_voter(*sid)
                && (d.log.binary_search_by_key(&zxid, |e| e.zxid).is_ok()
                    || d.snapshot.as_ref().is_some_and(|(s, _)| *s >= zxid))
        })
        .map(|(sid, _)| sid)
        .collect();
    if pending.is_quorum(&holders) {
        return Ok(());
    }
    let voters: Vec<Sid> = pending.voters().collect();
    Err(violation_on(
        "ReconfigQuorums",
        now,
        &[leader],
        alloc::vec![zxid],
        format!(
            "server {leader} committed {zxid} while reconfig {pending_version} (voters {voters:?}) \
             was pending and only {holders:?} of its voters had it on disk"
        ),
    ))
}
