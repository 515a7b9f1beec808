//! **PrefixConsistency / Agreement / TotalOrder** (Zab.tla, ZAB paper §III): any two servers
//! that have applied through the same zxid hold the same state there.
//!
//! Every delivery and every state reset reports the state machine's digest after it; the
//! first digest seen at a zxid becomes the reference and every later one must equal it. Since a
//! zxid names one proposal of one epoch's leader, equal digests at a zxid mean equal histories
//! up to it (the test machine's digest is a hash chain over the whole history).

use alloc::collections::BTreeMap;
use alloc::format;

use super::{violation, Violation};
use crate::time::Instant;
use crate::trace::TraceEvent;
use crate::zxid::{Sid, Zxid};

#[derive(Clone, Debug, Default)]
pub struct Agreement {
    /// zxid → (digest, first server seen with it).
    pub digest_at: BTreeMap<Zxid, (u64, Sid)>,
}

impl Agreement {
    pub fn observe(
        &mut self,
        time: Instant,
        node: Sid,
        event: &TraceEvent,
    ) -> Result<(), Violation> {
        let (zxid, digest) = match event {
            TraceEvent::Delivered { zxid, digest } => (*zxid, *digest),
            TraceEvent::StateReset { zxid, digest, .. } => (*zxid, *digest),
            _ => return Ok(()),
        };
        match self.digest_at.get(&zxid) {
            Some((expected, first)) if *expected != digest => Err(violation(
                "PrefixConsistency",
                time,
                &[*first, node],
                format!(
                    "server {node} has state {digest:#018x} at zxid {zxid} but server {first} had {expected:#018x}"
                ),
            )),
            Some(_) => Ok(()),
            None => {
                self.digest_at.insert(zxid, (digest, node));
                Ok(())
            }
        }
    }
}
