//! Property test: any random sequence of transactions applied to two replicas, one of them
//! restored from an encoded snapshot midway, yields equal outcomes, equal digests and equal
//! snapshot bytes; and the incremental digest always equals a full recomputation.

use alloc::string::String;
use alloc::vec;

use super::acl::{creator_all_acl, digest_id, open_acl_unsafe, read_acl_unsafe};
use super::*;
use crate::machine::{StateMachine, TxnContext};
use crate::rng::Rng;
use crate::zxid::Zxid;

const SESSIONS: [i64; 3] = [
    0x0100_0000_0000_0001,
    0x0200_0000_0000_0002,
    0x0300_0000_0000_0003,
];

fn pick<'a, T>(rng: &mut Rng, xs: &'a [T]) -> &'a T {
    &xs[rng.below(xs.len() as u64) as usize]
}

fn random_path(rng: &mut Rng) -> String {
    let depth = rng.range(1, 3);
    let mut p = String::new();
    for _ in 0..depth {
        p.push('/');
        let segs: [&str; 4] = ["a", "b", "c", "q-"];
        p.push_str(segs[rng.below(4) as usize]);
    }
    if rng.chance(30_000) {
        p.push('/');
    }
    p
}

fn random_op(rng: &mut Rng, depth: u32) -> WriteOp {
    let path = random_path(rng);
    let data = if rng.chance(100_000) {
        None
    } else {
        Some(vec![rng.below(256) as u8; rng.below(4) as usize])
    };
    let acl = match rng.below(10) {
        0 => read_acl_unsafe(),
        1 => creator_all_acl(),
        2 => vec![],
        _ => open_acl_unsafe(),
    };
    let version = rng.range(0, 3) as i32 - 1;
    match rng.below(if depth == 0 { 12 } else { 8 }) {
        0..=2 => WriteOp::Create2(CreateRequest {
            path,
            data,
            acl,
            flags: rng.below(8) as i32,
        }),
        3 => WriteOp::CreateTtl(CreateTtlRequest {
            path,
            data,
            acl,
            flags: rng.range(4, 6) as i32,
            ttl: rng.below(100) as i64,
        }),
        4 => WriteOp::Delete(DeleteRequest { path, version }),
        5 => WriteOp::SetData(SetDataRequest {
            path,
            data,
            version,
        }),
        6 => WriteOp::Check(CheckVersionRequest { path, version }),
        7 => WriteOp::Create(CreateRequest {
            path,
            data,
            acl,
            flags: 4,
        }),
        8 => WriteOp::SetAcl(SetAclRequest { path, acl, version }),
        9 => WriteOp::Multi(
            (0..rng.below(4))
                .map(|_| random_op(rng, depth + 1))
                .collect(),
        ),
        10 => WriteOp::CreateSession { timeout_ms: 4000 },
        _ => {
            if rng.chance(500_000) {
                WriteOp::CloseSession
            } else {
                WriteOp::DeleteContainer { path }
            }
        }
    }
}

fn random_request(rng: &mut Rng) -> Request {
    let session = *pick(rng, &SESSIONS);
    let auth = match rng.below(3) {
        0 => vec![],
        1 => vec![Id::new("digest", &digest_id("u:p"))],
        _ => vec![
            Id::new("ip", "10.0.0.1"),
            Id::new("digest", &digest_id("v:p")),
        ],
    };
    Request::new(session, 0, auth, random_op(rng, 0))
}

#[test]
fn replicas_with_equal_history_have_equal_digests_and_snapshot_bytes() {
    for case in 0..300u64 {
        let seed = 0x7_1ee0_0000 + case;
        let mut rng = Rng::new(seed);
        let n = rng.range(20, 120) as u32;
        let restore_at = rng.range(0, n as u64) as u32;
        let mut a = DataTree::empty();
        let mut b = DataTree::empty();
        for i in 1..=n {
            if i == restore_at {
                let bytes = b.snapshot().encode();
                let snap = TreeSnapshot::decode(&bytes)
                    .unwrap_or_else(|e| panic!("seed {seed:#x}: snapshot did not decode: {e}"));
                b = DataTree::restore(&snap);
            }
            let request = random_request(&mut rng);
            let ctx = TxnContext {
                zxid: Zxid::new(1, i),
                time_ms: 1000 + i as u64 * 7,
                origin: None,
            };
            // `a` leads (prep, then apply); `b` is a replica applying what `a` prepped.
            let txn = a.prep(&ctx, &request);
            let (oa, ob) = (a.apply(&ctx, &txn), b.apply(&ctx, &txn));
            assert_eq!(
                oa, ob,
                "seed {seed:#x} step {i}: outcomes differ for {txn:?}"
            );
            assert_eq!(
                a.digest(),
                b.digest(),
                "seed {seed:#x} step {i}: digests differ after {txn:?}"
            );
            assert_eq!(
                a.digest(),
                a.recompute_digest(),
                "seed {seed:#x} step {i}: incremental digest drifted"
            );
            // Watches and expiry are local: touching them must not change the digest.
            let d = a.digest();
            let _ = a.read(
                1,
                SESSIONS[0],
                &[],
                &ReadRequest::GetChildren {
                    path: "/a".into(),
                    watch: true,
                },
            );
            a.take_watch_events();
            a.touch_session(SESSIONS[1], 4000, crate::time::Instant(i as u64));
            assert_eq!(a.digest(), d);
        }
        let (sa, sb) = (a.snapshot().encode(), b.snapshot().encode());
        assert_eq!(sa, sb, "seed {seed:#x}: snapshot bytes differ");
        let again = TreeSnapshot::decode(&sa).map(|s| DataTree::restore(&s).digest());
        assert_eq!(
            again,
            Ok(a.digest()),
            "seed {seed:#x}: restore changed the digest"
        );
    }
}

/// The prep stage's promise: however far prep runs ahead of apply (everything outstanding at
/// once, or any interleaving), each request is prepped into the transaction it would have
/// become had every earlier one applied first, so outcomes, tree and digest are those of
/// prep+apply one at a time, and no change record outlives its zxid.
#[test]
fn prepping_ahead_of_apply_gives_the_same_txns_outcomes_and_tree() {
    for case in 0..300u64 {
        let seed = 0x9_9e90_0000 + case;
        let mut rng = Rng::new(seed);
        let n = rng.range(20, 120) as u32;
        // Mode 0 preps the whole sequence before applying anything; otherwise prep runs
        // ahead by a random amount at each step.
        let all_at_once = case % 3 == 0;
        let requests: Vec<Request> = (0..n).map(|_| random_request(&mut rng)).collect();
        let ctx = |i: usize| TxnContext {
            zxid: Zxid::new(1, i as u32 + 1),
            time_ms: 1000 + i as u64 * 7,
            origin: None,
        };
        let mut serial = DataTree::empty();
        let mut serial_txns = Vec::new();
        let mut serial_outcomes = Vec::new();
        for (i, r) in requests.iter().enumerate() {
            let txn = serial.prep(&ctx(i), r);
            assert_eq!(
                serial.outstanding_changes().is_empty(),
                txn_touches_nothing(&txn)
            );
            serial_outcomes.push(serial.apply(&ctx(i), &txn));
            assert!(
                serial.outstanding_changes().is_empty(),
                "seed {seed:#x}: record left"
            );
            serial_txns.push(txn);
        }
        let mut ahead = DataTree::empty();
        let (mut prepped, mut applied) = (Vec::new(), 0usize);
        let mut outcomes = Vec::new();
        let mut max_outstanding = 0;
        while applied < requests.len() {
            let prep_next = prepped.len() < requests.len()
                && (all_at_once || prepped.len() == applied || rng.chance(600_000));
            if prep_next {
                let i = prepped.len();
                let txn = ahead.prep(&ctx(i), &requests[i]);
                assert_eq!(
                    txn,
                    serial_txns[i],
                    "seed {seed:#x} request {i} ({:?}) prepped differently with {} outstanding",
                    requests[i],
                    i - applied
                );
                prepped.push(txn);
                max_outstanding = max_outstanding.max(ahead.outstanding_changes().len());
            } else {
                outcomes.push(ahead.apply(&ctx(applied), &prepped[applied]));
                applied += 1;
            }
        }
        assert_eq!(outcomes, serial_outcomes, "seed {seed:#x}: outcomes differ");
        assert_eq!(
            ahead.digest(),
            serial.digest(),
            "seed {seed:#x}: digests differ"
        );
        assert_eq!(
            ahead.snapshot().encode(),
            serial.snapshot().encode(),
            "seed {seed:#x}: trees differ"
        );
        assert!(
            ahead.outstanding_changes().is_empty(),
            "seed {seed:#x}: records left"
        );
        if all_at_once {
            assert!(
                max_outstanding > 0,
                "seed {seed:#x}: nothing was ever outstanding"
            );
        }
    }
}

/// Whether a transaction changes nothing prep tracks (an error, a failed multi, a check).
fn txn_touches_nothing(txn: &Txn) -> bool {
    let quiet = |b: &TxnBody| matches!(b, TxnBody::Error(_) | TxnBody::CheckVersion(_));
    match &txn.body {
        TxnBody::Multi(m) => m.txns.iter().all(|t| quiet(&t.body)),
        b => quiet(b),
    }
}
