//! Read-only mode ([`super::super::read_only`]) on one server of a simulated three-server
//! ensemble whose two other servers crash: what the layer lets in, what it answers, and how
//! it lets go when the quorum returns.

use super::*;
use crate::tree::WriteResponse;

fn request_of(session_id: i64, read_only: bool) -> ConnectRequest {
    ConnectRequest {
        last_zxid_seen: 0,
        timeout_ms: 4000,
        session_id,
        password: if session_id == 0 {
            Vec::new()
        } else {
            session_password(session_id).to_vec()
        },
        auth: Vec::new(),
        read_only,
    }
}

impl Rig {
    /// A ConnectRequest on `conn`; what the layer sent back at once (nothing goes to the peer).
    fn connect_with(&mut self, conn: ConnId, req: ConnectRequest) -> Vec<ClientReply> {
        let now = self.cluster.now();
        let peer = self.cluster.peer_mut(self.server).expect("running");
        let inputs = self.layer.connect(peer, &mut self.out, now, conn, req);
        let serving = peer.is_serving();
        self.feed(inputs);
        if serving {
            self.run_for(500);
        }
        self.take(conn)
    }

    /// Crashes the two other servers and runs until this one serves read-only; the time it
    /// took from the crash.
    fn cut_from_quorum(&mut self) -> u64 {
        let others: Vec<Sid> = (1..=3).filter(|s| *s != self.server).collect();
        for s in others {
            self.cluster.act(Action::Crash(s));
        }
        let start = self.cluster.now();
        for _ in 0..400 {
            if self.layer.is_read_only() {
                return self.cluster.now().saturating_sub(start);
            }
            self.run_for(25);
        }
        panic!("server {} never went read-only", self.server);
    }

    fn restart_others(&mut self) {
        let others: Vec<Sid> = (1..=3).filter(|s| *s != self.server).collect();
        for s in others {
            self.cluster.act(Action::Restart(s));
        }
    }
}

fn ro_session(replies: &[ClientReply]) -> i64 {
    match replies {
        [ClientReply::Connected {
            session_id,
            read_only: true,
            ..
        }] => *session_id,
        other => panic!("expected a read-only Connected, got {other:?}"),
    }
}

#[test]
fn a_server_cut_from_its_quorum_serves_read_only_clients_until_the_quorum_returns() {
    let mut rig = Rig::new(11, false);
    rig.layer.set_read_only_mode(true);
    let global = rig.connect(1, 30_000);
    rig.request(1, 1, create("/a", b"v1"));
    rig.run_for(500);
    assert_eq!(xids(&rig.take(1)), vec![1]);

    let others: Vec<Sid> = (1..=3).filter(|s| *s != rig.server).collect();
    for s in &others {
        rig.cluster.act(Action::Crash(*s));
    }
    let looking_at = {
        // Until the peer notices, and then for the grace period, nobody is let in.
        let mut at = None;
        for _ in 0..2000 {
            rig.run_for(5);
            let peer = rig.cluster.peer_mut(rig.server).expect("running");
            if peer.state() == crate::message::PeerState::Looking {
                at = Some(rig.cluster.now());
                break;
            }
        }
        at.expect("the survivor goes LOOKING")
    };
    assert_eq!(
        rig.take(1),
        vec![ClientReply::Close("this server is not serving requests")]
    );
    assert_eq!(
        rig.connect_with(2, request_of(0, true)),
        vec![ClientReply::Close("this server is not serving requests")],
        "within the grace period"
    );
    let tick = rig
        .cluster
        .peer_mut(rig.server)
        .expect("running")
        .config()
        .timing
        .tick_time_ms;
    let grace = READ_ONLY_GRACE_MIN_MS.max(tick);
    for _ in 0..2000 {
        if rig.layer.is_read_only() {
            break;
        }
        rig.run_for(5);
    }
    assert!(rig.layer.is_read_only(), "read-only after the grace period");
    let waited = rig.cluster.now().saturating_sub(looking_at);
    assert!(
        waited >= grace && waited <= grace + 10,
        "read-only {waited} ms after LOOKING began, the grace period is {grace} ms"
    );

    assert_eq!(
        rig.connect_with(3, request_of(0, false)),
        vec![ClientReply::Close(
            "refusing session request for not-read-only client"
        )]
    );
    assert_eq!(
        rig.connect_with(4, request_of(global, true)),
        vec![ClientReply::Close(
            "refusing global session reconnection in read-only mode"
        )]
    );
    let ro = ro_session(&rig.connect_with(5, request_of(0, true)));
    assert_ne!(ro, global);
    assert_eq!((ro as u64) >> 56, rig.server, "this server's session ids");
    let peer = rig.cluster.peer_mut(rig.server).expect("running");
    assert!(
        !peer
            .machine()
            .tree()
            .expect("tree")
            .sessions()
            .contains_key(&ro),
        "a local session is not in the replicated table"
    );

    let mut inputs = rig.request(5, 1, get_data("/a", false));
    inputs.extend(rig.request(5, 2, create("/b", b"x")));
    inputs.extend(rig.request(5, 3, ClientOp::Sync { path: "/a".into() }));
    inputs.extend(rig.request(5, 4, get_data("/b", false)));
    assert!(inputs.is_empty(), "nothing is proposed or touched");
    let replies = rig.take(5);
    assert_eq!(xids(&replies), vec![1, 2, 3, 4], "in request order");
    match &replies[0] {
        ClientReply::Reply {
            body: ReplyBody::Read(Ok(ReadResponse::GetData { data, .. })),
            ..
        } => assert_eq!(data.as_deref(), Some(&b"v1"[..])),
        other => panic!("the read of /a: {other:?}"),
    }
    for r in &replies[1..3] {
        assert!(
            matches!(
                r,
                ClientReply::Reply {
                    body: ReplyBody::Status(ErrorCode::NotReadOnly),
                    ..
                }
            ),
            "a write and a sync are NotReadOnly: {r:?}"
        );
    }
    assert!(matches!(
        &replies[3],
        ClientReply::Reply {
            body: ReplyBody::Read(Err(ErrorCode::NoNode)),
            ..
        }
    ));

    rig.restart_others();
    for _ in 0..600 {
        if !rig.layer.is_read_only() {
            break;
        }
        rig.run_for(25);
    }
    assert!(!rig.layer.is_read_only(), "the election ended");
    assert_eq!(
        rig.take(5),
        vec![ClientReply::Close("the read-only server shut down")]
    );
    assert!(rig.layer.is_empty());
    assert_eq!(rig.layer.read_only_sessions(), 0);
    for _ in 0..600 {
        if rig
            .cluster
            .peer_mut(rig.server)
            .is_some_and(|p| p.is_serving())
        {
            break;
        }
        rig.run_for(25);
    }
    // Read-write again: a new session goes through ZAB, and writes commit.
    rig.connect(6, 30_000);
    rig.request(6, 1, create("/c", b"v"));
    rig.run_for(500);
    assert!(matches!(
        rig.take(6).as_slice(),
        [ClientReply::Reply {
            xid: 1,
            body: ReplyBody::Write(Ok(_)),
            ..
        }]
    ));
}

#[test]
fn a_local_session_reconnects_within_its_timeout_closes_and_expires() {
    let mut rig = Rig::new(12, false);
    rig.layer.set_read_only_mode(true);
    rig.cut_from_quorum();
    let ro = ro_session(&rig.connect_with(1, request_of(0, true)));
    {
        let peer = rig.cluster.peer_mut(rig.server).expect("running");
        rig.layer.gone(peer, 1);
    }
    assert_eq!(
        ro_session(&rig.connect_with(2, request_of(ro, true))),
        ro,
        "the session resumes on a new connection"
    );
    // closeSession ends a local session here, and only here.
    rig.request(2, 7, ClientOp::Write(WriteOp::CloseSession));
    let replies = rig.take(2);
    assert!(matches!(
        replies.as_slice(),
        [
            ClientReply::Reply {
                xid: 7,
                body: ReplyBody::Write(Ok(WriteResponse::CloseSession)),
                ..
            },
            ClientReply::Close("session closed")
        ]
    ));
    assert_eq!(
        rig.connect_with(3, request_of(ro, true)),
        vec![ClientReply::Expired]
    );

    let other = ro_session(&rig.connect_with(4, request_of(0, true)));
    {
        let peer = rig.cluster.peer_mut(rig.server).expect("running");
        rig.layer.gone(peer, 4);
    }
    // 4000 ms asked; negotiated within [2, 20] ticks.
    rig.run_for(45_000);
    assert!(rig.layer.is_read_only(), "still cut off");
    assert_eq!(rig.layer.read_only_sessions(), 0, "expired");
    assert_eq!(
        rig.connect_with(5, request_of(other, true)),
        vec![ClientReply::Expired]
    );
}
