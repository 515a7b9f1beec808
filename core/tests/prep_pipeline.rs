//! The prep stage inside a running ensemble (ZooKeeper's PrepRequestProcessor on the leader,
//! docs/protocol.md §5.9): a failed request is an ErrorTxn that takes a zxid and that every
//! replica applies to the same answer, and a new leader preps against everything it logged,
//! including what the previous epoch left uncommitted.

use zablab_core::durable::{DurableState, LogEntry};
use zablab_core::sim::zk::ZkClients;
use zablab_core::sim::{Action, ClientResult, Cluster, HostEvent, SimConfig};
use zablab_core::trace::TraceEvent;
use zablab_core::tree::{
    acl, op_code, CreateRequest, DataTree, ErrorCode, Request, SetDataRequest, Txn, TxnBody,
    WriteOp, WriteResponse,
};
use zablab_core::{Sid, StateMachine, TxnContext, Zxid};

fn create(path: &str, flags: i32) -> WriteOp {
    WriteOp::Create(CreateRequest {
        path: path.into(),
        data: Some(b"x".to_vec()),
        acl: acl::open_acl_unsafe(),
        flags,
    })
}

fn stable(c: &mut Cluster<DataTree>) -> Sid {
    let limit = c.now() + 20_000;
    assert!(
        c.run_until_pred(limit, |c| c.is_stable()),
        "no stable leader"
    );
    c.leader().expect("stable")
}

/// The transaction at `zxid` in a server's log.
fn logged(c: &Cluster<DataTree>, sid: Sid, zxid: Zxid) -> Option<Txn> {
    let peer = c.peer(sid)?;
    let log = peer.log().iter().chain(peer.committed_log().iter());
    log.map(|e| (e.zxid, &e.txn))
        .find(|(z, _)| *z == zxid)
        .map(|(_, t)| t.clone())
}

#[test]
fn a_failed_request_takes_a_zxid_and_every_server_answers_the_same_error() {
    let mut c: Cluster<DataTree> = Cluster::new(SimConfig::default(), 7);
    let leader = stable(&mut c);
    let mut clients = ZkClients::new();
    let servers: Vec<Sid> = vec![1, 2, 3];
    let mut ids = Vec::new();
    for s in &servers {
        ids.push(clients.connect(&mut c, *s, 10_000).expect("connects"));
    }
    assert_eq!(
        clients.write(&mut c, ids[0], create("/v", 0)).map(|_| ()),
        Ok(())
    );
    // A client on each server sends a setData with a stale version: each server answers its
    // own client from its own apply of the ErrorTxn the leader prepped.
    for id in &ids {
        let stale = WriteOp::SetData(SetDataRequest {
            path: "/v".into(),
            data: None,
            version: 7,
        });
        assert_eq!(
            clients.write(&mut c, *id, stale),
            Err(ErrorCode::BadVersion)
        );
    }
    clients.run_for(&mut c, 2_000);
    let prepped: Vec<(Zxid, i32, i32, i32)> = c
        .trace()
        .records()
        .iter()
        .filter(|r| r.node == leader)
        .filter_map(|r| match &r.event {
            HostEvent::Peer(TraceEvent::Prepped {
                zxid,
                request_type,
                txn_type,
                err,
            }) => Some((*zxid, *request_type, *txn_type, *err)),
            _ => None,
        })
        .filter(|p| p.2 == op_code::ERROR)
        .collect();
    assert_eq!(prepped.len(), 3, "three ErrorTxns prepped: {prepped:?}");
    for (zxid, request_type, _, err) in &prepped {
        assert_eq!((*request_type, *err), (5, ErrorCode::BadVersion.code()));
        for s in &servers {
            let txn = logged(&c, *s, *zxid).unwrap_or_else(|| panic!("{zxid} not on {s}"));
            assert_eq!(
                txn.error(),
                Some(ErrorCode::BadVersion),
                "server {s} at {zxid}"
            );
            assert_eq!(txn.txn_type, op_code::ERROR);
        }
    }
    let digests: Vec<u64> = servers
        .iter()
        .map(|s| c.peer(*s).expect("up").machine().digest())
        .collect();
    assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
    assert!(c.violation().is_none(), "{:?}", c.violation());
}

const SESSION: i64 = 0x0300_0000_0000_0001;

/// A history prepped on a scratch leader tree, as the epoch-1 leader would have logged it.
fn history(requests: &[WriteOp]) -> Vec<LogEntry<Txn>> {
    let mut scratch = DataTree::default();
    requests
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let ctx = TxnContext {
                zxid: Zxid::new(1, i as u32 + 1),
                time_ms: 0,
                origin: None,
            };
            let request = Request::new(SESSION, i as i32, Vec::new(), op.clone());
            let txn = scratch.prep(&ctx, &request);
            assert!(scratch.apply(&ctx, &txn).is_ok(), "{op:?}");
            LogEntry {
                zxid: ctx.zxid,
                time_ms: 0,
                origin: None,
                txn,
            }
        })
        .collect()
}

/// Server 3 logged two proposals of epoch 1 that no one else has (they never committed). It
/// wins the election with the highest zxid, so NEWLEADER commits them; prep on the new leader
/// must see them before its first request, or it would prep a create of an existing node and
/// reuse a sequence number.
#[test]
fn a_new_leader_preps_against_the_uncommitted_transactions_of_the_previous_epoch() {
    let ops = [
        WriteOp::CreateSession { timeout_ms: 30_000 },
        create("/a", 0),
        create("/late", 0),
        create("/seq-", 2),
    ];
    let full = history(&ops);
    let config = SimConfig {
        start_all: false,
        ..SimConfig::default()
    };
    let mut c: Cluster<DataTree> = Cluster::new(config, 11);
    for sid in 1..=3 {
        let log = if sid == 3 {
            full.clone()
        } else {
            full[..2].to_vec()
        };
        c.preload(
            sid,
            DurableState {
                accepted_epoch: 1,
                current_epoch: 1,
                snapshot: None,
                log,
            },
        );
    }
    for sid in 1..=3 {
        c.act(Action::Start(sid));
    }
    let leader = stable(&mut c);
    assert_eq!(leader, 3, "the server with the longest log leads");
    let mut answers = Vec::new();
    for (i, op) in [create("/late", 0), create("/seq-", 2)]
        .into_iter()
        .enumerate()
    {
        let request = Request::new(SESSION, 10 + i as i32, Vec::new(), op);
        let tag = c
            .act(Action::Write {
                server: 1,
                txn: request,
            })
            .expect("a tag");
        answers.push(tag);
    }
    c.run_for(3_000);
    let outcome = |tag| match c.request(tag) {
        Some(ClientResult::Replied { outcome, .. }) => outcome.clone(),
        other => panic!("not answered: {other:?}"),
    };
    assert_eq!(outcome(answers[0]), Err(ErrorCode::NodeExists));
    // "/" had 3 creates (/a, /late, /seq-0000000002), so the next suffix is 3.
    assert_eq!(
        outcome(answers[1]),
        Ok(WriteResponse::Create {
            path: "/seq-0000000003".into()
        })
    );
    let digests: Vec<u64> = (1..=3)
        .map(|s| c.peer(s).expect("up").machine().digest())
        .collect();
    assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
    for s in 1..=3 {
        let tree = c.peer(s).expect("up").machine();
        assert!(tree.exists(&[], "/late").is_ok(), "server {s} lacks /late");
        assert!(tree.exists(&[], "/seq-0000000002").is_ok());
    }
    // The log of the previous epoch carried prepped transactions, not requests.
    assert!(matches!(&full[3].txn.body, TxnBody::Create(c) if c.path == "/seq-0000000002"));
    assert!(c.violation().is_none(), "{:?}", c.violation());
}
