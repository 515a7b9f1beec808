//! The byte-level targets: each runs one decoder the server runs on untrusted bytes. A decoder
//! must return a value or a clean error; a panic (index, overflow, allocation failure from a
//! length field, slice bound) is a finding.
//!
//! Where a file format is sealed by a checksum, the target also builds a copy with the checksum
//! made right, so the fuzzer reaches the record decoders behind it instead of only the check.

use std::sync::{Arc, OnceLock};

use zablab_core::tree::DataTree;
use zablab_core::{Input, Instant, Peer};
use zablab_node::codec::jute::{self, Reader};
use zablab_node::codec::machine::NodeMachine;
use zablab_node::codec::proto::{self, ConnectRequest, ConnectResponse, WatcherEvent};
use zablab_node::codec::wire;
use zablab_node::config::NodeConfig;
use zablab_node::server::election;
use zablab_node::server::storage::{self, Store};

/// `client_connect`: the first frame on the client port (the frame body, without its length).
pub fn client_connect(data: &[u8]) {
    if let Ok(req) = ConnectRequest::decode(data) {
        // What the connection does next with it: the password is echoed back in a response.
        let mut out = Vec::new();
        ConnectResponse {
            protocol_version: 0,
            timeout_ms: req.timeout_ms,
            session_id: req.session_id,
            passwd: req.passwd,
            read_only: req.read_only,
        }
        .encode(&mut out);
    }
}

/// `client_request`: every later frame on the client port: RequestHeader, then the record of
/// its opcode (every request body the server decodes, multi and multiRead included).
pub fn client_request(data: &[u8]) {
    if let Ok((header, req)) = proto::decode_request(data) {
        // A decoded request re-encodes (the client side of the codec): no panic either.
        let mut out = Vec::new();
        proto::encode_request(&mut out, header.xid, &req);
        let _ = req.opcode();
    }
}

/// `client_reply`: what the ZooKeeper client ([`zablab_node::tools::zkclient`]) decodes from a server.
/// The first byte picks the opcode the reply answers (as the client knows it from its xid).
pub fn client_reply(data: &[u8]) {
    const OPCODES: [i32; 33] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 100, 101,
        102, 103, 104, 105, 106, 107, -10, -11, -1,
    ];
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let _ = ConnectResponse::decode(body);
    let _ = proto::decode_reply(body, OPCODES[pick as usize % OPCODES.len()]);
    let _ = WatcherEvent::read(&mut proto::reader(body));
}

/// A single-threaded runtime for the async readers; slices never wait, so each run completes.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime builds")
    })
}

/// `election`: an accepted election-port connection: the handshake (`-65536`, sid, address,
/// or a legacy bare sid), then length-prefixed notifications until the bytes end or one is
/// refused. The same async functions the server runs, reading from the slice.
pub fn election(data: &[u8]) {
    runtime().block_on(async {
        let Ok((sid, rest)) = election::read_handshake(data).await else {
            return;
        };
        let deliver: election::Deliver = Arc::new(move |n| {
            assert_eq!(n.sender, sid, "a notification names the connection's sid");
        });
        let _why = election::read_frames(rest, sid, deliver).await;
    });
}

/// `quorum_packet`: a quorum-port stream, decoded packet after packet as the server's
/// PacketReader does (data-tree transactions; strings bounded by `2 × jute.maxbuffer`).
pub fn quorum_packet(data: &[u8]) {
    let max_len = 2 * proto::MAX_BUFFER_BYTES;
    let mut at = 0;
    while at < data.len() {
        let mut r = Reader::with_max_len(&data[at..], max_len);
        match wire::decode_quorum::<DataTree>(&mut r) {
            Ok(d) => {
                let n = r.position();
                assert!(n > 0, "a decoded packet consumed bytes");
                at += n;
                // What the server sends back re-encodes without a panic.
                let mut out = Vec::new();
                wire::encode_quorum::<DataTree>(&d.msg, 1, "", &mut out);
            }
            Err(_) => return,
        }
    }
}

/// `zoo_cfg`: a zoo.cfg's text through the parser, validation and what the server derives from
/// it as it starts: timeouts, and a peer started and ticked once (the myid file's sid is tried
/// as 1 and as each `server.N`).
pub fn zoo_cfg(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = NodeConfig::parse(text) else {
        return;
    };
    let mut myids: Vec<u64> = cfg.servers.keys().copied().take(4).collect();
    myids.push(1);
    for myid in myids {
        let mut c = cfg.clone();
        c.myid = myid;
        if c.validate().is_ok() {
            // The server's start: its first quorum timeout (initLimit ticks), then the peer
            // with this configuration, started and ticked at its first deadline.
            let pc = c.peer_config();
            let _ = (pc.timing.init_limit_ms(), pc.timing.sync_limit_ms());
            let mut peer = Peer::<DataTree>::new(pc);
            let mut out = Vec::new();
            peer.step(Instant::ZERO, Input::Start, &mut out);
            if let Some(at) = peer.next_deadline() {
                peer.step(at, Input::Tick, &mut out);
            }
            let _ = c.membership_text();
            let _ = c.is_standalone();
            if let Some(me) = c.me() {
                let _ = (me.quorum_addr(), me.election_addr());
            }
        }
    }
}

/// Rewrites each record's Adler-32 in a transaction-log image so the records behind the
/// checksum are reached (walks the layout the reader expects; stops where it breaks).
fn fix_log_checksums(bytes: &mut [u8]) {
    let mut at = 16; // FileHeader
    loop {
        let Some(len) = bytes.get(at + 8..at + 12) else {
            return;
        };
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        let Ok(len) = usize::try_from(len) else {
            return;
        };
        let body = at + 12;
        let Some(end) = body.checked_add(len).filter(|e| *e <= bytes.len()) else {
            return;
        };
        let sum = jute::adler32(&bytes[body..end]) as i64;
        bytes[at..at + 8].copy_from_slice(&sum.to_be_bytes());
        at = end + 1; // the end-of-record byte
    }
}

fn replay_log(bytes: &[u8]) {
    // A refused file is a clean error; a read one has whole records in zxid order.
    let Ok(file) = storage::read_log_bytes::<DataTree>(bytes, 0) else {
        return;
    };
    let mut last = 0;
    for rec in &file.entries {
        assert!(rec.entry.zxid.0 > last, "records come back in zxid order");
        assert!(
            rec.end as usize <= bytes.len(),
            "a record ends inside the file"
        );
        last = rec.entry.zxid.0;
    }
    if let Some((at, _)) = file.bad_tail {
        let end = file.entries.last().map_or(0, |r| r.end);
        assert!(
            at >= end && at as usize <= bytes.len(),
            "the cut is after the last record"
        );
    }
}

/// `txn_log`: a `log.<zxid>` file as recovery reads it: ZooKeeper's header, records (checksum,
/// length, txn, 'B'), each txn decoded as a data-tree transaction (TxnHeader, record, an
/// optional TxnDigest). Run as given and, when it starts
/// with a log header, again with every record's checksum made right.
pub fn txn_log(data: &[u8]) {
    replay_log(data);
    if data.len() > 16 && data[..4] == *b"ZKLG" {
        let mut fixed = data.to_vec();
        fix_log_checksums(&mut fixed);
        replay_log(&fixed);
    }
}

/// `snapshot`: a `snapshot.<zxid>` file as recovery reads it (ZooKeeper's FileSnap layout:
/// sessions, ACL cache, nodes, seals, digest), and the input as the SNAP sync body (the data
/// tree's quorum snapshot decoder). A file that loads is written again and reads back the
/// same (the next snapshot a server writes from it).
pub fn snapshot(data: &[u8]) {
    if let Ok(snap) = Store::<DataTree>::decode_snapshot(data, 0x1_0000_0005) {
        let again = DataTree::write_snapshot_file(&snap, zablab_core::Zxid(0x1_0000_0005));
        let back = DataTree::read_snapshot_file(&again);
        assert_eq!(
            back.ok(),
            Some(snap),
            "a written snapshot reads back the same"
        );
    }
    let mut body = Vec::with_capacity(data.len() + 8);
    jute::put_i64(&mut body, data.len() as i64);
    body.extend_from_slice(data);
    if let Ok(snap) = DataTree::read_snapshot(&mut Reader::new(&body)) {
        // A snapshot that loads can be written again (a SNAP to a learner).
        let mut out = Vec::new();
        DataTree::write_snapshot(&snap, &mut out);
        let again = DataTree::read_snapshot(&mut Reader::new(&out));
        assert_eq!(
            again.ok(),
            Some(snap),
            "a written snapshot reads back the same"
        );
    }
}
