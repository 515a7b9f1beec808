//! Byte layouts between servers: FastLeaderElection notifications (docs/protocol.md §2.2, version 2
//! with the config text) and quorum packets (§3.3: `i32 type; i64 zxid; buffer data;
//! vector<Id> authinfo`, written back to back with no framing), for every core [`Message`].
//!
//! Where ZooKeeper's packet carries something ZabLab's core does not model, or the core needs
//! something ZooKeeper's packet lacks, the choice is written here:
//! * PROPOSAL / INFORM data: [`write_txn_entry`] —
//!   `i64 originSid (-1 none); i64 originTag;` then ZooKeeper's
//!   `TxnHeader{i64 clientId; i32 cxid; i64 zxid; i64 time; i32 type}` and its txn record
//!   (`codec::txn`). (ZooKeeper's learners find the request to answer by clientId and cxid;
//!   the core names the server and request that should get the reply, so ZabLab puts that
//!   in front. The transaction log does not keep it: its records are ZooKeeper's,
//!   `codec::zk_files::txn_log::write_entry`.)
//! * REQUEST data: `i64 tag; i32 cxid = 0; i32 opType` then the request record (opType 9 =
//!   sync); the leader preps it into a transaction.
//! * SYNC data: `i64 tag` (ZooKeeper answers forwarded syncs in FIFO order with null data).
//! * SNAP: the packet, then the machine's snapshot body, then the jute string "BenWasHere".

use zablab_core::durable::LogEntry;
use zablab_core::message::{Forwarded, Message, Notification, PeerState, SessionTouch};
use zablab_core::zxid::{Sid, Zxid};

use crate::codec::jute::{self, malformed, JuteError, Reader};
use crate::codec::machine::{NodeMachine, TxnHeaderIds};

mod reconfig;
pub use reconfig::{config_id, put_reconfig_request, read_reconfig_request};

pub type NodeMessage<M> = Message<
    <M as zablab_core::StateMachine>::Txn,
    <M as zablab_core::StateMachine>::Snapshot,
    <M as zablab_core::StateMachine>::Request,
>;

/// ZooKeeper's election protocol version V1, sent first in the handshake.
pub const ELECTION_PROTOCOL_V1: i64 = -65536;
/// The receiver's bound on the handshake address (`host:port`).
pub const MAX_HANDSHAKE_ADDR_BYTES: usize = 2048;
/// The receiver's bound on one election message.
pub const MAX_ELECTION_MESSAGE_BYTES: usize = 512 * 1024;
/// Notification version sent.
pub const NOTIFICATION_VERSION: i32 = 2;
/// Zab protocol version in LEADERINFO and LearnerInfo.
pub const ZAB_PROTOCOL_VERSION: i32 = 0x10000;
pub const SNAP_TERMINATOR: &str = "BenWasHere";
/// OpCode.sync, the opType of a forwarded sync REQUEST.
pub const OP_SYNC: i32 = 9;
/// OpCode.reconfig, the opType of a forwarded reconfig REQUEST.
pub const OP_RECONFIG: i32 = 16;

// ----- election --------------------------------------------------------------------------------

/// The handshake the connecting side sends on the election port (§2.1, protocol V1).
pub fn election_handshake(myid: Sid, addr: &str) -> Vec<u8> {
    let mut w = Vec::with_capacity(24 + addr.len());
    jute::put_i64(&mut w, ELECTION_PROTOCOL_V1);
    jute::put_i64(&mut w, myid as i64);
    jute::put_i32(&mut w, addr.len() as i32);
    w.extend_from_slice(addr.as_bytes());
    w
}

/// A notification payload (without the `i32` frame length): version 2 with `config` text.
pub fn encode_notification(n: &Notification, config: &str) -> Vec<u8> {
    let mut w = Vec::with_capacity(44 + config.len());
    jute::put_i32(&mut w, n.state as i32);
    jute::put_i64(&mut w, n.vote_id as i64);
    jute::put_i64(&mut w, n.vote_zxid.0 as i64);
    jute::put_i64(&mut w, n.logicclock as i64);
    jute::put_i64(&mut w, n.peer_epoch as i64);
    jute::put_i32(&mut w, NOTIFICATION_VERSION);
    jute::put_i32(&mut w, config.len() as i32);
    w.extend_from_slice(config.as_bytes());
    w
}

/// Decodes a notification payload from `sender`, accepting the older layouts of §2.2.
/// `Ok(None)`: a message ZooKeeper ignores (unknown state).
pub fn decode_notification(payload: &[u8], sender: Sid) -> Result<Option<Notification>, JuteError> {
    if payload.len() < 28 {
        return malformed(format!("notification of {} bytes", payload.len()));
    }
    let mut r = Reader::new(payload);
    let state = r.i32()?;
    let vote_id = r.i64()?;
    let vote_zxid = Zxid(r.i64()? as u64);
    let logicclock = r.i64()?;
    let peer_epoch = if payload.len() >= 36 {
        r.i64()?
    } else {
        vote_zxid.epoch() as i64
    };
    if payload.len() >= 44 {
        let _version = r.i32()?;
        let n = r.i32()?;
        if n < 0 || n as usize > r.remaining() {
            return malformed(format!("notification config length {n}"));
        }
    }
    let Some(state) = PeerState::from_code(state) else {
        return Ok(None);
    };
    if vote_id < 0 || logicclock < 0 || !(0..=u32::MAX as i64).contains(&peer_epoch) {
        return malformed("negative vote id, round or epoch");
    }
    Ok(Some(Notification {
        state,
        vote_id: vote_id as Sid,
        vote_zxid,
        logicclock: logicclock as u64,
        peer_epoch: peer_epoch as u32,
        sender,
    }))
}

// ----- transactions ----------------------------------------------------------------------------

/// The txn bytes of a log entry: the origin, ZooKeeper's TxnHeader, the machine's record.
pub fn write_txn_entry<M: NodeMachine>(e: &LogEntry<M::Txn>, out: &mut Vec<u8>) {
    let (sid, tag) = match e.origin {
        Some((s, t)) => (s as i64, t as i64),
        None => (-1, 0),
    };
    let h = M::txn_header(&e.txn);
    jute::put_i64(out, sid);
    jute::put_i64(out, tag);
    jute::put_i64(out, h.client_id);
    jute::put_i32(out, h.cxid);
    jute::put_i64(out, e.zxid.0 as i64);
    jute::put_i64(out, e.time_ms as i64);
    jute::put_i32(out, h.txn_type);
    M::write_txn(&e.txn, out);
}

/// Reads the bytes [`write_txn_entry`] wrote (the whole slice is the entry).
pub fn read_txn_entry<M: NodeMachine>(bytes: &[u8]) -> Result<LogEntry<M::Txn>, JuteError> {
    let mut r = Reader::new(bytes);
    let sid = r.i64()?;
    let tag = r.i64()?;
    let client_id = r.i64()?;
    let cxid = r.i32()?;
    let zxid = Zxid(r.i64()? as u64);
    let time_ms = r.i64()? as u64;
    let txn_type = r.i32()?;
    let header = TxnHeaderIds {
        client_id,
        cxid,
        txn_type,
    };
    let txn = M::read_txn(header, &mut r)?;
    if !r.is_empty() {
        return malformed("trailing bytes after txn record");
    }
    let origin = if sid < 0 {
        None
    } else {
        Some((sid as Sid, tag as u64))
    };
    Ok(LogEntry {
        zxid,
        time_ms,
        origin,
        txn,
    })
}

// ----- quorum packets --------------------------------------------------------------------------

fn put_packet(w: &mut Vec<u8>, ty: i32, zxid: i64, data: Option<&[u8]>) {
    put_packet_auth(w, ty, zxid, data, &[]);
}

/// A quorum packet with `vector<Id> authinfo` (null when empty): a forwarded REQUEST carries
/// its requester's ids there, as ZooKeeper's learners do (the leader's ACL checks use them).
fn put_packet_auth(
    w: &mut Vec<u8>,
    ty: i32,
    zxid: i64,
    data: Option<&[u8]>,
    auth: &[(String, String)],
) {
    jute::put_i32(w, ty);
    jute::put_i64(w, zxid);
    jute::put_buffer(w, data);
    if auth.is_empty() {
        jute::put_i32(w, -1);
        return;
    }
    // At most MAX_AUTH_IDS, as the reader keeps (a connection holds no more).
    let auth = &auth[..auth.len().min(zablab_core::reconfig::MAX_AUTH_IDS)];
    jute::put_i32(w, auth.len() as i32);
    for (scheme, id) in auth {
        jute::put_ustring(w, Some(scheme));
        jute::put_ustring(w, Some(id));
    }
}

fn learner_info(myid: Sid) -> Vec<u8> {
    let mut d = Vec::with_capacity(20);
    jute::put_i64(&mut d, myid as i64);
    jute::put_i32(&mut d, ZAB_PROTOCOL_VERSION);
    jute::put_i64(&mut d, 0); // configVersion
    d
}

/// Appends the quorum packet(s) for `msg`, sent by `myid`, to `w`. `config` is the text sent
/// with NEWLEADER. Election notifications are not quorum packets and encode to nothing.
pub fn encode_quorum<M: NodeMachine>(
    msg: &NodeMessage<M>,
    myid: Sid,
    config: &str,
    w: &mut Vec<u8>,
) {
    let ty = msg.packet_type();
    let epoch_zxid = |e: u32| Zxid::epoch_start(e).0 as i64;
    match msg {
        // CONFIG travels on the election port too (see `encode_notification`).
        Message::Notification(_) | Message::Config { .. } => {}
        Message::FollowerInfo { accepted_epoch } | Message::ObserverInfo { accepted_epoch } => {
            put_packet(
                w,
                ty,
                epoch_zxid(*accepted_epoch),
                Some(&learner_info(myid)),
            )
        }
        Message::LeaderInfo { new_epoch } => put_packet(
            w,
            ty,
            epoch_zxid(*new_epoch),
            Some(&ZAB_PROTOCOL_VERSION.to_be_bytes()),
        ),
        Message::AckEpoch {
            last_logged_zxid,
            current_epoch,
        } => {
            // The core never holds an epoch at or above MAX_EPOCH (< i32::MAX), so the Java
            // int ZooKeeper puts here cannot turn negative; -1 means "already promised".
            let e = current_epoch
                .map(|e| i32::try_from(e).expect("epochs stay below MAX_EPOCH"))
                .unwrap_or(-1);
            put_packet(w, ty, last_logged_zxid.0 as i64, Some(&e.to_be_bytes()))
        }
        Message::Diff { zxid }
        | Message::Trunc { zxid }
        | Message::Ack { zxid }
        | Message::Commit { zxid } => put_packet(w, ty, zxid.0 as i64, None),
        Message::Snap { zxid, snapshot } => {
            put_packet(w, ty, zxid.0 as i64, None);
            M::write_snapshot(snapshot, w);
            jute::put_ustring(w, Some(SNAP_TERMINATOR));
        }
        Message::NewLeader { zxid } => put_packet(w, ty, zxid.0 as i64, Some(config.as_bytes())),
        Message::UpToDate => put_packet(w, ty, -1, None),
        Message::Proposal(e) | Message::Inform(e) => {
            let mut d = Vec::with_capacity(64);
            write_txn_entry::<M>(e, &mut d);
            put_packet(w, ty, e.zxid.0 as i64, Some(&d))
        }
        Message::Ping { zxid, touches } => {
            if touches.is_empty() {
                put_packet(w, ty, zxid.0 as i64, None)
            } else {
                let mut d = Vec::with_capacity(12 * touches.len());
                for t in touches {
                    jute::put_i64(&mut d, t.session_id);
                    jute::put_i32(&mut d, t.timeout_ms);
                }
                put_packet(w, ty, zxid.0 as i64, Some(&d))
            }
        }
        Message::Request { tag, body } => {
            let mut d = Vec::with_capacity(32);
            jute::put_i64(&mut d, *tag as i64);
            jute::put_i32(&mut d, 0);
            let mut auth: &[(String, String)] = &[];
            match body {
                Forwarded::Sync => jute::put_i32(&mut d, OP_SYNC),
                Forwarded::Write(request) => {
                    jute::put_i32(&mut d, M::request_type(request));
                    M::write_request(request, &mut d);
                }
                Forwarded::Reconfig(request) => {
                    jute::put_i32(&mut d, OP_RECONFIG);
                    put_reconfig_request(request, &mut d);
                    auth = &request.auth;
                }
            }
            put_packet_auth(w, ty, -1, Some(&d), auth)
        }
        Message::Sync { tag } => put_packet(w, ty, 0, Some(&(*tag as i64).to_be_bytes())),
    }
}

/// A decoded quorum packet, with the sender's sid when it was a FOLLOWERINFO/OBSERVERINFO.
pub struct Decoded<M: NodeMachine> {
    pub msg: NodeMessage<M>,
    pub learner_sid: Option<Sid>,
}

fn need<'a>(d: Option<&'a [u8]>, what: &str) -> Result<&'a [u8], JuteError> {
    match d {
        Some(d) => Ok(d),
        None => malformed(format!("{what} without data")),
    }
}

fn epoch_of(zxid: i64, what: &str) -> Result<u32, JuteError> {
    let z = Zxid(zxid as u64);
    if z.counter() != 0 {
        return malformed(format!("{what} zxid 0x{zxid:x} is not an epoch start"));
    }
    Ok(z.epoch())
}

/// Reads one quorum packet (and, for SNAP, the snapshot and terminator that follow it) from the
/// start of `r`. `Err(Eof)`: not all of it has arrived yet.
pub fn decode_quorum<M: NodeMachine>(r: &mut Reader<'_>) -> Result<Decoded<M>, JuteError> {
    let ty = r.i32()?;
    let zxid = r.i64()?;
    let data = r.buffer()?;
    let mut authinfo = Vec::new();
    if let Some(n) = r.vec_count(8)? {
        for _ in 0..n {
            let scheme = r.ustring()?.unwrap_or_default();
            let id = r.ustring()?.unwrap_or_default();
            if authinfo.len() < zablab_core::reconfig::MAX_AUTH_IDS {
                authinfo.push((scheme, id));
            }
        }
    }
    let z = Zxid(zxid as u64);
    let mut learner_sid = None;
    let msg = match ty {
        11 | 16 => {
            let d = need(data, "LEARNERINFO")?;
            let mut dr = Reader::new(d);
            let sid = dr.i64()?;
            if sid < 0 {
                return malformed("negative learner sid");
            }
            learner_sid = Some(sid as Sid);
            let accepted_epoch = epoch_of(zxid, "FOLLOWERINFO")?;
            if ty == 11 {
                Message::FollowerInfo { accepted_epoch }
            } else {
                Message::ObserverInfo { accepted_epoch }
            }
        }
        17 => Message::LeaderInfo {
            new_epoch: epoch_of(zxid, "LEADERINFO")?,
        },
        18 => {
            let e = match data {
                Some(d) if d.len() >= 4 => Reader::new(d).i32()?,
                _ => return malformed("ACKEPOCH without epoch"),
            };
            let current_epoch = if e < 0 { None } else { Some(e as u32) };
            Message::AckEpoch {
                last_logged_zxid: z,
                current_epoch,
            }
        }
        13 => Message::Diff { zxid: z },
        14 => Message::Trunc { zxid: z },
        3 => Message::Ack { zxid: z },
        4 => Message::Commit { zxid: z },
        15 => {
            let snapshot = M::read_snapshot(r)?;
            if r.ustring()?.as_deref() != Some(SNAP_TERMINATOR) {
                return malformed("SNAP not followed by BenWasHere");
            }
            Message::Snap { zxid: z, snapshot }
        }
        10 => Message::NewLeader { zxid: z },
        12 => Message::UpToDate,
        2 | 8 => {
            let d = need(data, "PROPOSAL")?;
            let entry = read_txn_entry::<M>(d).map_err(|e| match e {
                JuteError::Eof => JuteError::Malformed("truncated txn".into()),
                e => e,
            })?;
            if entry.zxid != z {
                return malformed("txn zxid differs from packet zxid");
            }
            if ty == 2 {
                Message::Proposal(entry)
            } else {
                Message::Inform(entry)
            }
        }
        5 => {
            let mut touches = Vec::new();
            if let Some(d) = data {
                if d.len() % 12 != 0 {
                    return malformed("PING session touches not a multiple of 12 bytes");
                }
                let mut dr = Reader::new(d);
                while !dr.is_empty() {
                    touches.push(SessionTouch {
                        session_id: dr.i64()?,
                        timeout_ms: dr.i32()?,
                    });
                }
            }
            Message::Ping { zxid: z, touches }
        }
        1 => {
            let d = need(data, "REQUEST")?;
            let mut dr = Reader::new(d);
            let tag = dr.i64()? as u64;
            let _cxid = dr.i32()?;
            let op = dr.i32()?;
            let body = if op == OP_SYNC {
                Forwarded::Sync
            } else if op == OP_RECONFIG {
                let request = read_reconfig_request(&mut dr).map_err(|e| match e {
                    JuteError::Eof => JuteError::Malformed("truncated reconfig".into()),
                    e => e,
                })?;
                if !dr.is_empty() {
                    return malformed("bytes after a forwarded reconfig");
                }
                let mut request = request;
                request.auth = std::mem::take(&mut authinfo);
                Forwarded::Reconfig(request)
            } else {
                Forwarded::Write(M::read_request(op, &mut dr).map_err(|e| match e {
                    JuteError::Eof => JuteError::Malformed("truncated request".into()),
                    e => e,
                })?)
            };
            Message::Request { tag, body }
        }
        7 => {
            let d = need(data, "SYNC")?;
            let tag = Reader::new(d)
                .i64()
                .map_err(|_| JuteError::Malformed("SYNC tag".into()))?;
            Message::Sync { tag: tag as u64 }
        }
        other => return malformed(format!("unknown quorum packet type {other}")),
    };
    Ok(Decoded { msg, learner_sid })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zablab_core::config::LearnerType;
    use zablab_core::machine::ChainMachine;
    use zablab_core::reconfig::ReconfigRequest;

    type M = ChainMachine;

    fn round_trip(msg: NodeMessage<M>) {
        let mut w = Vec::new();
        encode_quorum::<M>(&msg, 7, "server.1=a:1:2:participant\nversion=0", &mut w);
        let mut r = Reader::new(&w);
        let d = decode_quorum::<M>(&mut r).expect("decodes");
        assert!(r.is_empty(), "{msg:?} left bytes");
        assert_eq!(d.msg, msg);
        // Every proper prefix is "need more bytes", never a panic or a wrong message.
        for cut in 0..w.len() {
            let mut r = Reader::new(&w[..cut]);
            assert!(decode_quorum::<M>(&mut r).is_err(), "{msg:?} cut at {cut}");
        }
    }

    #[test]
    fn every_quorum_message_round_trips() {
        let e = LogEntry {
            zxid: Zxid::new(2, 5),
            time_ms: 99,
            origin: Some((3, 44)),
            txn: 12u64,
        };
        let msgs: Vec<NodeMessage<M>> = vec![
            Message::FollowerInfo { accepted_epoch: 3 },
            Message::ObserverInfo { accepted_epoch: 0 },
            Message::LeaderInfo { new_epoch: 4 },
            Message::AckEpoch {
                last_logged_zxid: Zxid::new(1, 9),
                current_epoch: Some(1),
            },
            Message::AckEpoch {
                last_logged_zxid: Zxid::new(1, 9),
                current_epoch: None,
            },
            Message::Diff {
                zxid: Zxid::new(1, 2),
            },
            Message::Trunc {
                zxid: Zxid::new(1, 2),
            },
            Message::Snap {
                zxid: Zxid::new(1, 2),
                snapshot: ChainMachine {
                    chain: 5,
                    writes: vec![1, 2, 3],
                    configs: vec![(Zxid::new(1, 1), zablab_core::Ensemble::new(3, 1))],
                },
            },
            Message::NewLeader {
                zxid: Zxid::epoch_start(4),
            },
            Message::UpToDate,
            Message::Proposal(e.clone()),
            Message::Inform(LogEntry {
                origin: None,
                ..e.clone()
            }),
            Message::Ack {
                zxid: Zxid::new(2, 5),
            },
            Message::Commit {
                zxid: Zxid::new(2, 5),
            },
            Message::Ping {
                zxid: Zxid::new(2, 5),
                touches: vec![],
            },
            Message::Ping {
                zxid: Zxid::new(2, 5),
                touches: vec![SessionTouch {
                    session_id: 8,
                    timeout_ms: 4000,
                }],
            },
            Message::Request {
                tag: 77,
                body: Forwarded::Write(5),
            },
            Message::Request {
                tag: 78,
                body: Forwarded::Sync,
            },
            Message::Sync { tag: 78 },
        ];
        for m in msgs {
            round_trip(m);
        }
    }

    #[test]
    fn a_forwarded_reconfig_is_zookeepers_reconfig_request_and_round_trips() {
        let add = ReconfigRequest {
            joining: vec![(100, LearnerType::Observer), (4, LearnerType::Participant)],
            leaving: vec![2, 3],
            new_members: None,
            from_config: Some(Zxid::new(1, 2)),
            specs: vec![
                (100, "0.0.0.0:1234:2345:observer;0.0.0.0:3456".into()),
                (4, "h:1:2;2181".into()),
            ],
            // Travels in the QuorumPacket's authinfo, not in the record.
            auth: vec![("digest".into(), "super:D/InIHSb7yEEbrWz8b9l71RjZJU=".into())],
        };
        // The jute record: joiningServers, leavingServers, newMembers, curConfigId.
        let mut d = Vec::new();
        put_reconfig_request(&add, &mut d);
        let mut r = Reader::new(&d);
        assert_eq!(
            r.ustring().expect("joining").as_deref(),
            Some("server.100=0.0.0.0:1234:2345:observer;0.0.0.0:3456,server.4=h:1:2;2181")
        );
        assert_eq!(r.ustring().expect("leaving").as_deref(), Some("2,3"));
        assert_eq!(r.ustring().expect("new members"), None);
        assert_eq!(r.i64().expect("curConfigId"), 0x1_0000_0002);
        assert!(r.is_empty());
        let any = ReconfigRequest {
            new_members: Some(vec![
                (1, LearnerType::Participant),
                (2, LearnerType::Observer),
            ]),
            specs: vec![(1, "a:1:2:participant;3".into())],
            ..Default::default()
        };
        let mut d = Vec::new();
        put_reconfig_request(&any, &mut d);
        let mut r = Reader::new(&d);
        assert_eq!(r.ustring().expect("joining"), None);
        assert_eq!(r.ustring().expect("leaving"), None);
        assert_eq!(
            r.ustring().expect("new members").as_deref(),
            Some("server.1=a:1:2:participant;3,server.2=observer")
        );
        assert_eq!(r.i64().expect("curConfigId"), -1);
        for (tag, request) in [(80, add), (81, any), (82, ReconfigRequest::default())] {
            round_trip(Message::Request {
                tag,
                body: Forwarded::Reconfig(request),
            });
        }
        // A member without a server id is malformed, not a panic.
        let mut d = Vec::new();
        jute::put_ustring(&mut d, Some("server.x=h:1:2"));
        jute::put_ustring(&mut d, None);
        jute::put_ustring(&mut d, None);
        jute::put_i64(&mut d, -1);
        assert!(matches!(
            read_reconfig_request(&mut Reader::new(&d)),
            Err(JuteError::Malformed(_))
        ));
    }

    #[test]
    fn follower_info_carries_the_learner_sid_in_zookeeper_layout() {
        let mut w = Vec::new();
        encode_quorum::<M>(&Message::FollowerInfo { accepted_epoch: 1 }, 9, "", &mut w);
        // type 11, zxid 1<<32, data len 20, sid 9, version 0x10000, configVersion 0, authinfo -1
        assert_eq!(&w[0..4], &11i32.to_be_bytes());
        assert_eq!(&w[4..12], &(1i64 << 32).to_be_bytes());
        assert_eq!(&w[12..16], &20i32.to_be_bytes());
        assert_eq!(&w[16..24], &9i64.to_be_bytes());
        assert_eq!(&w[24..28], &0x10000i32.to_be_bytes());
        assert_eq!(&w[w.len() - 4..], &(-1i32).to_be_bytes());
        let d = decode_quorum::<M>(&mut Reader::new(&w)).expect("decodes");
        assert_eq!(d.learner_sid, Some(9));
    }

    #[test]
    fn notification_layout_is_version_2_with_config() {
        let n = Notification {
            state: PeerState::Looking,
            vote_id: 3,
            vote_zxid: Zxid::new(1, 4),
            logicclock: 2,
            peer_epoch: 1,
            sender: 3,
        };
        let b = encode_notification(&n, "abc");
        assert_eq!(b.len(), 47);
        assert_eq!(&b[36..40], &2i32.to_be_bytes());
        assert_eq!(decode_notification(&b, 3), Ok(Some(n)));
        assert_eq!(
            decode_notification(&b[..40], 3),
            Ok(Some(n)),
            "version-0 layout"
        );
        assert!(decode_notification(&b[..20], 3).is_err());
        let mut bad_state = b.clone();
        bad_state[3] = 9;
        assert_eq!(decode_notification(&bad_state, 3), Ok(None));
        let mut bad_len = b;
        bad_len[43] = 200;
        assert!(decode_notification(&bad_len, 3).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        for _ in 0..20_000 {
            seed = zablab_core::machine::mix64(seed);
            let len = (seed % 64) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| (zablab_core::machine::mix64(seed + i as u64) % 20) as u8)
                .collect();
            let _ = decode_quorum::<M>(&mut Reader::new(&bytes));
            let _ = decode_notification(&bytes, 1);
        }
    }
}
