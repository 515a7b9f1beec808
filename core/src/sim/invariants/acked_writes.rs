//! **No acknowledged write is lost** (ZAB paper, primary integrity; ZooKeeper's durability
//! promise): once a client got a successful reply to a write, every leader established later
//! holds it, and so does every server at the end of a run — across any sequence of crashes
//! and restarts (disks are not wiped in the sweep; a wiped disk is amnesia, which ZAB does not
//! tolerate on a quorum).

use alloc::format;

use super::{violation, Checker, Violation};
use crate::machine::StateMachine;
use crate::peer::Peer;
use crate::time::Instant;
use crate::zxid::Sid;

pub fn check<M: StateMachine>(
    checker: &Checker<M>,
    now: Instant,
    sid: Sid,
    peer: &Peer<M>,
    when: &str,
) -> Result<(), Violation> {
    let Some(contains) = checker.contains else {
        return Ok(());
    };
    for (zxid, txn) in &checker.acked {
        if *zxid > peer.last_processed_zxid() {
            // Not reached yet (a server still catching up); the final convergence check
            // requires every server to reach the leader's zxid.
            continue;
        }
        if !contains(peer.machine(), txn) {
            return Err(violation(
                "AckedWriteDurability",
                now,
                &[sid],
                format!("server {sid} lacks the write acknowledged at zxid {zxid} ({when})"),
            ));
        }
    }
    Ok(())
}
