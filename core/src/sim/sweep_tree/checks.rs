//! The tree sweep's end-of-run checks: session expiry, equal snapshot bytes, and what the
//! replies promise about the tree (see the module doc of [`super`]).

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::vec::Vec;

use super::workload::{counter_value, ClientState, Expect, Workload};
use super::{COUNTERS, MAX_TIMEOUT_MS};
use crate::machine::StateMachine;
use crate::sim::invariants::{violation, Violation};
use crate::sim::zk::ZkCluster;
use crate::sim::ClientResult;
use crate::tree::{DataTree, ErrorCode, OpResult, WriteResponse};
use crate::zxid::Sid;

/// With faults over, live clients keep touching while everything else expires; then every
/// server must have dropped every other session and its ephemerals, and all servers must
/// hold the same digest and the same snapshot bytes.
pub(super) fn expire_and_compare(
    cluster: &mut ZkCluster,
    w: &mut Workload,
) -> Result<(), Violation> {
    w.update(cluster);
    let bucket_ms = DataTree::default().config().tick_time_ms;
    let wait = 2 * (MAX_TIMEOUT_MS as u64 + bucket_ms);
    let until = cluster.now() + wait;
    w.drive(cluster, until);
    let limit = cluster.now() + 10_000;
    let same = |c: &ZkCluster| {
        let Some(l) = c.leader().and_then(|l| c.peer(l)) else {
            return false;
        };
        let d = l.machine().digest();
        c.is_stable()
            && c.nodes()
                .values()
                .all(|n| matches!(&n.peer, Some(p) if p.machine().digest() == d))
    };
    while !same(cluster) {
        if cluster.now() >= limit || cluster.violation().is_some() {
            cluster.check_final_state()?;
            return Err(violation(
                "Convergence",
                cluster.now(),
                &[],
                "servers did not reach the leader's digest after the expiry phase".into(),
            ));
        }
        let until = cluster.now() + 10;
        w.drive(cluster, until);
    }
    cluster.check_final_state()?;
    let live: BTreeSet<i64> = w
        .clients
        .iter()
        .filter(|c| c.state == ClientState::Live)
        .map(|c| c.session_id)
        .collect();
    let mut reference: Option<(Sid, Vec<u8>)> = None;
    for (sid, node) in cluster.nodes() {
        let Some(peer) = &node.peer else { continue };
        let tree = peer.machine();
        if let Some(s) = tree.sessions().keys().find(|s| !live.contains(s)) {
            return Err(violation(
                "SessionExpiry",
                cluster.now(),
                &[*sid],
                format!(
                    "server {sid} still holds session {s:#x} {wait} ms after its client stopped"
                ),
            ));
        }
        let eph = tree
            .get_children(&[], "/eph")
            .map(|(c, _)| c)
            .unwrap_or_default();
        for e in eph {
            let owner = tree
                .exists(&[], &format!("/eph/{e}"))
                .map(|s| s.ephemeral_owner)
                .unwrap_or(0);
            if !tree.sessions().contains_key(&owner) {
                return Err(violation(
                    "SessionExpiry",
                    cluster.now(),
                    &[*sid],
                    format!("server {sid} holds /eph/{e} of dead session {owner:#x}"),
                ));
            }
        }
        let bytes = tree.to_snapshot().encode();
        match &reference {
            None => reference = Some((*sid, bytes)),
            Some((first, b)) if *b != bytes => {
                return Err(violation(
                    "SnapshotAgreement",
                    cluster.now(),
                    &[*first, *sid],
                    format!(
                        "servers {first} and {sid} have equal digests but different snapshot bytes"
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The end-of-run checks that need the replies (see the module doc).
pub(super) fn check_outcomes(cluster: &ZkCluster, w: &Workload) -> Result<(), Violation> {
    let sent = &w.sent;
    let now = cluster.now();
    let mut seq_names = BTreeSet::new();
    for (tag, expect) in sent {
        let Some(ClientResult::Replied { outcome, zxid }) = cluster.request(*tag) else {
            continue;
        };
        let (present, path): (Option<bool>, &str) = match (expect, outcome) {
            (Expect::Keep(p), Ok(_)) => (Some(true), p),
            (Expect::Keep(_), Err(ErrorCode::SessionExpired)) => (None, ""),
            (Expect::Keep(p), Err(e)) => {
                return Err(violation(
                    "TreeAckedWrites",
                    now,
                    &[],
                    format!("create {p} at {zxid} failed with {e:?}"),
                ));
            }
            (Expect::Multi(p), Ok(WriteResponse::Multi(results))) => {
                let failed = results.iter().any(|r| matches!(r, OpResult::Error(_)));
                (Some(!failed), p)
            }
            (Expect::Seq, Ok(WriteResponse::Create { path })) => {
                if !seq_names.insert(path.clone()) {
                    return Err(violation(
                        "TreeAckedWrites",
                        now,
                        &[],
                        format!("sequential name {path} given twice"),
                    ));
                }
                (Some(true), path.as_str())
            }
            _ => (None, ""),
        };
        let Some(present) = present else { continue };
        for (sid, node) in cluster.nodes() {
            let Some(peer) = &node.peer else { continue };
            if peer.machine().exists(&[], path).is_ok() != present {
                let name = if matches!(expect, Expect::Multi(_)) {
                    "MultiAtomicity"
                } else {
                    "TreeAckedWrites"
                };
                let what = if present { "lacks" } else { "holds" };
                return Err(violation(
                    name,
                    now,
                    &[*sid],
                    format!("server {sid} {what} {path} (reply {outcome:?} at {zxid})"),
                ));
            }
        }
    }
    for (sid, node) in cluster.nodes() {
        let Some(peer) = &node.peer else { continue };
        for j in 0..COUNTERS {
            let path = format!("/cnt/c{j}");
            match counter_value(peer.machine(), &path) {
                Some((n, v)) if n == v as u64 => {}
                other => {
                    return Err(violation("VersionedSetData", now, &[*sid], format!("server {sid}: {path} has (data, version) {other:?}; a lost or doubled compare-and-set")));
                }
            }
        }
    }
    Ok(())
}
