//! Reconfig in the data tree (docs/protocol.md §2.8, §2.9): ZooKeeper's reconfig transaction
//! is a `SetDataTxn` of `/zookeeper/config` under `TxnHeader.type` 16 (`OpCode.reconfig`)
//! whose data is the new configuration in the dynamic config format:
//!
//! ```text
//! server.1=127.0.0.1:2889:3889:participant;2182
//! server.100=0.0.0.0:1234:2345:observer;0.0.0.0:3456
//! version=100000002
//! ```
//!
//! one `server.N=spec` line per member in server-id order, then `version=` and the
//! configuration's version (the reconfig's zxid) in lowercase hex without `0x`, with no
//! newline after it (kazoo reads the version as `data.split("\n")[-1].split("=")[1]`). Every
//! replica reads the member list back from that text ([`parse_members`]), so the text is the
//! replicated membership, as in ZooKeeper.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::path::CONFIG_PATH;
use super::txn::{op_code, SetDataTxn, Txn, TxnBody};
use crate::config::{Ensemble, LearnerType};
use crate::zxid::{Sid, Zxid};

/// The spec written for a member that neither the request nor the current config text gives
/// one for (the simulator's trees start with an empty `/zookeeper/config`): a placeholder
/// address, port 0, with the member's role, so the text stays parseable and the role is
/// right. A real server always has its members' lines in its config text.
pub fn placeholder_spec(role: LearnerType) -> String {
    format!("127.0.0.1:0:0:{}", role_word(role))
}

fn role_word(role: LearnerType) -> &'static str {
    match role {
        LearnerType::Participant => "participant",
        LearnerType::Observer => "observer",
    }
}

/// The dynamic config text of `members` at `version`: a `server.N=` line per member, the
/// spec from `spec_of` or else [`placeholder_spec`], then `version=<hex>` (no trailing
/// newline).
pub fn config_text<'a>(
    members: &Ensemble,
    version: Zxid,
    spec_of: impl Fn(Sid) -> Option<&'a str>,
) -> String {
    let mut text = String::new();
    for (sid, role) in &members.members {
        let spec = match spec_of(*sid) {
            Some(s) => String::from(s),
            None => placeholder_spec(*role),
        };
        text.push_str(&format!("server.{sid}={spec}\n"));
    }
    text.push_str(&format!("version={:x}", version.0));
    text
}

/// The `server.N=` lines of a config text: (N, the text after `=`). Lines that are not server
/// lines, or whose id is not a positive integer, are skipped.
pub fn server_lines(text: &str) -> impl Iterator<Item = (Sid, &str)> {
    text.lines().filter_map(|line| {
        let rest = line.trim().strip_prefix("server.")?;
        let (id, spec) = rest.split_once('=')?;
        let sid: Sid = id.trim().parse().ok()?;
        (sid != 0).then_some((sid, spec.trim()))
    })
}

/// The role a server spec names: an observer if the part before `;` (the quorum and
/// election addresses and the optional type) ends with `:observer`, else a participant.
pub fn spec_role(spec: &str) -> LearnerType {
    let addresses = spec.split(';').next().unwrap_or("");
    if addresses.trim_end().ends_with(":observer") {
        LearnerType::Observer
    } else {
        LearnerType::Participant
    }
}

/// The member list a config text names: each `server.N=` line is server N, in the role its
/// spec gives ([`spec_role`]). `None` when it has no server line.
pub fn parse_members(text: &str) -> Option<Ensemble> {
    let mut members = BTreeMap::new();
    for (sid, spec) in server_lines(text) {
        members.insert(sid, spec_role(spec));
    }
    (!members.is_empty()).then_some(Ensemble { members })
}

/// The `version=` line's value (hex, an optional `0x` tolerated), if any.
pub fn parse_version(text: &str) -> Option<Zxid> {
    text.lines().rev().find_map(|line| {
        let v = line.trim().strip_prefix("version=")?;
        let v = v.strip_prefix("0x").unwrap_or(v);
        u64::from_str_radix(v, 16).ok().map(Zxid)
    })
}

/// The member list `txn` installs, if it is a reconfig transaction (type 16, a SetData of
/// `/zookeeper/config` whose text names at least one server).
pub fn txn_members(txn: &Txn) -> Option<Ensemble> {
    if txn.txn_type != op_code::RECONFIG {
        return None;
    }
    let TxnBody::SetData(s) = &txn.body else {
        return None;
    };
    if s.path != CONFIG_PATH {
        return None;
    }
    let text = core::str::from_utf8(s.data.as_deref()?).ok()?;
    parse_members(text)
}

/// The reconfig transaction for `text` (ZooKeeper writes version -1 into its SetDataTxn, so
/// the config node's version reads -1 after a reconfig; so does ours).
pub fn reconfig_txn_of(text: String) -> Txn {
    Txn {
        client_id: 0,
        cxid: 0,
        txn_type: op_code::RECONFIG,
        body: TxnBody::SetData(SetDataTxn {
            path: String::from(CONFIG_PATH),
            data: Some(text.into_bytes()),
            version: -1,
        }),
    }
}

/// Keeps the newest `kept` of `configs` after adding `(version, members)`.
pub(crate) fn push_config(
    configs: &mut Vec<(Zxid, Ensemble)>,
    version: Zxid,
    members: Ensemble,
    kept: usize,
) {
    configs.push((version, members));
    if configs.len() > kept {
        let extra = configs.len() - kept;
        configs.drain(..extra);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LearnerType::{Observer, Participant};

    fn ensemble(list: &[(Sid, LearnerType)]) -> Ensemble {
        Ensemble {
            members: list.iter().copied().collect(),
        }
    }

    #[test]
    fn text_is_sorted_server_lines_then_a_hex_version_without_newline() {
        let e = ensemble(&[(100, Observer), (2, Participant), (1, Participant)]);
        let text = config_text(&e, Zxid::new(1, 2), |sid| match sid {
            100 => Some("0.0.0.0:1234:2345:observer;0.0.0.0:3456"),
            1 => Some("10.0.0.1:2888:3888:participant;2181"),
            _ => None,
        });
        assert_eq!(
            text,
            "server.1=10.0.0.1:2888:3888:participant;2181\n\
             server.2=127.0.0.1:0:0:participant\n\
             server.100=0.0.0.0:1234:2345:observer;0.0.0.0:3456\n\
             version=100000002"
        );
        // kazoo's reading of the version.
        let last = text.split('\n').next_back().expect("a line");
        assert_eq!(last.split('=').nth(1), Some("100000002"));
        assert_eq!(parse_version(&text), Some(Zxid::new(1, 2)));
        assert_eq!(parse_members(&text), Some(e));
    }

    #[test]
    fn parsing_reads_roles_before_the_client_address_and_skips_junk() {
        let text = "server.3=h:1:2:participant;0.0.0.0:observer\n\
                    server.4=h:1:2:observer\n\
                    server.x=h:1:2\n\
                    server.0=h:1:2\n\
                    garbage\n\
                    server.5=h:1:2;2181\n\
                    version=0x1f";
        let e = parse_members(text).expect("server lines");
        assert_eq!(e.members.get(&3), Some(&Participant));
        assert_eq!(e.members.get(&4), Some(&Observer));
        assert_eq!(e.members.get(&5), Some(&Participant));
        assert_eq!(e.members.len(), 3);
        assert_eq!(parse_version(text), Some(Zxid(0x1f)));
        assert_eq!(parse_members("version=1"), None);
        assert_eq!(parse_members(""), None);
        assert_eq!(parse_version("server.1=h:1:2"), None);
    }

    #[test]
    fn only_a_type_16_set_data_of_the_config_node_is_a_reconfig() {
        let text = config_text(&ensemble(&[(1, Participant)]), Zxid(5), |_| None);
        let txn = reconfig_txn_of(text.clone());
        assert_eq!(txn_members(&txn), Some(ensemble(&[(1, Participant)])));
        let mut plain = txn.clone();
        plain.txn_type = op_code::SET_DATA;
        assert_eq!(txn_members(&plain), None);
        let mut elsewhere = txn.clone();
        if let TxnBody::SetData(s) = &mut elsewhere.body {
            s.path = String::from("/a");
        }
        assert_eq!(txn_members(&elsewhere), None);
        let mut empty = txn;
        if let TxnBody::SetData(s) = &mut empty.body {
            s.data = Some(b"version=5".to_vec());
        }
        assert_eq!(txn_members(&empty), None);
    }

    #[test]
    fn the_tree_applies_reconfigs_keeps_two_and_a_restore_reads_the_newest_from_the_text() {
        use crate::machine::{StateMachine, TxnContext};
        use crate::reconfig::ReconfigRequest;
        use crate::tree::DataTree;
        let mut tree = DataTree::default();
        assert!(tree.applied_configs().is_empty());
        let mut versions = Vec::new();
        for (i, sid) in [4u64, 5, 6].into_iter().enumerate() {
            let zxid = Zxid::new(1, i as u32 + 1);
            let members = ensemble(&[(1, Participant), (sid, Observer)]);
            let request = ReconfigRequest {
                specs: alloc::vec![(sid, format!("h{sid}:1:2:observer;3"))],
                ..Default::default()
            };
            let txn = tree
                .reconfig_txn(&members, &request, zxid)
                .expect("a reconfig txn");
            let ctx = TxnContext {
                zxid,
                time_ms: 0,
                origin: None,
            };
            let digest = tree.digest();
            assert!(tree.apply(&ctx, &txn).is_ok());
            assert_ne!(
                tree.digest(),
                digest,
                "the config node's stat is in the digest"
            );
            versions.push(zxid);
        }
        let kept: Vec<Zxid> = tree.applied_configs().iter().map(|(z, _)| *z).collect();
        assert_eq!(kept, versions[1..]);
        assert_eq!(
            tree.config_text(),
            "server.1=127.0.0.1:0:0:participant\nserver.6=h6:1:2:observer;3\nversion=100000003"
        );
        // The next reconfig keeps 6's spec from the text.
        let again = tree
            .reconfig_txn(
                &ensemble(&[(1, Participant), (6, Observer)]),
                &ReconfigRequest::default(),
                Zxid::new(1, 9),
            )
            .expect("txn");
        let TxnBody::SetData(s) = &again.body else {
            panic!("a SetDataTxn: {again:?}");
        };
        let text = core::str::from_utf8(s.data.as_deref().expect("data")).expect("utf-8");
        assert!(text.contains("server.6=h6:1:2:observer;3\n"), "{text}");
        let restored = DataTree::restore(&tree.snapshot());
        assert_eq!(
            restored.applied_configs(),
            &[(
                Zxid::new(1, 3),
                ensemble(&[(1, Participant), (6, Observer)])
            )]
        );
        assert_eq!(restored.digest(), tree.digest());
        // A text whose version is zero (a server's own static config) is not a reconfig's.
        let mut fresh = DataTree::default();
        fresh.set_config_text("server.1=h:1:2:participant\nversion=0");
        assert!(DataTree::restore(&fresh.snapshot())
            .applied_configs()
            .is_empty());
        assert_eq!(
            DataTree::error_txn(-103).and_then(|t| t.error()),
            Some(crate::tree::ErrorCode::BadVersion)
        );
        assert_eq!(DataTree::error_txn(-9999), None);
    }

    #[test]
    fn push_keeps_the_newest() {
        let mut v = Vec::new();
        for i in 1..=4u64 {
            push_config(&mut v, Zxid(i), ensemble(&[(i, Participant)]), 2);
        }
        assert_eq!(v.iter().map(|(z, _)| z.0).collect::<Vec<_>>(), [3, 4]);
    }
}
