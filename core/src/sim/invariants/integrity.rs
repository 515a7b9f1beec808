//! **Integrity** (Zab.tla, ZAB paper): a server delivers only transactions some leader
//! proposed. Every `Delivered` zxid must have been `Proposed` before, by the leader of its
//! epoch.

use alloc::collections::BTreeMap;
use alloc::format;

use super::{violation, Violation};
use crate::time::Instant;
use crate::trace::TraceEvent;
use crate::zxid::{Sid, Zxid};

#[derive(Clone, Debug, Default)]
pub struct Integrity {
    pub proposed_by: BTreeMap<Zxid, Sid>,
}

impl Integrity {
    pub fn observe(
        &mut self,
        time: Instant,
        node: Sid,
        event: &TraceEvent,
    ) -> Result<(), Violation> {
        match event {
            TraceEvent::Proposed { zxid } => {
                if let Some(other) = self.proposed_by.insert(*zxid, node) {
                    return Err(violation(
                        "Integrity",
                        time,
                        &[other, node],
                        format!("zxid {zxid} proposed twice (by {other} and by {node})"),
                    ));
                }
            }
            TraceEvent::Delivered { zxid, .. } if !self.proposed_by.contains_key(zxid) => {
                return Err(violation(
                    "Integrity",
                    time,
                    &[node],
                    format!("server {node} delivered zxid {zxid}, which no leader proposed"),
                ));
            }
            _ => {}
        }
        Ok(())
    }
}
