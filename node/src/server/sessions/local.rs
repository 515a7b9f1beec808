//! Requests a server answers alone (reads, watch management, whoAmI) and the wall clock used
//! for the first session id.

use zablab_core::peer::Peer;
use zablab_core::tree::{DataTree, ErrorCode, Id, ReadRequest, ReadResponse};

use super::limits::read_response_bytes;
use super::{ClientOp, ConnId, ReplyBody};
use crate::codec::machine::NodeMachine;

/// Executes a request answered by this server alone, once everything before it is answered.
/// A read whose response would exceed `max_reply_bytes` is answered BadArguments.
pub(super) fn local_op<M: NodeMachine>(
    peer: &mut Peer<M>,
    conn: ConnId,
    session_id: i64,
    auth: &[Id],
    op: ClientOp,
    max_reply_bytes: usize,
) -> ReplyBody {
    let Some(tree) = peer.machine_mut().tree_mut() else {
        return ReplyBody::Status(ErrorCode::Unimplemented);
    };
    match op {
        ClientOp::Read(req) => ReplyBody::Read(bounded_read(
            tree,
            conn,
            session_id,
            auth,
            &req,
            max_reply_bytes,
        )),
        ClientOp::SetWatches(req) => {
            tree.set_watches(conn, auth, &req);
            ReplyBody::Status(ErrorCode::Ok)
        }
        ClientOp::AddWatch { path, mode } => match tree.add_watch(conn, auth, &path, mode) {
            Ok(()) => ReplyBody::AddWatch(ErrorCode::Ok),
            Err(e) => ReplyBody::Status(e),
        },
        ClientOp::CheckWatches { path, kind } => ReplyBody::Status(
            tree.check_watches(conn, &path, kind)
                .err()
                .unwrap_or(ErrorCode::Ok),
        ),
        ClientOp::RemoveWatches { path, kind } => ReplyBody::Status(
            tree.remove_watches(conn, &path, kind)
                .err()
                .unwrap_or(ErrorCode::Ok),
        ),
        // ZooKeeper names the user as its auth provider does: a digest id `user:hash` is `user`.
        ClientOp::WhoAmI => ReplyBody::WhoAmI(
            auth.iter()
                .map(|i| {
                    let user = match i.scheme.as_str() {
                        "digest" => i.id.split(':').next().unwrap_or_default().to_string(),
                        _ => i.id.clone(),
                    };
                    (i.scheme.clone(), user)
                })
                .collect(),
        ),
        ClientOp::Unimplemented(_) => ReplyBody::Status(ErrorCode::Unimplemented),
        ClientOp::Invalid(code) => ReplyBody::Status(code),
        // Writes and syncs never reach here (they are queued as such).
        ClientOp::Write(_) | ClientOp::Sync { .. } => ReplyBody::Status(ErrorCode::SystemError),
    }
}

/// A read whose response is at most `max_reply_bytes`, or BadArguments. A multiRead runs its
/// sub-reads one at a time and stops at the first that would pass the bound, so the server
/// never builds the oversized reply (500 getData of a 1 MB node would be 500 MB).
fn bounded_read(
    tree: &mut DataTree,
    conn: ConnId,
    session_id: i64,
    auth: &[Id],
    req: &ReadRequest,
    max_reply_bytes: usize,
) -> Result<ReadResponse, ErrorCode> {
    let too_large = Err(ErrorCode::BadArguments);
    let ReadRequest::MultiRead(ops) = req else {
        let r = tree.read(conn, session_id, auth, req)?;
        return if read_response_bytes(&r) > max_reply_bytes {
            too_large
        } else {
            Ok(r)
        };
    };
    // What the tree refuses as a whole (watches, other opcodes) it refuses before reading.
    let plain = ops.iter().all(|o| {
        matches!(
            o,
            ReadRequest::GetData { watch: false, .. }
                | ReadRequest::GetChildren { watch: false, .. }
        )
    });
    if !plain {
        return tree.read(conn, session_id, auth, req);
    }
    let mut results = Vec::new();
    let mut bytes = read_response_bytes(&ReadResponse::MultiRead(Vec::new()));
    for o in ops {
        let r = tree.read(conn, session_id, auth, o);
        bytes += 9 + r.as_ref().map_or(4, read_response_bytes);
        if bytes > max_reply_bytes {
            return too_large;
        }
        results.push(r);
    }
    Ok(ReadResponse::MultiRead(results))
}

/// Wall-clock milliseconds, only for the first session id (ZooKeeper mixes in the time so ids
/// of a restarted server do not repeat).
pub(super) fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
