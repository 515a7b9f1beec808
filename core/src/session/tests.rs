//! The session layer against a simulated ensemble replicating the data tree: the tests drive
//! one server's [`ClientSessions`] as a host would (inputs into the cluster, the cluster's
//! request results back), and assert what the layer sends to each connection, in order.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::sim::zk::ZkCluster;
use crate::sim::{Action, ClientResult, SimConfig};
use crate::tree::acl::open_acl_unsafe;
use crate::tree::{CreateRequest, DataTree, EventType, ReadRequest, ReadResponse, SetDataRequest};
use crate::zxid::Sid;

mod read_only;

/// One server's session layer with a host that records everything it is sent.
struct Rig {
    cluster: ZkCluster,
    server: Sid,
    layer: ClientSessions<DataTree>,
    out: Vec<(ConnId, ClientReply)>,
    /// The cluster's tag → the layer's tag.
    sent: BTreeMap<RequestTag, RequestTag>,
    /// Every SessionTouch the layer asked for, in order.
    touches: Vec<(i64, i32)>,
}

fn limits() -> SessionLimits<Request> {
    SessionLimits {
        max_buffer_bytes: 1 << 20,
        txn_bytes: |t: &Request| t.auth.iter().map(|i| i.id.len()).sum::<usize>() + 64,
    }
}

impl Rig {
    /// A stable three-server ensemble; the layer runs on the leader or on a follower.
    fn new(seed: u64, on_leader: bool) -> Rig {
        let mut cluster = ZkCluster::new(SimConfig::default(), seed);
        let limit = cluster.now() + 10_000;
        assert!(cluster.run_until_pred(limit, |c| c.is_stable()));
        let leader = cluster.leader().expect("stable");
        let server = if on_leader {
            leader
        } else {
            (1..=3).find(|s| *s != leader).expect("a follower")
        };
        Rig {
            cluster,
            server,
            layer: ClientSessions::new(limits(), AuthConfig::default()),
            out: Vec::new(),
            sent: BTreeMap::new(),
            touches: Vec::new(),
        }
    }

    fn feed(&mut self, inputs: Vec<Input<DataTree>>) {
        for input in inputs {
            match input {
                Input::ClientWrite { tag, request } => {
                    let action = Action::Write {
                        server: self.server,
                        txn: request,
                    };
                    let t = self.cluster.act(action).expect("a request tag");
                    self.sent.insert(t, tag);
                }
                Input::ClientSync { tag } => {
                    let t = self.cluster.act(Action::Sync {
                        server: self.server,
                    });
                    self.sent.insert(t.expect("a request tag"), tag);
                }
                Input::SessionTouch {
                    session_id,
                    timeout_ms,
                } => {
                    self.touches.push((session_id, timeout_ms));
                    self.cluster
                        .touch_session(self.server, session_id, timeout_ms);
                }
                _ => panic!("the layer only feeds client inputs"),
            }
        }
    }

    /// What a host does after the peer stepped: events, request results, `after_step`.
    fn pump(&mut self) {
        let Some(peer) = self.cluster.peer_mut(self.server) else {
            self.layer.forget_all(&mut self.out, "down");
            return;
        };
        let fired = self.layer.take_fired(peer).rest();
        self.layer.dispatch_events(&mut self.out, fired);
        let sent: Vec<(RequestTag, RequestTag)> = self.sent.iter().map(|(a, b)| (*a, *b)).collect();
        for (ct, lt) in sent {
            let result = match self.cluster.request(ct) {
                Some(ClientResult::Pending) => continue,
                r => r.cloned(),
            };
            self.sent.remove(&ct);
            let peer = self.cluster.peer_mut(self.server).expect("running");
            match result {
                Some(ClientResult::Replied { zxid, outcome }) => {
                    self.layer.on_reply(peer, &mut self.out, lt, zxid, &outcome)
                }
                Some(ClientResult::Synced { zxid }) => {
                    self.layer.on_sync_done(peer, &mut self.out, lt, zxid)
                }
                _ => self.layer.on_failed(peer, &mut self.out, lt),
            }
        }
        let now = self.cluster.now();
        if let Some(peer) = self.cluster.peer_mut(self.server) {
            self.layer.after_step(peer, &mut self.out);
            self.layer.read_only_step(peer, &mut self.out, now);
        }
    }

    fn run_for(&mut self, ms: u64) {
        for _ in 0..ms / 5 {
            self.cluster.run_for(5);
            self.pump();
        }
    }

    /// A new session on connection `conn`, created through ZAB; its id.
    fn connect(&mut self, conn: ConnId, timeout_ms: i32) -> i64 {
        let now = self.cluster.now();
        let peer = self.cluster.peer_mut(self.server).expect("running");
        let req = ConnectRequest {
            last_zxid_seen: 0,
            timeout_ms,
            session_id: 0,
            password: Vec::new(),
            auth: Vec::new(),
            read_only: false,
        };
        let inputs = self.layer.connect(peer, &mut self.out, now, conn, req);
        self.feed(inputs);
        self.run_for(500);
        let got = self.take(conn);
        match got.as_slice() {
            [ClientReply::Connected { session_id, .. }] => *session_id,
            other => panic!("expected Connected, got {other:?}"),
        }
    }

    fn request(&mut self, conn: ConnId, xid: i32, op: ClientOp) -> Vec<Input<DataTree>> {
        let now = self.cluster.now();
        let peer = self.cluster.peer_mut(self.server).expect("running");
        let inputs = self
            .layer
            .request(peer, &mut self.out, now, conn, xid, op, 0);
        self.feed(inputs.clone());
        inputs
    }

    /// What the layer sent to `conn` since the last call, oldest first.
    fn take(&mut self, conn: ConnId) -> Vec<ClientReply> {
        let (mine, rest) = core::mem::take(&mut self.out)
            .into_iter()
            .partition(|(c, _)| *c == conn);
        self.out = rest;
        mine.into_iter().map(|(_, r)| r).collect()
    }
}

fn create(path: &str, data: &[u8]) -> ClientOp {
    ClientOp::Write(WriteOp::Create(CreateRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        acl: open_acl_unsafe(),
        flags: 0,
    }))
}

fn get_data(path: &str, watch: bool) -> ClientOp {
    ClientOp::Read(ReadRequest::GetData {
        path: path.into(),
        watch,
    })
}

fn xids(replies: &[ClientReply]) -> Vec<i32> {
    replies
        .iter()
        .filter_map(|r| match r {
            ClientReply::Reply { xid, .. } => Some(*xid),
            _ => None,
        })
        .collect()
}

#[test]
fn a_write_then_a_read_on_one_session_are_answered_in_that_order() {
    let mut rig = Rig::new(3, false);
    rig.connect(1, 4000);
    rig.request(1, 1, create("/a", b"v1"));
    rig.request(1, 2, get_data("/a", false));
    assert_eq!(
        rig.take(1),
        vec![],
        "neither is answered before the write commits"
    );
    rig.run_for(500);
    let replies = rig.take(1);
    assert_eq!(xids(&replies), vec![1, 2]);
}

#[test]
fn a_read_does_not_overtake_an_earlier_write_of_its_session() {
    let mut rig = Rig::new(4, false);
    rig.connect(1, 4000);
    rig.connect(2, 4000);
    rig.request(1, 1, create("/a", b"v1"));
    rig.request(1, 2, get_data("/a", false));
    // Another session's read is not held behind session 1's write: it is served at once,
    // from a tree that does not have /a yet.
    rig.request(2, 1, get_data("/a", false));
    match rig.take(2).as_slice() {
        [ClientReply::Reply {
            xid: 1,
            body: ReplyBody::Read(Err(ErrorCode::NoNode)),
            ..
        }] => {}
        other => panic!("session 2's read: {other:?}"),
    }
    rig.run_for(500);
    let replies = rig.take(1);
    let write_zxid = match &replies[0] {
        ClientReply::Reply {
            xid: 1,
            zxid,
            body: ReplyBody::Write(Ok(_)),
        } => *zxid,
        other => panic!("the write's reply first: {other:?}"),
    };
    match &replies[1] {
        ClientReply::Reply {
            xid: 2,
            zxid,
            body: ReplyBody::Read(Ok(ReadResponse::GetData { data, .. })),
        } => {
            assert_eq!(data.as_deref(), Some(&b"v1"[..]), "the read sees the write");
            assert!(*zxid >= write_zxid);
        }
        other => panic!("the read's reply second: {other:?}"),
    }
}

#[test]
fn sync_is_answered_before_the_read_behind_it_with_the_path_it_named() {
    let mut rig = Rig::new(5, false);
    rig.connect(1, 4000);
    let inputs = rig.request(
        1,
        1,
        ClientOp::Sync {
            path: String::from("/"),
        },
    );
    assert!(inputs.iter().any(|i| matches!(i, Input::ClientSync { .. })));
    rig.request(
        1,
        2,
        ClientOp::Read(ReadRequest::Exists {
            path: "/".into(),
            watch: false,
        }),
    );
    assert_eq!(rig.take(1), vec![], "the read waits behind the sync");
    rig.run_for(500);
    let replies = rig.take(1);
    assert_eq!(xids(&replies), vec![1, 2]);
    assert!(matches!(
        &replies[0],
        ClientReply::Reply { body: ReplyBody::Sync(Ok(p)), .. } if p == "/"
    ));
}

#[test]
fn a_watch_fires_once_and_only_to_the_connection_that_set_it() {
    let mut rig = Rig::new(6, false);
    rig.connect(1, 4000);
    rig.connect(2, 4000);
    rig.request(
        1,
        1,
        ClientOp::Read(ReadRequest::Exists {
            path: "/w".into(),
            watch: true,
        }),
    );
    assert_eq!(rig.take(1).len(), 1, "exists answered");
    rig.request(2, 1, create("/w", b""));
    rig.run_for(500);
    let events = |rs: &[ClientReply]| -> Vec<(EventType, String)> {
        rs.iter()
            .filter_map(|r| match r {
                ClientReply::Event(e) => Some((e.event_type, e.path.clone())),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        events(&rig.take(1)),
        vec![(EventType::NodeCreated, String::from("/w"))]
    );
    assert_eq!(events(&rig.take(2)), vec![], "the writer set no watch");
    rig.request(
        2,
        2,
        ClientOp::Write(WriteOp::SetData(SetDataRequest {
            path: "/w".into(),
            data: Some(b"again".to_vec()),
            version: -1,
        })),
    );
    rig.run_for(500);
    assert_eq!(events(&rig.take(1)), vec![], "a standard watch fires once");
}

#[test]
fn pings_and_requests_touch_the_session_and_an_expired_session_closes_its_connection() {
    let mut rig = Rig::new(7, true);
    let session = rig.connect(1, 4000);
    let timeout = rig.touches.last().map(|t| t.1).unwrap_or(4000);
    rig.touches.clear();
    let now = rig.cluster.now();
    let peer = rig.cluster.peer_mut(rig.server).expect("running");
    let inputs = rig.layer.ping(peer, &mut rig.out, now, 1);
    assert!(matches!(
        inputs.as_slice(),
        [Input::SessionTouch { session_id, .. }] if *session_id == session
    ));
    assert!(matches!(
        rig.take(1).as_slice(),
        [ClientReply::Reply {
            xid: -2,
            body: ReplyBody::Status(ErrorCode::Ok),
            ..
        }]
    ));
    let inputs = rig.request(1, 1, get_data("/", false));
    assert!(matches!(
        inputs.first(),
        Some(Input::SessionTouch { session_id, .. }) if *session_id == session
    ));
    rig.take(1);
    // No more touches: the leader expires the session and the layer closes its connection.
    rig.run_for(3 * timeout.max(4000) as u64);
    assert_eq!(rig.take(1), vec![ClientReply::Close("session expired")]);
    assert!(rig.layer.is_empty());
}

#[test]
fn a_server_that_stops_serving_closes_every_connection_and_refuses_new_ones() {
    let mut rig = Rig::new(8, false);
    rig.connect(1, 30_000);
    rig.connect(2, 30_000);
    let leader = rig.cluster.leader().expect("stable");
    rig.cluster.act(Action::Crash(leader));
    rig.run_for(50);
    for conn in [1, 2] {
        assert_eq!(
            rig.take(conn),
            vec![ClientReply::Close("this server is not serving requests")],
            "connection {conn}"
        );
    }
    assert!(rig.layer.is_empty());
    let now = rig.cluster.now();
    let peer = rig.cluster.peer_mut(rig.server).expect("running");
    assert!(
        !peer.is_serving(),
        "still electing 50 ms after the leader crashed"
    );
    {
        let req = ConnectRequest {
            last_zxid_seen: 0,
            timeout_ms: 4000,
            session_id: 0,
            password: Vec::new(),
            auth: Vec::new(),
            read_only: false,
        };
        let inputs = rig.layer.connect(peer, &mut rig.out, now, 3, req);
        assert!(inputs.is_empty(), "nothing reaches the peer");
        assert_eq!(
            rig.take(3),
            vec![ClientReply::Close("this server is not serving requests")]
        );
    }
}

#[test]
fn a_write_whose_transaction_is_above_max_buffer_is_refused_and_never_proposed() {
    let mut rig = Rig::new(9, false);
    rig.connect(1, 4000);
    let big = Id::new("digest", &"x".repeat(1000));
    let peer = rig.cluster.peer_mut(rig.server).expect("running");
    rig.layer
        .grant(peer, 1, &[big])
        .expect("within the auth limits");
    rig.layer.limits.max_buffer_bytes = 512;
    let inputs = rig.request(1, 1, create("/big", b""));
    assert!(
        !inputs
            .iter()
            .any(|i| matches!(i, Input::ClientWrite { .. })),
        "not proposed"
    );
    assert!(matches!(
        rig.take(1).as_slice(),
        [ClientReply::Reply {
            xid: 1,
            body: ReplyBody::Status(ErrorCode::BadArguments),
            ..
        }]
    ));
}
