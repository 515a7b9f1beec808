//! The fault sweep of [`crate::sim::sweep`] with the ZooKeeper data tree as the replicated
//! state machine. A seed draws the ensemble, a fault schedule (crashes,
//! restarts, cuts, isolated servers, dropped messages, slow and lossy links — never a wiped
//! disk) and a client workload that opens sessions on random servers, moves them, lets them
//! expire after client crashes or closes them, and writes persistent, sequential and
//! ephemeral nodes, versioned setData, deletes, and multis that succeed or fail atomically.
//!
//! Checked, in order:
//! * after every event, the cluster's checker: Leadership, Integrity, PrimaryOrder, and
//!   PrefixConsistency, which compares [`DataTree::digest`] of every server at every zxid —
//!   "all replicas' tree digests at the same zxid are equal";
//! * at every leader establishment and at the end, [`tree_contains`]: acknowledged creates
//!   under `/keep` (never deleted) are held;
//! * liveness ([`liveness::converge`]) once faults stop; then an expiry phase in which only
//!   live clients keep their sessions alive, after which no other session and no ephemeral of
//!   one may remain (`SessionExpiry`);
//! * at the end (`checks`): equal snapshot bytes on every server
//!   (`SnapshotAgreement`), every acknowledged create and successful multi present on every
//!   server and every failed multi absent (`TreeAckedWrites`, `MultiAtomicity`), sequential
//!   names unique, and counters updated only by compare-and-set setData have `data ==
//!   version` (`VersionedSetData`).

mod checks;
mod workload;

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::durable::RequestTag;
use crate::rng::Rng;
use crate::sim::invariants::{liveness, violation, Violation};
use crate::sim::sweep::SweepParams;
use crate::sim::sweep::{random_config, SwarmProfile};
use crate::sim::zk::ZkCluster;
use crate::sim::ClientResult;
use crate::time::Instant;
use crate::trace::HostEvent;
use crate::trace::TraceEvent;
use crate::tree::{DataTree, OpResult, Request, WriteOp, WriteOutcome, WriteResponse};
use crate::zxid::Sid;
use checks::{check_outcomes, expire_and_compare};
use workload::{create, Expect, Workload};

/// Counters `/cnt/c0..` written only by compare-and-set setData.
const COUNTERS: u64 = 3;
/// Names `/tmp/t0..` that creates and deletes fight over.
const TMP_NAMES: u64 = 6;
/// The longest session timeout the workload asks for.
const MAX_TIMEOUT_MS: i32 = 4000;

/// What one seed did.
#[derive(Clone, Debug)]
pub struct TreeSeedReport {
    pub seed: u64,
    pub servers: u64,
    pub observers: u64,
    pub trace_hash: u64,
    pub deliveries: u64,
    /// Writes (session ops included) that got a reply.
    pub acked_writes: usize,
    /// Sessions the workload opened, and how often one moved to another server.
    pub sessions: usize,
    pub session_moves: usize,
    /// Multis that got a reply, and how many of them failed atomically.
    pub multis: usize,
    pub failed_multis: usize,
    /// Zxids delivered by at least two servers, i.e. where PrefixConsistency compared digests.
    pub compared_zxids: usize,
    pub violation: Option<Violation>,
}

/// The "acknowledged write is held" test for the tree: an acknowledged plain create of a
/// persistent node under `/keep` (which nothing deletes) must be in the tree. Its only
/// legitimate failure is SessionExpired, so while its session is still live it must have
/// succeeded; once the session is gone the txn alone cannot tell, and the end-of-run check
/// checks it with the reply (`TreeAckedWrites`).
pub fn tree_contains(tree: &DataTree, request: &Request) -> bool {
    match &request.op {
        WriteOp::Create(r) | WriteOp::Create2(r)
            if r.flags == 0 && r.path.starts_with("/keep/") =>
        {
            tree.exists(&[], &r.path).is_ok() || !tree.sessions().contains_key(&request.session_id)
        }
        _ => true,
    }
}

/// The command that reproduces a tree-sweep seed.
pub fn reproduce_command(seed: u64, params: &SweepParams) -> String {
    let servers = match params.servers {
        Some(n) => format!(" --servers {n}"),
        None => String::new(),
    };
    format!("cargo run --release -p zablab-core --example sweep -- --tree --seed {seed}{servers}")
}

/// Runs one seed of the tree sweep.
pub fn run_seed(params: SweepParams, seed: u64) -> TreeSeedReport {
    let mut rng = Rng::new(seed);
    let config = random_config(&mut rng, &params);
    let (servers, observers) = (config.participants, config.observers);
    let mut cluster = ZkCluster::new(config, rng.next_u64());
    cluster.set_write_check(tree_contains);
    let mut w = Workload {
        rng: Rng::new(rng.next_u64()),
        servers: (1..=servers + observers).collect(),
        clients: Vec::new(),
        sent: Vec::new(),
        last_session: BTreeMap::new(),
        last_touch: Instant::ZERO,
        next_name: 0,
        moves: 0,
    };
    let profile = SwarmProfile::draw(&mut rng, &w.servers);
    let fault_percent = profile.fault_percent;
    let mut violation = setup(&mut cluster, &mut w, params).err();
    // The continuous faults start with the fault phase, after the calm setup.
    cluster.set_fault_model(profile.model.clone());
    let end = cluster.now() + params.fault_ms;
    while violation.is_none() {
        let at = cluster.now() + rng.range(profile.gap_ms.0, profile.gap_ms.1);
        if at >= end {
            break;
        }
        w.drive(&mut cluster, at);
        if let Some(v) = cluster.violation() {
            violation = Some(v.clone());
            break;
        }
        if rng.below(100) >= fault_percent {
            w.client_action(&mut cluster);
        } else {
            cluster.act(profile.fault(&mut rng, &w.servers));
        }
    }
    if violation.is_none() {
        let probe = Request::new(
            0x7e00_0000_0000_0000 | (seed & 0xff_ffff) as i64,
            0,
            Vec::new(),
            WriteOp::CreateSession {
                timeout_ms: MAX_TIMEOUT_MS,
            },
        );
        violation = liveness::converge(&mut cluster, probe, params.liveness_ms)
            .and_then(|()| expire_and_compare(&mut cluster, &mut w))
            .and_then(|()| check_outcomes(&cluster, &w))
            .err();
    }
    report(seed, &cluster, &w, violation)
}

/// Elects a leader and creates the directories and counters with a first session.
fn setup(cluster: &mut ZkCluster, w: &mut Workload, params: SweepParams) -> Result<(), Violation> {
    let limit = cluster.now() + params.liveness_ms;
    let fail =
        |c: &ZkCluster, what: &str| violation("Liveness", c.now(), &[], format!("setup: {what}"));
    if !cluster.run_until_pred(limit, |c| c.is_stable()) {
        return Err(fail(cluster, "no leader"));
    }
    let leader = cluster.leader().expect("stable");
    let tag = w
        .connect(cluster, leader)
        .ok_or_else(|| fail(cluster, "connect"))?;
    let mut tags = vec![tag];
    let mut paths: Vec<String> = ["/keep", "/seq", "/eph", "/tmp", "/cnt"]
        .iter()
        .map(|p| String::from(*p))
        .collect();
    paths.extend((0..COUNTERS).map(|j| format!("/cnt/c{j}")));
    wait_all(cluster, w, &tags, limit)?;
    w.update(cluster);
    for p in paths {
        let data: &[u8] = if p.starts_with("/cnt/") { b"0" } else { b"" };
        w.submit(cluster, 0, create(&p, data, 0), Expect::Other);
        tags.push(w.sent.last().expect("just sent").0);
    }
    wait_all(cluster, w, &tags, limit)?;
    for t in &tags {
        if !matches!(
            cluster.request(*t),
            Some(ClientResult::Replied { outcome: Ok(_), .. })
        ) {
            return Err(fail(cluster, "a setup write failed"));
        }
    }
    Ok(())
}

fn wait_all(
    cluster: &mut ZkCluster,
    w: &mut Workload,
    tags: &[RequestTag],
    limit: Instant,
) -> Result<(), Violation> {
    while tags
        .iter()
        .any(|t| matches!(cluster.request(*t), Some(ClientResult::Pending)))
    {
        if cluster.now() >= limit {
            return Err(violation(
                "Liveness",
                cluster.now(),
                &[],
                "setup writes did not finish".into(),
            ));
        }
        let until = cluster.now() + 10;
        w.drive(cluster, until);
    }
    Ok(())
}

fn report(
    seed: u64,
    cluster: &ZkCluster,
    w: &Workload,
    violation: Option<Violation>,
) -> TreeSeedReport {
    let replied =
        |t: &RequestTag| matches!(cluster.request(*t), Some(ClientResult::Replied { .. }));
    let multis: Vec<&WriteOutcome> = w
        .sent
        .iter()
        .filter(|(_, e)| matches!(e, Expect::Multi(_)))
        .filter_map(|(t, _)| match cluster.request(*t) {
            Some(ClientResult::Replied { outcome, .. }) => Some(outcome),
            _ => None,
        })
        .collect();
    let failed_multis = multis
        .iter()
        .filter(|o| matches!(o, Ok(WriteResponse::Multi(r)) if r.iter().any(|x| matches!(x, OpResult::Error(_)))))
        .count();
    let mut delivered: BTreeMap<u64, BTreeSet<Sid>> = BTreeMap::new();
    for r in cluster.trace().records() {
        if let HostEvent::Peer(TraceEvent::Delivered { zxid, .. }) = &r.event {
            delivered.entry(zxid.0).or_default().insert(r.node);
        }
    }
    TreeSeedReport {
        seed,
        servers: cluster.config().participants,
        observers: cluster.config().observers,
        trace_hash: cluster.trace().hash(),
        deliveries: cluster.deliveries(),
        acked_writes: w.sent.iter().filter(|(t, _)| replied(t)).count(),
        sessions: w.clients.len(),
        session_moves: w.moves,
        multis: multis.len(),
        failed_multis,
        compared_zxids: delivered.values().filter(|s| s.len() >= 2).count(),
        violation,
    }
}
