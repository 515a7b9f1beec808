//! **Promises only grow** (ZAB paper: f.p and f.a; Zab.tla's acceptedEpoch/currentEpoch): on a
//! server's disk, acceptedEpoch and currentEpoch never decrease, and currentEpoch never exceeds
//! acceptedEpoch. Only the WipeDisk fault, which is amnesia, resets them. Checked every time a
//! persist request becomes durable.

use alloc::format;

use super::{violation, Violation};
use crate::time::Instant;
use crate::zxid::{Epoch, Sid};

pub fn check(
    now: Instant,
    sid: Sid,
    before: (Epoch, Epoch),
    after: (Epoch, Epoch),
    discarded: bool,
) -> Result<(), Violation> {
    let ((acc0, cur0), (acc1, cur1)) = (before, after);
    let detail = if acc1 < acc0 {
        format!("server {sid}'s acceptedEpoch went back from {acc0} to {acc1}")
    } else if cur1 < cur0 && !(discarded && cur1 == 0) {
        format!("server {sid}'s currentEpoch went back from {cur0} to {cur1}")
    } else if cur1 > acc1 {
        format!("server {sid}'s currentEpoch {cur1} is above its acceptedEpoch {acc1}")
    } else {
        return Ok(());
    };
    Err(violation("EpochMonotonicity", now, &[sid], detail))
}
