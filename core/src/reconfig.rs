//! Dynamic reconfiguration (ZooKeeper 3.5+, docs/protocol.md §2.8): the ensemble's membership
//! is replicated state. A `reconfig` request reaches the leader, which checks it as
//! PrepRequestProcessor does (`case OpCode.reconfig`) and turns it into the new member list;
//! that list travels as an ordinary transaction (ZooKeeper's is a SetDataTxn of
//! `/zookeeper/config`), and its zxid becomes the configuration's version.
//!
//! This module holds what does not depend on a peer's state: the request, its errors (with
//! ZooKeeper's `KeeperException.Code` values, so a host can answer a client unchanged), and
//! how a request and the current members give the next member list. The peer side (who may
//! propose one, the old-and-new quorum rule, activation) is `core/src/peer/reconfig.rs`.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::config::{Ensemble, LearnerType};
use crate::zxid::{Sid, Zxid};

/// Most servers one configuration may name: bounds what a client's member list can make the
/// leader build (ZooKeeper has no limit; ten times the largest ensemble anyone runs).
pub const MAX_MEMBERS: usize = 255;

/// Longest server spec ([`ReconfigRequest::specs`]) a request may carry, in bytes: a
/// `host:port:port:role;host:port` line is far shorter, and the limit bounds the config text
/// the leader writes (at most [`MAX_MEMBERS`] lines of it).
pub const MAX_SPEC_BYTES: usize = 512;
/// Most auth ids a reconfig carries (a connection holds at most
/// [`crate::session::MAX_AUTH_IDS`]).
pub const MAX_AUTH_IDS: usize = 16;

/// A client's `reconfig` (ZooKeeper's `ReconfigRequest`): incremental (`joining` and
/// `leaving`) or non-incremental (`new_members`), optionally only if the current
/// configuration is still `from_config` (`curConfigId`, -1 on the wire for "any").
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReconfigRequest {
    /// Servers to add, or whose role to change (a server already present is replaced).
    pub joining: Vec<(Sid, LearnerType)>,
    /// Servers to remove.
    pub leaving: Vec<Sid>,
    /// The whole new member list; when set, `joining` and `leaving` must be empty.
    pub new_members: Option<Vec<(Sid, LearnerType)>>,
    /// The version (zxid) the current configuration must have, if any.
    pub from_config: Option<Zxid>,
    /// For each joining or new member, the text after `server.N=` exactly as the client wrote
    /// it (e.g. `0.0.0.0:1234:2345:observer;0.0.0.0:3456`). Opaque to the protocol: a state
    /// machine that keeps ZooKeeper's config text ([`crate::tree::DataTree`]) writes it into
    /// `/zookeeper/config`. At most [`MAX_MEMBERS`] entries of at most [`MAX_SPEC_BYTES`]
    /// bytes each, else the leader refuses the request with BadArguments.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub specs: Vec<(Sid, String)>,
    /// The requester's ids as (scheme, id) (ZooKeeper's `Request.authInfo`, which a learner
    /// forwards in the QuorumPacket's authinfo): the leader's state machine checks WRITE on
    /// the configuration with them, after every other check, as PrepRequestProcessor does.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub auth: Vec<(String, String)>,
}

impl ReconfigRequest {
    /// The size limits on [`Self::specs`] (the leader checks them before anything else about
    /// the member list).
    pub fn check_specs(&self) -> Result<(), ReconfigError> {
        if self.specs.len() > MAX_MEMBERS
            || self.specs.iter().any(|(_, s)| s.len() > MAX_SPEC_BYTES)
            || self.auth.len() > MAX_AUTH_IDS
            || self
                .auth
                .iter()
                .any(|(s, i)| s.len() + i.len() > MAX_SPEC_BYTES)
        {
            return Err(ReconfigError::BadArguments);
        }
        Ok(())
    }

    /// The spec the client gave for `sid`, if any (the last one when named twice).
    pub fn spec_of(&self, sid: Sid) -> Option<&str> {
        self.specs
            .iter()
            .rev()
            .find(|(s, _)| *s == sid)
            .map(|(_, spec)| spec.as_str())
    }
}

/// Why the leader refused a reconfig (the client gets the matching KeeperException).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ReconfigError {
    /// `reconfigEnabled` is false (ZooKeeper: "Reconfig is disabled").
    Disabled,
    /// A reconfig is proposed and not yet committed (only one at a time).
    InProgress,
    /// `from_config` is not the current configuration's version.
    BadVersion,
    /// The new configuration's voters that are connected and synced are not a quorum of it.
    NewConfigNoQuorum,
    /// The request contradicts itself or would leave no voter.
    BadArguments,
    /// The requester may not write the configuration (only the super user, or `skipACL`).
    NoAuth,
}

impl ReconfigError {
    /// ZooKeeper's `KeeperException.Code` value.
    pub fn code(self) -> i32 {
        match self {
            ReconfigError::Disabled => -123,
            ReconfigError::InProgress => -14,
            ReconfigError::BadVersion => -103,
            ReconfigError::NewConfigNoQuorum => -13,
            ReconfigError::BadArguments => -8,
            ReconfigError::NoAuth => -102,
        }
    }
}

/// The member list `request` asks for, given the current one (PrepRequestProcessor's
/// incremental and non-incremental branches). Leaves the quorum and version checks, which
/// need the leader's state, to the caller.
pub fn next_members(
    current: &Ensemble,
    request: &ReconfigRequest,
) -> Result<Ensemble, ReconfigError> {
    let members = match &request.new_members {
        Some(list) => {
            if !request.joining.is_empty() || !request.leaving.is_empty() {
                return Err(ReconfigError::BadArguments);
            }
            if list.len() > MAX_MEMBERS {
                return Err(ReconfigError::BadArguments);
            }
            let mut members = BTreeMap::new();
            for (sid, role) in list {
                // A server named twice is a malformed list (QuorumPeerConfig refuses it too).
                if *sid == 0 || members.insert(*sid, *role).is_some() {
                    return Err(ReconfigError::BadArguments);
                }
            }
            members
        }
        None => {
            if request.joining.len() > MAX_MEMBERS || request.leaving.len() > MAX_MEMBERS {
                return Err(ReconfigError::BadArguments);
            }
            let mut members = current.members.clone();
            for sid in &request.leaving {
                // ZooKeeper: "Reconfig failed - server id X is being both added and removed".
                if request.joining.iter().any(|(j, _)| j == sid) {
                    return Err(ReconfigError::BadArguments);
                }
                members.remove(sid);
            }
            for (sid, role) in &request.joining {
                if *sid == 0 {
                    return Err(ReconfigError::BadArguments);
                }
                members.insert(*sid, *role);
            }
            if members.len() > MAX_MEMBERS {
                return Err(ReconfigError::BadArguments);
            }
            members
        }
    };
    let next = Ensemble { members };
    // QuorumMaj with no voter has no quorum at all: nothing could ever commit again.
    if next.voter_count() == 0 {
        return Err(ReconfigError::BadArguments);
    }
    Ok(next)
}

/// Whether `sids` is a quorum of every configuration in `configs` (ZooKeeper's
/// `qvAcksetPairs`: while a reconfig is pending, the old and the new configuration).
pub fn is_quorum_of_all(configs: &[&Ensemble], sids: &[Sid]) -> bool {
    configs.iter().all(|c| c.is_quorum(sids))
}

/// A member list as a chain-machine transaction: the tag in the top 16 bits, then two bits
/// per server for servers 1..=24 (0 absent, 1 participant, 2 observer). Client write ids of
/// the protocol tests count up from 1 and never reach the tag.
pub const CHAIN_RECONFIG_TAG: u64 = 0xC0F1 << 48;

/// Largest server id a chain-machine reconfig can name.
pub const CHAIN_RECONFIG_MAX_SID: Sid = 24;

/// Encodes `members` as a chain-machine transaction; `None` when a server id is above
/// [`CHAIN_RECONFIG_MAX_SID`].
pub fn chain_encode(members: &Ensemble) -> Option<u64> {
    let mut word = CHAIN_RECONFIG_TAG;
    for (sid, role) in &members.members {
        if *sid == 0 || *sid > CHAIN_RECONFIG_MAX_SID {
            return None;
        }
        let bits = match role {
            LearnerType::Participant => 1u64,
            LearnerType::Observer => 2,
        };
        word |= bits << (2 * (sid - 1));
    }
    Some(word)
}

/// The member list a chain-machine transaction carries, if it is a reconfig.
pub fn chain_decode(word: u64) -> Option<Ensemble> {
    if word & (0xFFFF << 48) != CHAIN_RECONFIG_TAG {
        return None;
    }
    let mut members = BTreeMap::new();
    for sid in 1..=CHAIN_RECONFIG_MAX_SID {
        match (word >> (2 * (sid - 1))) & 3 {
            1 => {
                members.insert(sid, LearnerType::Participant);
            }
            2 => {
                members.insert(sid, LearnerType::Observer);
            }
            _ => {}
        }
    }
    Some(Ensemble { members })
}

#[cfg(test)]
mod tests {
    use super::*;
    use LearnerType::{Observer, Participant};

    #[test]
    fn incremental_adds_removes_and_changes_roles() {
        let current = Ensemble::new(3, 1);
        let req = ReconfigRequest {
            joining: alloc::vec![(4, Participant), (5, Observer)],
            leaving: alloc::vec![3],
            ..Default::default()
        };
        let next = next_members(&current, &req).expect("valid");
        assert_eq!(next.voters().collect::<Vec<_>>(), [1, 2, 4]);
        assert_eq!(next.members.get(&5), Some(&Observer));
        assert!(!next.is_member(3));
    }

    #[test]
    fn non_incremental_replaces_the_list_and_refuses_mixing_or_duplicates() {
        let current = Ensemble::new(3, 0);
        let list = alloc::vec![(1, Participant), (2, Observer), (3, Participant)];
        let req = ReconfigRequest {
            new_members: Some(list.clone()),
            ..Default::default()
        };
        let next = next_members(&current, &req).expect("valid");
        assert_eq!(next.voters().collect::<Vec<_>>(), [1, 3]);
        let mixed = ReconfigRequest {
            leaving: alloc::vec![1],
            new_members: Some(list),
            ..Default::default()
        };
        assert_eq!(
            next_members(&current, &mixed),
            Err(ReconfigError::BadArguments)
        );
        let twice = ReconfigRequest {
            new_members: Some(alloc::vec![(1, Participant), (1, Observer)]),
            ..Default::default()
        };
        assert_eq!(
            next_members(&current, &twice),
            Err(ReconfigError::BadArguments)
        );
    }

    #[test]
    fn a_server_both_joining_and_leaving_or_no_voter_left_is_refused() {
        let current = Ensemble::new(3, 0);
        let both = ReconfigRequest {
            joining: alloc::vec![(2, Observer)],
            leaving: alloc::vec![2],
            ..Default::default()
        };
        assert_eq!(
            next_members(&current, &both),
            Err(ReconfigError::BadArguments)
        );
        let none = ReconfigRequest {
            leaving: alloc::vec![1, 2, 3],
            ..Default::default()
        };
        assert_eq!(
            next_members(&current, &none),
            Err(ReconfigError::BadArguments)
        );
    }

    #[test]
    fn quorum_of_all_needs_a_majority_of_old_and_of_new() {
        let old = Ensemble::new(5, 0);
        let new = next_members(
            &old,
            &ReconfigRequest {
                leaving: alloc::vec![4, 5],
                ..Default::default()
            },
        )
        .expect("valid");
        // {1, 2} is a majority of {1, 2, 3} but not of {1..=5}.
        assert!(new.is_quorum(&[1, 2]));
        assert!(!is_quorum_of_all(&[&old, &new], &[1, 2]));
        assert!(is_quorum_of_all(&[&old, &new], &[1, 2, 4]));
    }

    #[test]
    fn chain_encoding_round_trips_and_leaves_write_ids_alone() {
        let e = Ensemble::new(5, 2);
        let word = chain_encode(&e).expect("ids fit");
        assert_eq!(chain_decode(word), Some(e));
        assert_eq!(chain_decode(1), None);
        assert_eq!(chain_decode(u32::MAX as u64), None);
        let mut big = Ensemble::new(1, 0);
        big.members.insert(25, Participant);
        assert_eq!(chain_encode(&big), None);
        assert_eq!(ReconfigError::InProgress.code(), -14);
        assert_eq!(ReconfigError::Disabled.code(), -123);
    }

    #[test]
    fn specs_are_bounded_and_looked_up_by_sid() {
        let mut req = ReconfigRequest {
            specs: alloc::vec![(4, String::from("a:1:2:participant;3"))],
            ..Default::default()
        };
        assert_eq!(req.check_specs(), Ok(()));
        assert_eq!(req.spec_of(4), Some("a:1:2:participant;3"));
        assert_eq!(req.spec_of(5), None);
        req.specs.push((5, "x".repeat(MAX_SPEC_BYTES)));
        assert_eq!(req.check_specs(), Ok(()));
        req.specs.push((6, "x".repeat(MAX_SPEC_BYTES + 1)));
        assert_eq!(req.check_specs(), Err(ReconfigError::BadArguments));
        let many = ReconfigRequest {
            specs: (1..=MAX_MEMBERS as u64 + 1)
                .map(|s| (s, String::from("h:1:2")))
                .collect(),
            ..Default::default()
        };
        assert_eq!(many.check_specs(), Err(ReconfigError::BadArguments));
    }
}
