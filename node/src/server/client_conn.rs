//! One ZooKeeper client connection on the client port: bytes in, [`ClientEvent`]s to the peer
//! task; [`ClientReply`]s back, bytes out (docs/protocol.md §5). Two halves run concurrently, so a
//! client that stops reading never blocks the server: the peer task only ever pushes into this
//! connection's queue, and the writer drains it at the client's pace.
//!
//! What a client that does not read can make the server hold is bounded
//! ([`crate::server::sessions::limits`]): the queued reply bytes and the requests in flight are
//! counted in the connection's [`ReplyBudget`]; over budget, the reader stops reading requests
//! and the peer task holds back this connection's reads; a write that makes no progress for
//! twice the session timeout closes the connection, and so does a queue past a hard bound
//! (watch events and write replies, which are not held back). Closing drops both halves of the
//! socket, whatever either was doing.
//!
//! The stream is plain TCP or TLS (`secureClientPort`); this file does not know which.
//!
//! Anything malformed — a bad length prefix, a frame over `jute.maxbuffer`, a record that does
//! not decode — closes the connection with a log line, as ZooKeeper does.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::timeout;
use zablab_core::tree::{ErrorCode, WriteOp, WriteResponse};

use crate::codec::proto::{
    decode_request, encode_notification, encode_reply, ClientInfo, ClientRequest, ConnectRequest,
    ConnectResponse, Response,
};
use crate::server::connections::ConnStats;
use crate::server::sessions::limits::reply_bytes;
use crate::server::sessions::{ClientEvent, ClientOp, ClientReply, ConnId, ReplyBody, ReplyBudget};
use crate::server::shared::Shared;
use crate::tls::{write_all_flush, PeerStream};

/// Replies waiting for a client that does not read: past this, the connection is closed.
const MAX_QUEUED_REPLIES: usize = 100_000;
/// Queued reply bytes past this many budgets close the connection (what is not held back:
/// watch events, write replies).
const HARD_LIMIT_BUDGETS: usize = 4;
/// The ConnectRequest and the ConnectResponse must each pass within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves a client whose first frame (the ConnectRequest) is `first_len` bytes long.
pub async fn serve<S: PeerStream>(
    stream: S,
    peer: SocketAddr,
    first_len: i32,
    shared: Arc<Shared>,
    stats: Arc<ConnStats>,
) {
    let max = shared.config.jute_max_buffer;
    if first_len <= 0 || first_len as usize > max {
        eprintln!("zablab: client {peer}: first frame length {first_len} is invalid, closing");
        return;
    }
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut body = vec![0u8; first_len as usize];
    if timeout(HANDSHAKE_TIMEOUT, rd.read_exact(&mut body))
        .await
        .is_err()
    {
        eprintln!("zablab: client {peer}: no ConnectRequest in time, closing");
        return;
    }
    let req = match ConnectRequest::decode(&body) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("zablab: client {peer}: malformed ConnectRequest ({e}), closing");
            return;
        }
    };
    let conn: ConnId = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::unbounded_channel::<ClientReply>();
    let budget = Arc::new(ReplyBudget::new(max));
    let events = shared.client_events.clone();
    let connect = ClientEvent::Connect {
        conn,
        tx,
        budget: budget.clone(),
        remote_ip: peer.ip(),
        last_zxid_seen: req.last_zxid_seen,
        timeout_ms: req.timeout_ms,
        session_id: req.session_id,
        password: req.passwd.clone(),
        read_only: req.read_only == Some(true),
    };
    if events.send(connect).is_err() {
        return;
    }
    // Until the session is settled nothing else is read (ZooKeeper stops reading too).
    let read_only_byte = req.read_only.is_some();
    let negotiated = match rx.recv().await {
        Some(ClientReply::Connected {
            session_id,
            timeout_ms,
            password,
            read_only,
        }) => {
            let resp = ConnectResponse {
                protocol_version: 0,
                timeout_ms,
                session_id,
                passwd: password.to_vec(),
                read_only: read_only_byte.then_some(read_only),
            };
            let mut out = Vec::new();
            resp.encode(&mut out);
            if !matches!(
                timeout(HANDSHAKE_TIMEOUT, write_all_flush(&mut wr, &out)).await,
                Ok(Ok(()))
            ) {
                let _ = events.send(ClientEvent::Gone { conn });
                return;
            }
            stats.established(session_id, timeout_ms);
            timeout_ms
        }
        Some(ClientReply::Expired) => {
            let mut out = Vec::new();
            ConnectResponse::expired(read_only_byte).encode(&mut out);
            let _ = timeout(HANDSHAKE_TIMEOUT, write_all_flush(&mut wr, &out)).await;
            return;
        }
        Some(ClientReply::Close(why)) => {
            eprintln!("zablab: client {peer}: {why}, closing");
            return;
        }
        _ => {
            let _ = events.send(ClientEvent::Gone { conn });
            return;
        }
    };
    // A client silent for longer than its session timeout is gone (it pings at a third of it);
    // one whose socket accepts nothing for as long is gone too.
    let idle = Duration::from_millis((negotiated.max(1) as u64) * 2);
    let reader_events = events.clone();
    let mut reader = tokio::spawn(read_requests(
        rd,
        peer,
        conn,
        max,
        idle,
        reader_events,
        budget.clone(),
        stats.clone(),
    ));
    let hard_limit_bytes = HARD_LIMIT_BUDGETS * budget.max_queued_bytes;
    let mut out = Vec::with_capacity(4096);
    let mut reader_done = false;
    loop {
        let reply = tokio::select! {
            reply = rx.recv() => reply,
            _ = &mut reader => {
                reader_done = true;
                break;
            }
        };
        let Some(reply) = reply else { break };
        out.clear();
        let mut counted = reply_bytes(&reply);
        let mut close = encode(reply, &mut out, peer, &stats, &shared);
        // Batch whatever else is already queued into the same write.
        while !close && out.len() < 64 * 1024 {
            match rx.try_recv() {
                Ok(more) => {
                    counted += reply_bytes(&more);
                    close = encode(more, &mut out, peer, &stats, &shared);
                }
                Err(_) => break,
            }
        }
        if !out.is_empty() {
            let written = tokio::select! {
                w = timeout(idle, write_all_flush(&mut wr, &out)) => w,
                _ = &mut reader => {
                    reader_done = true;
                    break;
                }
            };
            match written {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => {
                    eprintln!(
                        "zablab: client {peer}: not reading (no write progress for {} ms), closing",
                        idle.as_millis()
                    );
                    break;
                }
            }
        }
        if budget.written(counted) && events.send(ClientEvent::Drained { conn }).is_err() {
            break;
        }
        if close {
            break;
        }
        if rx.len() > MAX_QUEUED_REPLIES || budget.queued_bytes() > hard_limit_bytes {
            eprintln!("zablab: client {peer}: too many replies queued (not reading), closing");
            break;
        }
    }
    // Close for real: the reader half is dropped with its task, the writer half here.
    // (A JoinHandle must not be polled again once it returned.)
    if !reader_done {
        reader.abort();
        let _ = reader.await;
    }
    let _ = timeout(Duration::from_millis(100), wr.shutdown()).await;
    drop(wr);
    let _ = events.send(ClientEvent::Gone { conn });
}

/// Encodes one reply into `out`; true when the connection must close after it.
/// Counts it in the connection's and the server's statistics.
fn encode(
    reply: ClientReply,
    out: &mut Vec<u8>,
    peer: SocketAddr,
    stats: &ConnStats,
    shared: &Shared,
) -> bool {
    match reply {
        ClientReply::Reply { xid, zxid, body } => {
            if let Some(ms) = stats.replied(xid, zxid) {
                shared.server_stats.record(ms);
                // ZooKeeper's updatelatency covers quorum requests (they carry a txn header),
                // readlatency everything else.
                match &body {
                    ReplyBody::Write(_) => shared.metrics.updatelatency.add(ms),
                    _ => shared.metrics.readlatency.add(ms),
                }
            }
            let start = out.len();
            let result: Result<Response, ErrorCode> = match body {
                ReplyBody::Write(Ok(WriteResponse::CloseSession)) => Ok(Response::Empty),
                ReplyBody::Write(Ok(w)) => Ok(Response::Write(w)),
                ReplyBody::Write(Err(e)) | ReplyBody::Read(Err(e)) | ReplyBody::Sync(Err(e)) => {
                    Err(e)
                }
                ReplyBody::Read(Ok(r)) => Ok(Response::Read(r)),
                ReplyBody::Sync(Ok(path)) => Ok(Response::Sync { path }),
                ReplyBody::Status(ErrorCode::Ok) => Ok(Response::Empty),
                ReplyBody::Status(e) => Err(e),
                ReplyBody::AddWatch(ErrorCode::Ok) => Ok(Response::AddWatch),
                ReplyBody::AddWatch(e) => Err(e),
                ReplyBody::WhoAmI(ids) => Ok(Response::WhoAmI(
                    ids.into_iter()
                        .map(|(auth_scheme, user)| ClientInfo { auth_scheme, user })
                        .collect(),
                )),
            };
            // ZooKeeper closes the connection after answering an opcode it does not know.
            let close = matches!(result, Err(ErrorCode::Unimplemented));
            encode_reply(out, xid, zxid, result.as_ref().map_err(|e| *e));
            shared
                .server_stats
                .response_sizes
                .record(out.len().saturating_sub(start + 4)); // without the length prefix
            close
        }
        ClientReply::Event(ev) => {
            stats.packet_sent();
            encode_notification(out, &ev);
            false
        }
        ClientReply::Close(why) => {
            eprintln!("zablab: client {peer}: {why}, closing");
            true
        }
        // Only ever sent before the handshake completes.
        ClientReply::Connected { .. } | ClientReply::Expired => false,
    }
}

/// Reads request frames until the client goes away, misbehaves or falls silent. While the
/// connection is over its budget nothing is read: the client's requests wait in its socket.
#[allow(clippy::too_many_arguments)]
async fn read_requests<R: AsyncRead + Unpin>(
    mut rd: R,
    peer: SocketAddr,
    conn: ConnId,
    max: usize,
    idle: Duration,
    events: mpsc::UnboundedSender<ClientEvent>,
    budget: Arc<ReplyBudget>,
    stats: Arc<ConnStats>,
) {
    let mut len_buf = [0u8; 4];
    let mut body = Vec::new();
    loop {
        budget.wait_until_may_read().await;
        match timeout(idle, rd.read_exact(&mut len_buf)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                eprintln!(
                    "zablab: client {peer}: silent for {} ms, closing",
                    idle.as_millis()
                );
                return;
            }
        }
        let len = i32::from_be_bytes(len_buf);
        if len < 0 || len as usize > max {
            eprintln!("zablab: client {peer}: frame length {len} outside 0..={max} (jute.maxbuffer), closing");
            return;
        }
        body.resize(len as usize, 0);
        if !matches!(timeout(idle, rd.read_exact(&mut body)).await, Ok(Ok(_))) {
            eprintln!("zablab: client {peer}: truncated frame, closing");
            return;
        }
        let (header, request) = match decode_request(&body) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("zablab: client {peer}: malformed request ({e}), closing");
                return;
            }
        };
        let xid = header.xid;
        stats.packet_received();
        stats.request_read(xid, header.opcode);
        let event = match request {
            ClientRequest::Ping => ClientEvent::Ping { conn },
            ClientRequest::Auth { scheme, auth } => ClientEvent::Auth {
                conn,
                xid,
                scheme,
                auth,
            },
            other => {
                budget.request_read(body.len());
                ClientEvent::Request {
                    conn,
                    xid,
                    op: to_op(other),
                    bytes: body.len(),
                }
            }
        };
        if events.send(event).is_err() {
            return;
        }
    }
}

/// Maps a decoded request onto what the peer task executes.
fn to_op(req: ClientRequest) -> ClientOp {
    match req {
        ClientRequest::Write(w) => ClientOp::Write(w),
        ClientRequest::CloseSession => ClientOp::Write(WriteOp::CloseSession),
        ClientRequest::Read(r) => ClientOp::Read(r),
        ClientRequest::Sync { path } => ClientOp::Sync { path },
        ClientRequest::SetWatches(s) | ClientRequest::SetWatches2(s) => ClientOp::SetWatches(s),
        ClientRequest::AddWatch { path, mode } => ClientOp::AddWatch { path, mode },
        ClientRequest::CheckWatches { path, watcher_type } => ClientOp::CheckWatches {
            path,
            kind: watcher_type,
        },
        ClientRequest::RemoveWatches { path, watcher_type } => ClientOp::RemoveWatches {
            path,
            kind: watcher_type,
        },
        ClientRequest::WhoAmI => ClientOp::WhoAmI,
        ClientRequest::Invalid { err, .. } => ClientOp::Invalid(err),
        // Checked (reconfigEnabled, who may) by the session layer and the leader.
        ClientRequest::Reconfig {
            joining_servers,
            leaving_servers,
            new_members,
            cur_config_id,
        } => match crate::config::dynamic::reconfig_request(
            joining_servers.as_deref(),
            leaving_servers.as_deref(),
            new_members.as_deref(),
            cur_config_id,
        ) {
            Ok(r) => ClientOp::Reconfig(Ok(r)),
            Err(_) => ClientOp::Reconfig(Err(ErrorCode::BadArguments)),
        },
        ClientRequest::Sasl { .. } => ClientOp::Unimplemented(102),
        ClientRequest::Unimplemented(op) => ClientOp::Unimplemented(op),
        // Answered before they reach here.
        ClientRequest::Ping | ClientRequest::Auth { .. } => ClientOp::Unimplemented(0),
    }
}
