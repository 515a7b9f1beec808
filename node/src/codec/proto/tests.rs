//! Round trips for every record and opcode, and byte-exact frames built by hand from §5.

use zablab_core::tree::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, EventType, SetAclRequest,
    SetDataRequest, WatchedEvent,
};

use super::*;

pub(super) fn stat(seed: i64) -> Stat {
    Stat {
        czxid: seed,
        mzxid: seed + 1,
        ctime: 1_700_000_000_000 + seed,
        mtime: 1_700_000_000_001 + seed,
        version: 2,
        cversion: 3,
        aversion: 4,
        ephemeral_owner: 0x0100_0000_0000_0009,
        data_length: 5,
        num_children: 6,
        pzxid: seed + 2,
    }
}

fn acl() -> Vec<Acl> {
    vec![
        Acl::new(31, "world", "anyone"),
        Acl::new(1, "digest", "user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY="),
    ]
}

fn create(path: &str, data: Option<&[u8]>, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: data.map(<[u8]>::to_vec),
        acl: acl(),
        flags,
    }
}

fn set_watches() -> SetWatches {
    SetWatches {
        relative_zxid: 0x1_0000_0005,
        data_watches: vec!["/a".into(), "/b".into()],
        exist_watches: vec!["/x".into()],
        child_watches: vec![],
        persistent_watches: vec!["/p".into()],
        persistent_recursive_watches: vec!["/r".into(), "/r2".into()],
    }
}

/// One request per opcode of §5.4 (plus null/empty data variants), with its opcode.
pub(super) fn sample_requests() -> Vec<(i32, ClientRequest)> {
    let w = ClientRequest::Write;
    let rd = ClientRequest::Read;
    vec![
        (1, w(WriteOp::Create(create("/a", Some(b"v"), 0)))),
        (1, w(WriteOp::Create(create("/a", None, 3)))),
        (1, w(WriteOp::Create(create("/a", Some(b""), 2)))),
        (1, w(WriteOp::Create(create("/a", None, 99)))), // invalid flags travel as sent
        (
            2,
            w(WriteOp::Delete(DeleteRequest {
                path: "/a".into(),
                version: -1,
            })),
        ),
        (
            3,
            rd(ReadRequest::Exists {
                path: "/a".into(),
                watch: true,
            }),
        ),
        (
            4,
            rd(ReadRequest::GetData {
                path: "/a".into(),
                watch: false,
            }),
        ),
        (
            5,
            w(WriteOp::SetData(SetDataRequest {
                path: "/a".into(),
                data: None,
                version: 3,
            })),
        ),
        (6, rd(ReadRequest::GetAcl { path: "/a".into() })),
        (
            7,
            w(WriteOp::SetAcl(SetAclRequest {
                path: "/a".into(),
                acl: acl(),
                version: 1,
            })),
        ),
        (
            8,
            rd(ReadRequest::GetChildren {
                path: "/".into(),
                watch: true,
            }),
        ),
        (9, ClientRequest::Sync { path: "/a".into() }),
        (11, ClientRequest::Ping),
        (
            12,
            rd(ReadRequest::GetChildren2 {
                path: "/".into(),
                watch: false,
            }),
        ),
        (
            13,
            w(WriteOp::Check(CheckVersionRequest {
                path: "/a".into(),
                version: 0,
            })),
        ),
        (
            14,
            w(WriteOp::Multi(vec![
                WriteOp::Create(create("/m", Some(b"1"), 0)),
                WriteOp::Create2(create("/m2", None, 1)),
                WriteOp::CreateContainer(create("/c", None, 4)),
                WriteOp::CreateTtl(CreateTtlRequest {
                    path: "/t".into(),
                    data: Some(b"t".to_vec()),
                    acl: acl(),
                    flags: 5,
                    ttl: 60_000,
                }),
                WriteOp::Delete(DeleteRequest {
                    path: "/m".into(),
                    version: 0,
                }),
                WriteOp::SetData(SetDataRequest {
                    path: "/m2".into(),
                    data: Some(b"x".to_vec()),
                    version: -1,
                }),
                WriteOp::Check(CheckVersionRequest {
                    path: "/m2".into(),
                    version: 1,
                }),
            ])),
        ),
        (14, w(WriteOp::Multi(vec![]))),
        (15, w(WriteOp::Create2(create("/a", Some(b"v"), 1)))),
        (
            16,
            ClientRequest::Reconfig {
                joining_servers: Some("server.4=127.0.0.1:2891:3891".into()),
                leaving_servers: None,
                new_members: None,
                cur_config_id: -1,
            },
        ),
        (
            17,
            ClientRequest::CheckWatches {
                path: "/a".into(),
                watcher_type: WatcherType::Data,
            },
        ),
        (
            18,
            ClientRequest::RemoveWatches {
                path: "/a".into(),
                watcher_type: WatcherType::Any,
            },
        ),
        (19, w(WriteOp::CreateContainer(create("/c", Some(b""), 4)))),
        (
            21,
            w(WriteOp::CreateTtl(CreateTtlRequest {
                path: "/t".into(),
                data: None,
                acl: acl(),
                flags: 6,
                ttl: 1,
            })),
        ),
        (
            22,
            rd(ReadRequest::MultiRead(vec![
                ReadRequest::GetData {
                    path: "/a".into(),
                    watch: false,
                },
                ReadRequest::GetChildren {
                    path: "/".into(),
                    watch: false,
                },
            ])),
        ),
        (
            100,
            ClientRequest::Auth {
                scheme: "digest".into(),
                auth: b"user:password".to_vec(),
            },
        ),
        (
            101,
            ClientRequest::SetWatches(SetWatches {
                persistent_watches: vec![],
                persistent_recursive_watches: vec![],
                ..set_watches()
            }),
        ),
        (
            102,
            ClientRequest::Sasl {
                token: Some(vec![1, 2, 3]),
            },
        ),
        (
            103,
            rd(ReadRequest::GetEphemerals {
                prefix_path: "/".into(),
            }),
        ),
        (
            104,
            rd(ReadRequest::GetAllChildrenNumber { path: "/".into() }),
        ),
        (105, ClientRequest::SetWatches2(set_watches())),
        (
            106,
            ClientRequest::AddWatch {
                path: "/a".into(),
                mode: AddWatchMode::PersistentRecursive,
            },
        ),
        (
            106,
            ClientRequest::AddWatch {
                path: "/a".into(),
                mode: AddWatchMode::Persistent,
            },
        ),
        (107, ClientRequest::WhoAmI),
        (-11, ClientRequest::CloseSession),
        (55, ClientRequest::Unimplemented(55)),
        (-10, ClientRequest::Unimplemented(-10)),
        (20, ClientRequest::Unimplemented(20)),
    ]
}

/// One response per response shape, with the opcode that asks for it.
pub(super) fn sample_responses() -> Vec<(i32, Response)> {
    let w = Response::Write;
    let rd = Response::Read;
    vec![
        (
            1,
            w(WriteResponse::Create {
                path: "/a0000000001".into(),
            }),
        ),
        (
            15,
            w(WriteResponse::Create2 {
                path: "/a".into(),
                stat: stat(1),
            }),
        ),
        (
            19,
            w(WriteResponse::Create2 {
                path: "/c".into(),
                stat: stat(2),
            }),
        ),
        (
            21,
            w(WriteResponse::Create2 {
                path: "/t".into(),
                stat: stat(3),
            }),
        ),
        (2, w(WriteResponse::Delete)),
        (5, w(WriteResponse::SetData { stat: stat(4) })),
        (7, w(WriteResponse::SetAcl { stat: stat(5) })),
        (13, w(WriteResponse::Check)),
        (
            14,
            w(WriteResponse::Multi(vec![
                OpResult::Create { path: "/m".into() },
                OpResult::Create2 {
                    path: "/m2".into(),
                    stat: stat(6),
                },
                OpResult::Delete,
                OpResult::SetData { stat: stat(7) },
                OpResult::Check,
            ])),
        ),
        (
            14,
            w(WriteResponse::Multi(vec![
                OpResult::Error(ErrorCode::Ok),
                OpResult::Error(ErrorCode::BadVersion),
                OpResult::Error(ErrorCode::RuntimeInconsistency),
            ])),
        ),
        (3, rd(ReadResponse::Exists { stat: stat(8) })),
        (
            4,
            rd(ReadResponse::GetData {
                data: Some(b"hello".to_vec()),
                stat: stat(9),
            }),
        ),
        (
            4,
            rd(ReadResponse::GetData {
                data: None,
                stat: stat(9),
            }),
        ),
        (
            4,
            rd(ReadResponse::GetData {
                data: Some(vec![]),
                stat: stat(9),
            }),
        ),
        (
            6,
            rd(ReadResponse::GetAcl {
                acl: acl(),
                stat: stat(10),
            }),
        ),
        (
            8,
            rd(ReadResponse::GetChildren {
                children: vec!["a".into(), "b".into()],
            }),
        ),
        (8, rd(ReadResponse::GetChildren { children: vec![] })),
        (
            12,
            rd(ReadResponse::GetChildren2 {
                children: vec!["z".into()],
                stat: stat(11),
            }),
        ),
        (
            104,
            rd(ReadResponse::GetAllChildrenNumber { total_number: 17 }),
        ),
        (
            103,
            rd(ReadResponse::GetEphemerals {
                ephemerals: vec!["/e1".into(), "/e/2".into()],
            }),
        ),
        (
            22,
            rd(ReadResponse::MultiRead(vec![
                Ok(ReadResponse::GetData {
                    data: Some(b"d".to_vec()),
                    stat: stat(12),
                }),
                Err(ErrorCode::NoNode),
                Ok(ReadResponse::GetChildren {
                    children: vec!["k".into()],
                }),
            ])),
        ),
        (
            16,
            rd(ReadResponse::GetData {
                data: Some(b"server.1=...".to_vec()),
                stat: stat(13),
            }),
        ),
        (9, Response::Sync { path: "/a".into() }),
        (106, Response::AddWatch),
        (
            107,
            Response::WhoAmI(vec![
                ClientInfo {
                    auth_scheme: "ip".into(),
                    user: "127.0.0.1".into(),
                },
                ClientInfo {
                    auth_scheme: "digest".into(),
                    user: "user".into(),
                },
            ]),
        ),
        (102, Response::Sasl { token: None }),
        (11, Response::Empty),
        (100, Response::Empty),
        (101, Response::Empty),
        (105, Response::Empty),
        (17, Response::Empty),
        (18, Response::Empty),
        (-11, Response::Empty),
    ]
}

fn body(frame: &[u8]) -> &[u8] {
    let len = frame_len([frame[0], frame[1], frame[2], frame[3]]).expect("length");
    assert_eq!(len, frame.len() - 4, "length prefix covers the body");
    &frame[4..]
}

#[test]
fn every_request_round_trips_with_its_opcode() {
    for (opcode, req) in sample_requests() {
        assert_eq!(req.opcode(), opcode, "{req:?}");
        let mut frame = Vec::new();
        encode_request(&mut frame, 7, &req);
        let (h, back) = decode_request(body(&frame)).expect("decodes");
        assert_eq!(h, RequestHeader { xid: 7, opcode });
        assert_eq!(back, req);
    }
}

#[test]
fn every_response_round_trips() {
    for (opcode, resp) in sample_responses() {
        let mut frame = Vec::new();
        encode_reply(&mut frame, 9, 0x2_0000_0003, Ok(&resp));
        let (h, back) = decode_reply(body(&frame), opcode).expect("decodes");
        assert_eq!(
            h,
            ReplyHeader {
                xid: 9,
                zxid: 0x2_0000_0003,
                err: 0
            }
        );
        assert_eq!(back, Ok(resp), "opcode {opcode}");
    }
}

#[test]
fn error_replies_are_the_header_only() {
    for code in [
        ErrorCode::NoNode,
        ErrorCode::NodeExists,
        ErrorCode::Unimplemented,
    ] {
        let mut frame = Vec::new();
        encode_error(&mut frame, 3, 5, code);
        assert_eq!(frame.len(), 4 + 16);
        let (h, back) = decode_reply(body(&frame), op::GET_DATA).expect("decodes");
        assert_eq!(h.err, code.code());
        assert_eq!(back, Err(code));
    }
}

#[test]
fn exists_no_node_reply_bytes() {
    let mut frame = Vec::new();
    encode_error(&mut frame, 5, 0x2a, ErrorCode::NoNode);
    #[rustfmt::skip]
    let want = [
        0, 0, 0, 16,             // length
        0, 0, 0, 5,              // xid
        0, 0, 0, 0, 0, 0, 0, 42, // zxid
        0xff, 0xff, 0xff, 0x9b,  // err -101
    ];
    assert_eq!(frame, want);
}

#[test]
fn stat_is_68_bytes_in_field_order() {
    let s = Stat {
        czxid: 0x0102030405060708,
        mzxid: 0x1112131415161718,
        ctime: 0x2122232425262728,
        mtime: 0x3132333435363738,
        version: 0x41424344,
        cversion: 0x51525354,
        aversion: 0x61626364,
        ephemeral_owner: 0x7172737475767778,
        data_length: 0x01020304,
        num_children: 0x05060708,
        pzxid: 0x0a0b0c0d0e0f1011,
    };
    let mut out = Vec::new();
    put_stat(&mut out, &s);
    let mut want = Vec::new();
    for b in [0x01u8, 0x11, 0x21, 0x31] {
        want.extend((0..8).map(|i| b + i));
    }
    for b in [0x41u8, 0x51, 0x61] {
        want.extend((0..4).map(|i| b + i));
    }
    want.extend((0..8).map(|i| 0x71 + i));
    want.extend([1, 2, 3, 4, 5, 6, 7, 8]);
    want.extend((0..8).map(|i| 0x0a + i));
    assert_eq!(out.len(), STAT_BYTES);
    assert_eq!(out, want);
    assert_eq!(read_stat(&mut reader(&out)), Ok(s));
}

#[test]
fn connect_response_with_read_only_byte() {
    let resp = ConnectResponse {
        protocol_version: 0,
        timeout_ms: 30_000,
        session_id: 0x0100_0000_0000_0001,
        passwd: (0..16).collect(),
        read_only: Some(false),
    };
    let mut frame = Vec::new();
    resp.encode(&mut frame);
    let mut want = vec![
        0, 0, 0, 37, 0, 0, 0, 0, 0, 0, 0x75, 0x30, 1, 0, 0, 0, 0, 0, 0, 1,
    ];
    want.extend([0, 0, 0, 16]);
    want.extend(0..16u8);
    want.push(0);
    assert_eq!(frame, want);
    assert_eq!(ConnectResponse::decode(body(&frame)), Ok(resp));
    // An old server's answer without the byte.
    let old = ConnectResponse::decode(&body(&frame)[..36]).expect("decodes");
    assert_eq!(old.read_only, None);
    // Anything after the byte is refused (the Rust client is that strict, so are we).
    let mut long = body(&frame).to_vec();
    long.push(0);
    assert!(ConnectResponse::decode(&long).is_err());
    let exp = ConnectResponse::expired(true);
    assert!(exp.is_expired());
    assert_eq!(exp.passwd, vec![0; 16]);
}

#[test]
fn connect_request_with_and_without_read_only() {
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0x1_0000_0002,
        timeout_ms: 10_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: Some(true),
    };
    let mut frame = Vec::new();
    req.encode(&mut frame);
    assert_eq!(frame.len(), 4 + 4 + 8 + 4 + 8 + 4 + 16 + 1);
    assert_eq!(ConnectRequest::decode(body(&frame)), Ok(req.clone()));
    let old = ConnectRequest {
        read_only: None,
        ..req
    };
    let mut frame = Vec::new();
    old.encode(&mut frame);
    assert_eq!(ConnectRequest::decode(body(&frame)), Ok(old));
}

#[test]
fn multi_failure_response_bytes() {
    let resp = Response::Write(WriteResponse::Multi(vec![
        OpResult::Error(ErrorCode::Ok),
        OpResult::Error(ErrorCode::NodeExists),
        OpResult::Error(ErrorCode::RuntimeInconsistency),
    ]));
    let mut frame = Vec::new();
    encode_reply(&mut frame, 4, 0x100, Ok(&resp));
    let mut want = Vec::new();
    want.extend([0, 0, 0, 4]); // xid
    want.extend([0, 0, 0, 0, 0, 0, 1, 0]); // zxid
    want.extend([0, 0, 0, 0]); // outer err 0 even though the multi failed
    for err in [0i32, -110, -2] {
        want.extend((-1i32).to_be_bytes()); // type error
        want.push(0); // done false
        want.extend(err.to_be_bytes()); // header err
        want.extend(err.to_be_bytes()); // ErrorResponse.err
    }
    want.extend([0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff]); // {-1, true, -1}
    assert_eq!(body(&frame), want.as_slice());
}

#[test]
fn kazoo_create_with_null_data_decodes_to_none() {
    // xid 1, create, "/k", data -1 (kazoo's empty bytes), [world:anyone ALL], flags 0.
    let mut b = Vec::new();
    b.extend(1i32.to_be_bytes());
    b.extend(1i32.to_be_bytes());
    b.extend(2i32.to_be_bytes());
    b.extend(b"/k");
    b.extend((-1i32).to_be_bytes());
    b.extend(1i32.to_be_bytes());
    b.extend(31i32.to_be_bytes());
    b.extend(5i32.to_be_bytes());
    b.extend(b"world");
    b.extend(6i32.to_be_bytes());
    b.extend(b"anyone");
    b.extend(0i32.to_be_bytes());
    let (h, req) = decode_request(&b).expect("decodes");
    assert_eq!(h, RequestHeader { xid: 1, opcode: 1 });
    let want = ClientRequest::Write(WriteOp::Create(CreateRequest {
        path: "/k".into(),
        data: None,
        acl: vec![Acl::new(31, "world", "anyone")],
        flags: 0,
    }));
    assert_eq!(req, want);
    let mut again = Vec::new();
    encode_request(&mut again, 1, &want);
    assert_eq!(
        body(&again),
        b.as_slice(),
        "null stays null on the way back"
    );
}

#[test]
fn notification_bytes() {
    let ev = WatchedEvent {
        event_type: EventType::NodeDataChanged,
        path: "/a".into(),
        zxid: 77,
    };
    let mut frame = Vec::new();
    encode_notification(&mut frame, &ev);
    let mut want = vec![0, 0, 0, 30];
    want.extend((-1i32).to_be_bytes());
    want.extend((-1i64).to_be_bytes());
    want.extend(0i32.to_be_bytes());
    want.extend(3i32.to_be_bytes());
    want.extend(3i32.to_be_bytes());
    want.extend(2i32.to_be_bytes());
    want.extend(b"/a");
    assert_eq!(frame, want);
    let mut r = reader(&frame[4..]);
    let h = ReplyHeader::read(&mut r).expect("header");
    assert_eq!(h.xid, xid::NOTIFICATION);
    assert_eq!(
        WatcherEvent::read(&mut r),
        Ok(WatcherEvent {
            event_type: 3,
            state: 3,
            path: "/a".into()
        })
    );
}

#[test]
fn add_watch_answers_a_four_byte_body() {
    let mut frame = Vec::new();
    encode_reply(&mut frame, 2, 1, Ok(&Response::AddWatch));
    assert_eq!(frame.len(), 4 + 16 + 4);
}

#[test]
fn out_of_range_arguments_decode_to_invalid() {
    let mut b = Vec::new();
    RequestHeader {
        xid: 1,
        opcode: op::ADD_WATCH,
    }
    .put(&mut b);
    b.extend(2i32.to_be_bytes());
    b.extend(b"/a");
    b.extend(7i32.to_be_bytes());
    let (_, req) = decode_request(&b).expect("decodes");
    assert_eq!(
        req,
        ClientRequest::Invalid {
            opcode: 106,
            err: ErrorCode::BadArguments
        }
    );
    let mut b = Vec::new();
    RequestHeader {
        xid: 1,
        opcode: op::REMOVE_WATCHES,
    }
    .put(&mut b);
    b.extend(2i32.to_be_bytes());
    b.extend(b"/a");
    b.extend(9i32.to_be_bytes());
    let (_, req) = decode_request(&b).expect("decodes");
    assert_eq!(
        req,
        ClientRequest::Invalid {
            opcode: 18,
            err: ErrorCode::BadArguments
        }
    );
}

#[test]
fn multi_refuses_reads_and_multi_read_refuses_writes() {
    let mut b = Vec::new();
    RequestHeader {
        xid: 1,
        opcode: op::MULTI,
    }
    .put(&mut b);
    MultiHeader {
        op: op::GET_DATA,
        done: false,
        err: -1,
    }
    .put(&mut b);
    b.extend(2i32.to_be_bytes());
    b.extend(b"/a");
    b.push(0);
    MultiHeader::END.put(&mut b);
    assert!(matches!(decode_request(&b), Err(JuteError::Malformed(_))));

    let mut b = Vec::new();
    RequestHeader {
        xid: 1,
        opcode: op::MULTI_READ,
    }
    .put(&mut b);
    MultiHeader {
        op: op::DELETE,
        done: false,
        err: -1,
    }
    .put(&mut b);
    b.extend(2i32.to_be_bytes());
    b.extend(b"/a");
    b.extend((-1i32).to_be_bytes());
    MultiHeader::END.put(&mut b);
    assert!(matches!(decode_request(&b), Err(JuteError::Malformed(_))));

    // A client cannot nest multi, nor send setACL inside one.
    for sub in [op::MULTI, op::SET_ACL, op::CREATE_SESSION] {
        let mut b = Vec::new();
        RequestHeader {
            xid: 1,
            opcode: op::MULTI,
        }
        .put(&mut b);
        MultiHeader {
            op: sub,
            done: false,
            err: -1,
        }
        .put(&mut b);
        MultiHeader::END.put(&mut b);
        MultiHeader::END.put(&mut b);
        assert!(
            matches!(decode_request(&b), Err(JuteError::Malformed(_))),
            "{sub}"
        );
    }
}

#[test]
fn frame_lengths_beyond_maxbuffer_are_refused() {
    assert_eq!(frame_len(0xfffffi32.to_be_bytes()), Ok(0xfffff));
    assert!(frame_len(0x100000i32.to_be_bytes()).is_err());
    assert!(frame_len((-1i32).to_be_bytes()).is_err());
    // A string longer than jute.maxbuffer inside a frame is refused before reading it.
    let mut b = Vec::new();
    RequestHeader {
        xid: 1,
        opcode: op::EXISTS,
    }
    .put(&mut b);
    b.extend(0x100000i32.to_be_bytes());
    assert!(matches!(decode_request(&b), Err(JuteError::Malformed(_))));
}
