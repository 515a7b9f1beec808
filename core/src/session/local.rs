//! Requests a server answers alone (reads, watch management, whoAmI), executed when they
//! reach the head of their connection's queue, and the size bound on what a read builds.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::tree::{ConnId, DataTree, ErrorCode, Id, ReadRequest, ReadResponse, WriteResponse};

use super::{ClientOp, ClientReply, ReplyBody};

/// Executes a request answered by this server alone, once everything before it is answered.
/// A read whose response would exceed `max_reply_bytes` is answered BadArguments.
pub(super) fn local_op(
    tree: Option<&mut DataTree>,
    conn: ConnId,
    session_id: i64,
    auth: &[Id],
    op: ClientOp,
    max_reply_bytes: usize,
) -> ReplyBody {
    let Some(tree) = tree else {
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
        // Writes, syncs and reconfigs never reach here (they are queued as such).
        ClientOp::Write(_) | ClientOp::Sync { .. } | ClientOp::Reconfig(_) => {
            ReplyBody::Status(ErrorCode::SystemError)
        }
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

fn strings_bytes(v: &[String]) -> usize {
    4 + v.iter().map(|s| 4 + s.len()).sum::<usize>()
}

/// The approximate encoded size of a read response record (without the reply header).
pub fn read_response_bytes(r: &ReadResponse) -> usize {
    const STAT: usize = 68;
    match r {
        ReadResponse::Exists { .. } => STAT,
        ReadResponse::GetData { data, .. } => 4 + data.as_ref().map_or(0, Vec::len) + STAT,
        ReadResponse::GetAcl { acl, .. } => {
            4 + acl
                .iter()
                .map(|a| 12 + a.id.scheme.len() + a.id.id.len())
                .sum::<usize>()
                + STAT
        }
        ReadResponse::GetChildren { children } => strings_bytes(children),
        ReadResponse::GetChildren2 { children, .. } => strings_bytes(children) + STAT,
        ReadResponse::GetAllChildrenNumber { .. } => 4,
        ReadResponse::GetEphemerals { ephemerals } => strings_bytes(ephemerals),
        // Each result behind a 9-byte MultiHeader; an error result is a 4-byte code.
        ReadResponse::MultiRead(results) => {
            9 + results
                .iter()
                .map(|r| 9 + r.as_ref().map_or(4, read_response_bytes))
                .sum::<usize>()
        }
    }
}

fn write_response_bytes(w: &WriteResponse) -> usize {
    match w {
        WriteResponse::Multi(results) => 9 + results.len() * 80,
        _ => 128,
    }
}

/// The approximate encoded size of a reply frame (a host that budgets bytes counts this).
pub fn reply_bytes(reply: &ClientReply) -> usize {
    const HEADER: usize = 20;
    match reply {
        ClientReply::Reply { body, .. } => {
            HEADER
                + match body {
                    ReplyBody::Read(Ok(r)) => read_response_bytes(r),
                    ReplyBody::Write(Ok(w)) => write_response_bytes(w),
                    ReplyBody::Sync(Ok(p)) => 4 + p.len(),
                    ReplyBody::WhoAmI(ids) => {
                        4 + ids
                            .iter()
                            .map(|(s, u)| 8 + s.len() + u.len())
                            .sum::<usize>()
                    }
                    _ => 4,
                }
        }
        ClientReply::Event(e) => HEADER + 12 + e.path.len(),
        ClientReply::Connected { .. } | ClientReply::Expired | ClientReply::Close(_) => HEADER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_read_size_grows_with_every_result() {
        let one = ReadResponse::GetData {
            data: Some(alloc::vec![0; 1000]),
            stat: Default::default(),
        };
        let single = read_response_bytes(&one);
        assert!(single >= 1000);
        let multi = ReadResponse::MultiRead(alloc::vec![Ok(one.clone()), Ok(one)]);
        assert!(read_response_bytes(&multi) >= 2 * single);
    }
}
