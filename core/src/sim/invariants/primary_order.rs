//! **LocalPrimaryOrder / GlobalPrimaryOrder** (Zab.tla, ZAB paper): a server delivers in zxid
//! order — within an epoch in the order the leader proposed (counter order), and older epochs
//! before newer ones. Between two state resets (snapshot installed, truncation, recovery)
//! each delivered zxid must be greater than the previous one.

use alloc::collections::BTreeMap;
use alloc::format;

use super::{violation, Violation};
use crate::time::Instant;
use crate::trace::TraceEvent;
use crate::zxid::{Sid, Zxid};

#[derive(Clone, Debug, Default)]
pub struct PrimaryOrder {
    pub last_delivered: BTreeMap<Sid, Zxid>,
}

impl PrimaryOrder {
    pub fn observe(
        &mut self,
        time: Instant,
        node: Sid,
        event: &TraceEvent,
    ) -> Result<(), Violation> {
        match event {
            TraceEvent::StateReset { zxid, .. } => {
                self.last_delivered.insert(node, *zxid);
            }
            TraceEvent::Delivered { zxid, .. } => {
                if let Some(last) = self.last_delivered.get(&node) {
                    if zxid <= last {
                        return Err(violation(
                            "PrimaryOrder",
                            time,
                            &[node],
                            format!("server {node} delivered {zxid} after {last}"),
                        ));
                    }
                }
                self.last_delivered.insert(node, *zxid);
            }
            _ => {}
        }
        Ok(())
    }

    /// A crash ends an incarnation; the next starts with a `StateReset`.
    pub fn forget(&mut self, node: Sid) {
        self.last_delivered.remove(&node);
    }
}
