//! Requests a server answers alone (reads, watch management, whoAmI) and the wall clock used
//! for the first session id.

use zablab_core::peer::Peer;
use zablab_core::tree::{ErrorCode, Id};

use super::{ClientOp, ConnId, ReplyBody};
use crate::machine::NodeMachine;

/// Executes a request answered by this server alone, once everything before it is answered.
pub(super) fn local_op<M: NodeMachine>(
    peer: &mut Peer<M>,
    conn: ConnId,
    session_id: i64,
    auth: &[Id],
    op: ClientOp,
) -> ReplyBody {
    let Some(tree) = peer.machine_mut().tree_mut() else {
        return ReplyBody::Status(ErrorCode::Unimplemented);
    };
    match op {
        ClientOp::Read(req) => ReplyBody::Read(tree.read(conn, session_id, auth, &req)),
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

/// Wall-clock milliseconds, only for the first session id (ZooKeeper mixes in the time so ids
/// of a restarted server do not repeat).
pub(super) fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
