//! **Acknowledgements follow durability** (ZooKeeper's "a follower writes the proposal to its
//! disk log first, then ACKs"; ZAB paper, f.p/f.a written before ACKEPOCH/ACK(NEWLEADER);
//! ZOOKEEPER-4643/4646): a server sends
//! - ACK of a proposal only when its disk holds that proposal,
//! - ACKEPOCH only when its disk holds the acceptedEpoch it promised,
//! - the NEWLEADER (and UPTODATE) ACK only when its disk holds the new currentEpoch and every
//!   transaction the sync gave it.
//!
//! Checked at the moment the message is sent, against the sender's simulated disk.

use alloc::format;

use super::{violation, violation_on, Violation};
use crate::durable::DurableState;
use crate::machine::StateMachine;
use crate::message::Message;
use crate::peer::{Peer, PeerMessage};
use crate::time::Instant;
use crate::zxid::Sid;

/// `synced_to`: the learner's last logged zxid right after it handled its NEWLEADER (what the
/// sync gave it), as the simulator recorded it.
pub fn check<M: StateMachine>(
    now: Instant,
    sid: Sid,
    peer: &Peer<M>,
    durable: &DurableState<M::Txn, M::Snapshot>,
    synced_to: Option<crate::zxid::Zxid>,
    msg: &PeerMessage<M>,
) -> Result<(), Violation> {
    let fail = |detail: alloc::string::String| {
        Err(violation("DurableAcknowledgement", now, &[sid], detail))
    };
    let fail_on = |zxids: alloc::vec::Vec<crate::zxid::Zxid>, detail: alloc::string::String| {
        Err(violation_on(
            "DurableAcknowledgement",
            now,
            &[sid],
            zxids,
            detail,
        ))
    };
    match msg {
        Message::Ack { zxid } if zxid.is_new_epoch() => {
            let epoch = zxid.epoch();
            if durable.current_epoch < epoch {
                return fail(format!(
                    "server {sid} acknowledged NEWLEADER of epoch {epoch} with currentEpoch {} on disk",
                    durable.current_epoch
                ));
            }
            let synced = synced_to.unwrap_or(crate::zxid::Zxid::ZERO);
            if durable.last_logged_zxid() < synced {
                // The transactions the sync gave it that its disk does not hold yet.
                let durable_to = durable.last_logged_zxid();
                let missing = peer
                    .log()
                    .iter()
                    .map(|e| e.zxid)
                    .filter(|z| *z > durable_to && *z <= synced)
                    .collect();
                return fail_on(missing, format!(
                    "server {sid} acknowledged NEWLEADER of epoch {epoch} with its log durable only to {} of the {} the sync gave it",
                    durable.last_logged_zxid(),
                    synced
                ));
            }
        }
        Message::Ack { zxid } => {
            let logged = durable.log.binary_search_by_key(zxid, |e| e.zxid).is_ok()
                || durable.snapshot.as_ref().is_some_and(|(s, _)| s >= zxid);
            if !logged {
                return fail_on(
                    alloc::vec![*zxid],
                    format!("server {sid} acknowledged proposal {zxid} before its disk held it"),
                );
            }
        }
        Message::AckEpoch { .. } if durable.accepted_epoch < peer.accepted_epoch() => {
            return fail(format!(
                "server {sid} sent ACKEPOCH for epoch {} with acceptedEpoch {} on disk",
                peer.accepted_epoch(),
                durable.accepted_epoch
            ));
        }
        _ => {}
    }
    Ok(())
}
