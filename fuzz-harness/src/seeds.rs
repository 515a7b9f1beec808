//! Seed inputs for the byte-level targets, made with the codecs' own encoders: one valid input
//! per opcode, packet type and file layout, so the fuzzer starts inside each decoder's branches
//! instead of discovering the framing first. `cargo run -p zablab-fuzz-harness --example seeds
//! -- DIR` writes them to `DIR/<target>/`.

use zablab_core::durable::LogEntry;
use zablab_core::machine::TxnContext;
use zablab_core::message::{Forwarded, Message, Notification, PeerState, SessionTouch};
use zablab_core::tree::{DataTree, Request, Txn, WriteOp};
use zablab_core::{StateMachine, Zxid};
use zablab_node::codec::jute::{put_bool, put_buffer, put_i32, put_i64, put_ustring};
use zablab_node::codec::machine::NodeMachine;
use zablab_node::codec::proto::{self, op, ClientRequest, ConnectRequest};
use zablab_node::codec::wire;
use zablab_node::codec::zk_files::txn_log;

fn put_str(w: &mut Vec<u8>, s: &str) {
    put_ustring(w, Some(s));
}

fn put_world_acl(w: &mut Vec<u8>) {
    put_i32(w, 1);
    put_i32(w, 31);
    put_str(w, "world");
    put_str(w, "anyone");
}

/// A request record of `opcode` with typical arguments (after the RequestHeader).
fn request_body(opcode: i32, w: &mut Vec<u8>) {
    match opcode {
        op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => {
            put_str(w, "/a");
            put_buffer(w, Some(b"data"));
            put_world_acl(w);
            put_i32(w, if opcode == op::CREATE_CONTAINER { 4 } else { 1 });
        }
        op::CREATE_TTL => {
            put_str(w, "/t");
            put_buffer(w, Some(b"d"));
            put_world_acl(w);
            put_i32(w, 5);
            put_i64(w, 1000);
        }
        op::DELETE | op::CHECK => {
            put_str(w, "/a");
            put_i32(w, -1);
        }
        op::SET_DATA => {
            put_str(w, "/a");
            put_buffer(w, None);
            put_i32(w, 3);
        }
        op::SET_ACL => {
            put_str(w, "/a");
            put_world_acl(w);
            put_i32(w, 0);
        }
        op::EXISTS | op::GET_DATA | op::GET_CHILDREN | op::GET_CHILDREN2 => {
            put_str(w, "/a");
            put_bool(w, true);
        }
        op::GET_ACL | op::SYNC | op::GET_ALL_CHILDREN_NUMBER | op::GET_EPHEMERALS => {
            put_str(w, "/a")
        }
        op::MULTI => {
            for sub in [op::CREATE, op::SET_DATA, op::CHECK, op::DELETE] {
                proto::MultiHeader {
                    op: sub,
                    done: false,
                    err: -1,
                }
                .put(w);
                request_body(sub, w);
            }
            proto::MultiHeader {
                op: -1,
                done: true,
                err: -1,
            }
            .put(w);
        }
        op::MULTI_READ => {
            for sub in [op::GET_DATA, op::GET_CHILDREN] {
                proto::MultiHeader {
                    op: sub,
                    done: false,
                    err: -1,
                }
                .put(w);
                put_str(w, "/a");
                put_bool(w, false);
            }
            proto::MultiHeader {
                op: -1,
                done: true,
                err: -1,
            }
            .put(w);
        }
        op::AUTH => {
            put_i32(w, 0);
            put_str(w, "digest");
            put_buffer(w, Some(b"user:password"));
        }
        op::SET_WATCHES | op::SET_WATCHES2 => {
            put_i64(w, 5);
            let lists = if opcode == op::SET_WATCHES2 { 5 } else { 3 };
            for _ in 0..lists {
                put_i32(w, 1);
                put_str(w, "/a");
            }
        }
        op::ADD_WATCH => {
            put_str(w, "/a");
            put_i32(w, 1);
        }
        op::CHECK_WATCHES | op::REMOVE_WATCHES => {
            put_str(w, "/a");
            put_i32(w, 1);
        }
        op::RECONFIG => {
            put_ustring(w, None);
            put_ustring(w, None);
            put_str(w, "server.1=127.0.0.1:2888:3888");
            put_i64(w, -1);
        }
        op::SASL => put_buffer(w, Some(b"token")),
        _ => {}
    }
}

const OPCODES: [i32; 31] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 100, 101, 102, 103,
    104, 105, 106, 107, -10, -11,
];

/// One `client_request` input per opcode (RequestHeader + record).
fn requests() -> Vec<Vec<u8>> {
    OPCODES
        .iter()
        .map(|&opcode| {
            let mut w = Vec::new();
            put_i32(&mut w, 7);
            put_i32(&mut w, opcode);
            request_body(opcode, &mut w);
            w
        })
        .collect()
}

/// The writes among the sample requests, as a server forwards them.
fn write_requests() -> Vec<Request> {
    let mut v = vec![
        Request::new(
            0x100,
            0,
            Vec::new(),
            WriteOp::CreateSession { timeout_ms: 4000 },
        ),
        Request::new(0x100, 9, Vec::new(), WriteOp::CloseSession),
    ];
    for body in requests() {
        if let Ok((h, ClientRequest::Write(w))) = proto::decode_request(&body) {
            let auth = vec![zablab_core::tree::Id {
                scheme: "ip".into(),
                id: "127.0.0.1".into(),
            }];
            v.push(Request::new(0x100, h.xid, auth, w));
        }
    }
    v
}

/// The sample writes as the transactions a leader would prep them into, one after another
/// (closeSession last, so the other writes find their session open).
fn txns() -> Vec<Txn> {
    let mut leader = DataTree::empty();
    let mut requests = write_requests();
    let close = requests.remove(1);
    requests.push(close);
    requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let ctx = TxnContext {
                zxid: Zxid::new(1, i as u32 + 1),
                time_ms: 0,
                origin: None,
            };
            let txn = leader.prep(&ctx, r);
            let _ = leader.apply(&ctx, &txn);
            txn
        })
        .collect()
}

fn entry(counter: u32, txn: Txn) -> LogEntry<Txn> {
    LogEntry {
        zxid: Zxid::new(1, counter),
        time_ms: 1_700_000_000_000,
        origin: Some((2, counter as u64)),
        txn,
    }
}

/// A data tree with a session, some nodes and a few transactions applied.
fn tree() -> DataTree {
    let mut t = DataTree::empty();
    for (i, txn) in txns().into_iter().enumerate() {
        if matches!(txn.body, zablab_core::tree::TxnBody::CloseSession(_)) {
            continue;
        }
        let ctx = TxnContext {
            zxid: Zxid::new(1, i as u32 + 1),
            time_ms: 0,
            origin: None,
        };
        let _ = t.apply(&ctx, &txn);
    }
    t
}

fn quorum_packets() -> Vec<Vec<u8>> {
    let txn = txns();
    let notification = Notification {
        state: PeerState::Looking,
        vote_id: 3,
        vote_zxid: Zxid::new(1, 4),
        logicclock: 2,
        peer_epoch: 1,
        sender: 3,
    };
    let mut msgs: Vec<wire::NodeMessage<DataTree>> = vec![
        Message::Notification(notification),
        Message::FollowerInfo { accepted_epoch: 1 },
        Message::ObserverInfo { accepted_epoch: 1 },
        Message::LeaderInfo { new_epoch: 2 },
        Message::AckEpoch {
            last_logged_zxid: Zxid::new(1, 4),
            current_epoch: Some(1),
        },
        Message::AckEpoch {
            last_logged_zxid: Zxid::new(1, 4),
            current_epoch: None,
        },
        Message::Diff {
            zxid: Zxid::new(1, 4),
        },
        Message::Trunc {
            zxid: Zxid::new(1, 2),
        },
        Message::Snap {
            zxid: Zxid::new(1, 4),
            snapshot: tree().snapshot(),
        },
        Message::NewLeader {
            zxid: Zxid::epoch_start(2),
        },
        Message::UpToDate,
        Message::Ack {
            zxid: Zxid::new(2, 1),
        },
        Message::Commit {
            zxid: Zxid::new(2, 1),
        },
        Message::Ping {
            zxid: Zxid::new(2, 1),
            touches: vec![SessionTouch {
                session_id: 0x100,
                timeout_ms: 4000,
            }],
        },
        Message::Ping {
            zxid: Zxid::new(2, 1),
            touches: Vec::new(),
        },
        Message::Request {
            tag: 5,
            body: Forwarded::Sync,
        },
        Message::Sync { tag: 5 },
    ];
    for (i, t) in txn.into_iter().enumerate() {
        let e = entry(i as u32 + 1, t);
        msgs.push(if i % 2 == 0 {
            Message::Proposal(e)
        } else {
            Message::Inform(e)
        });
    }
    for (i, r) in write_requests().into_iter().enumerate() {
        msgs.push(Message::Request {
            tag: i as u64,
            body: Forwarded::Write(r),
        });
    }
    msgs.iter()
        .filter(|m| !m.is_election())
        .map(|m| {
            let mut w = Vec::new();
            wire::encode_quorum::<DataTree>(
                m,
                2,
                "server.1=127.0.0.1:2888:3888:participant",
                &mut w,
            );
            w
        })
        .collect()
}

fn election_streams() -> Vec<Vec<u8>> {
    let n = Notification {
        state: PeerState::Following,
        vote_id: 3,
        vote_zxid: Zxid::new(1, 4),
        logicclock: 2,
        peer_epoch: 1,
        sender: 2,
    };
    let frame = |payload: &[u8], w: &mut Vec<u8>| {
        put_i32(w, payload.len() as i32);
        w.extend_from_slice(payload);
    };
    let mut out = Vec::new();
    let mut w = wire::election_handshake(2, "127.0.0.1:3888");
    frame(
        &wire::encode_notification(&n, "server.1=127.0.0.1:2888:3888"),
        &mut w,
    );
    frame(&wire::encode_notification(&n, ""), &mut w);
    out.push(w);
    // Legacy handshake (the sid alone) and the older, shorter notification layouts.
    let mut w = Vec::new();
    put_i64(&mut w, 2);
    let full = wire::encode_notification(&n, "");
    frame(&full[..28], &mut w);
    frame(&full[..36], &mut w);
    out.push(w);
    out
}

fn log_file() -> Vec<u8> {
    let mut w = txn_log::log_file_header();
    for (i, t) in txns().into_iter().take(6).enumerate() {
        let mut txn = Vec::new();
        txn_log::write_entry::<DataTree>(&entry(i as u32 + 1, t), &mut txn);
        txn_log::append_record(&mut w, &txn);
    }
    w
}

fn snapshot_file() -> Vec<u8> {
    DataTree::write_snapshot_file(&tree().snapshot(), Zxid::new(1, 4))
}

const ZOO_CFGS: [&str; 3] = [
    "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/tmp/zk\nclientPort=2181\n",
    "tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=/tmp/zk1\ndataLogDir=/tmp/zk1log\n\
     clientPort=2181\nclientPortAddress=127.0.0.1\nmaxClientCnxns=60\nsnapCount=1000\n\
     autopurge.snapRetainCount=3\nautopurge.purgeInterval=1\njute.maxbuffer=1048575\n\
     4lw.commands.whitelist=srvr,stat,ruok\nminSessionTimeout=400\nmaxSessionTimeout=40000\n\
     server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889:participant\n\
     server.3=127.0.0.1:2890:3890\nserver.4=127.0.0.1:2891:3891:observer;127.0.0.1:2184\n",
    "# comment\ndataDir=/tmp/zk\nclientPort=2181\n4lw.commands.whitelist=*\n\
     DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n\
     server.1=[::1]:2888:3888;2181\n",
];

/// Every seed, by target.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut v: Vec<(&'static str, Vec<u8>)> = Vec::new();
    for read_only in [None, Some(false)] {
        let mut w = Vec::new();
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 5,
            timeout_ms: 4000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only,
        }
        .encode(&mut w);
        v.push(("client_connect", w[4..].to_vec()));
    }
    for r in requests() {
        v.push(("client_request", r));
    }
    for (i, &opcode) in OPCODES.iter().enumerate() {
        // A reply header (xid, zxid, err 0) then a body shaped like the request's: the fuzzer
        // mutates it into the reply record.
        let mut w = vec![i as u8];
        put_i32(&mut w, 7);
        put_i64(&mut w, 0x1_0000_0004);
        put_i32(&mut w, 0);
        request_body(opcode, &mut w);
        v.push(("client_reply", w));
    }
    for s in election_streams() {
        v.push(("election", s));
    }
    for p in quorum_packets() {
        v.push(("quorum_packet", p));
    }
    for c in ZOO_CFGS {
        v.push(("zoo_cfg", c.as_bytes().to_vec()));
    }
    v.push(("txn_log", log_file()));
    let body = tree().snapshot().encode();
    v.push(("snapshot", body.clone()));
    v.push(("snapshot", snapshot_file()));
    let mut empty = Vec::new();
    DataTree::write_snapshot(&DataTree::empty().snapshot(), &mut empty);
    v.push(("snapshot", empty[8..].to_vec()));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use zablab_node::codec::jute::Reader;
    use zablab_node::server::storage;

    /// The seeds are valid inputs: each decodes, so the fuzzer starts past the framing.
    #[test]
    fn every_seed_is_accepted_by_its_decoder() {
        let seeds = seeds();
        for (target, bytes) in &seeds {
            match *target {
                "client_connect" => assert!(ConnectRequest::decode(bytes).is_ok()),
                "client_request" => {
                    let r = proto::decode_request(bytes);
                    assert!(
                        matches!(r, Ok((_, ref req)) if !matches!(req, ClientRequest::Invalid { .. })),
                        "{r:?}"
                    );
                }
                "quorum_packet" => {
                    let r = wire::decode_quorum::<DataTree>(&mut Reader::new(bytes));
                    assert!(r.is_ok(), "{:?}", r.err());
                }
                "txn_log" => {
                    let file = storage::read_log_bytes::<DataTree>(bytes, 0).expect("reads");
                    assert_eq!((file.entries.len(), file.bad_tail), (6, None));
                }
                _ => {}
            }
        }
        let snapshot_files = seeds
            .iter()
            .filter(|(t, b)| *t == "snapshot" && b.starts_with(b"ZKSN"));
        for (_, b) in snapshot_files {
            assert!(storage::Store::<DataTree>::decode_snapshot(b, 0x1_0000_0004).is_ok());
        }
        assert_eq!(
            seeds.iter().filter(|(t, _)| *t == "client_request").count(),
            31
        );
    }
}
