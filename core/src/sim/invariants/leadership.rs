//! **Leadership** (Zab.tla `Leadership1`/`Leadership2`, ZkV3_7_0.tla): across the whole run,
//! each epoch has at most one established leader. "Established" is a quorum of NEWLEADER
//! ACKs (ZabState BROADCAST).

use alloc::collections::BTreeMap;
use alloc::format;

use super::{violation, Violation};
use crate::time::Instant;
use crate::trace::TraceEvent;
use crate::zxid::{Epoch, Sid};

#[derive(Clone, Debug, Default)]
pub struct Leadership {
    pub leader_of_epoch: BTreeMap<Epoch, Sid>,
}

impl Leadership {
    pub fn observe(
        &mut self,
        time: Instant,
        node: Sid,
        event: &TraceEvent,
    ) -> Result<(), Violation> {
        if let TraceEvent::LeaderEstablished { epoch } = event {
            match self.leader_of_epoch.get(epoch) {
                Some(other) if *other != node => {
                    return Err(violation(
                        "Leadership",
                        time,
                        &[*other, node],
                        format!("epoch {epoch} established by server {other} and again by server {node}"),
                    ));
                }
                _ => {
                    self.leader_of_epoch.insert(*epoch, node);
                }
            }
        }
        Ok(())
    }
}
