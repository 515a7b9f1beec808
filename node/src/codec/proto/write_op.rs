//! The request record of each write opcode (§5.5, §5.6), used by client frames and by the
//! transaction log alike, and multi's list of them. One file because the two are one recursive
//! grammar: a multi holds write records, and a write record may be a multi.

use zablab_core::tree::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, SetAclRequest,
    SetDataRequest, WriteOp,
};

use super::multi::{request_header, MultiHeader};
use super::records::{put_acls, put_data, put_str, read_acls, read_data, read_str};
use super::{op, MAX_MULTI_DEPTH};
use crate::codec::jute::{self, put_i32, put_i64, JuteError, Reader};

fn put_create(out: &mut Vec<u8>, c: &CreateRequest) {
    put_str(out, &c.path);
    put_data(out, &c.data);
    put_acls(out, &c.acl);
    put_i32(out, c.flags);
}

fn read_create(r: &mut Reader<'_>) -> Result<CreateRequest, JuteError> {
    Ok(CreateRequest {
        path: read_str(r)?,
        data: read_data(r)?,
        acl: read_acls(r)?,
        flags: r.i32()?,
    })
}

/// Appends the request record of a write (no header). Multi writes its framed sub-ops;
/// createSession writes `CreateSessionTxn{timeOut}`; closeSession writes nothing;
/// deleteContainer writes `DeleteContainerRequest{path}`.
pub fn put_write_op(out: &mut Vec<u8>, w: &WriteOp) {
    match w {
        WriteOp::Create(c) | WriteOp::Create2(c) | WriteOp::CreateContainer(c) => {
            put_create(out, c)
        }
        WriteOp::CreateTtl(c) => {
            put_str(out, &c.path);
            put_data(out, &c.data);
            put_acls(out, &c.acl);
            put_i32(out, c.flags);
            put_i64(out, c.ttl);
        }
        WriteOp::Delete(d) => {
            put_str(out, &d.path);
            put_i32(out, d.version);
        }
        WriteOp::SetData(s) => {
            put_str(out, &s.path);
            put_data(out, &s.data);
            put_i32(out, s.version);
        }
        WriteOp::SetAcl(s) => {
            put_str(out, &s.path);
            put_acls(out, &s.acl);
            put_i32(out, s.version);
        }
        WriteOp::Check(c) => {
            put_str(out, &c.path);
            put_i32(out, c.version);
        }
        WriteOp::Multi(ops) => put_multi_request(out, ops),
        WriteOp::CreateSession { timeout_ms } => put_i32(out, *timeout_ms),
        WriteOp::CloseSession => {}
        WriteOp::DeleteContainer { path } => put_str(out, path),
    }
}

/// Reads the request record of write `opcode` (any [`WriteOp`], as the transaction log needs;
/// client frames filter the opcodes first). `depth` counts enclosing multi records.
pub fn read_write_op(opcode: i32, r: &mut Reader<'_>, depth: usize) -> Result<WriteOp, JuteError> {
    Ok(match opcode {
        op::CREATE => WriteOp::Create(read_create(r)?),
        op::CREATE2 => WriteOp::Create2(read_create(r)?),
        op::CREATE_CONTAINER => WriteOp::CreateContainer(read_create(r)?),
        op::CREATE_TTL => WriteOp::CreateTtl(CreateTtlRequest {
            path: read_str(r)?,
            data: read_data(r)?,
            acl: read_acls(r)?,
            flags: r.i32()?,
            ttl: r.i64()?,
        }),
        op::DELETE => WriteOp::Delete(DeleteRequest {
            path: read_str(r)?,
            version: r.i32()?,
        }),
        op::SET_DATA => WriteOp::SetData(SetDataRequest {
            path: read_str(r)?,
            data: read_data(r)?,
            version: r.i32()?,
        }),
        op::SET_ACL => WriteOp::SetAcl(SetAclRequest {
            path: read_str(r)?,
            acl: read_acls(r)?,
            version: r.i32()?,
        }),
        op::CHECK => WriteOp::Check(CheckVersionRequest {
            path: read_str(r)?,
            version: r.i32()?,
        }),
        op::MULTI => WriteOp::Multi(read_multi_request(r, depth + 1, true)?),
        op::CREATE_SESSION => WriteOp::CreateSession {
            timeout_ms: r.i32()?,
        },
        op::CLOSE_SESSION => WriteOp::CloseSession,
        op::DELETE_CONTAINER => WriteOp::DeleteContainer { path: read_str(r)? },
        other => return jute::malformed(format!("opcode {other} is not a write")),
    })
}

pub(crate) fn put_multi_request(out: &mut Vec<u8>, ops: &[WriteOp]) {
    for w in ops {
        request_header(w.opcode()).put(out);
        put_write_op(out, w);
    }
    MultiHeader::END.put(out);
}

/// Reads multi sub-ops up to the terminator. From a client (`txn == false`) only create,
/// create2, createTTL, createContainer, delete, setData and check are allowed (a read sub-op
/// is "mixing reads and writes", an IO error in ZooKeeper that closes the connection); a
/// transaction record may hold any write.
pub(crate) fn read_multi_request(
    r: &mut Reader<'_>,
    depth: usize,
    txn: bool,
) -> Result<Vec<WriteOp>, JuteError> {
    if depth > MAX_MULTI_DEPTH {
        return jute::malformed("multi nested too deep");
    }
    let mut ops = Vec::new();
    loop {
        let h = MultiHeader::read(r)?;
        if h.done {
            return Ok(ops);
        }
        let client_op = matches!(
            h.op,
            op::CREATE
                | op::CREATE2
                | op::CREATE_TTL
                | op::CREATE_CONTAINER
                | op::DELETE
                | op::SET_DATA
                | op::CHECK
        );
        if !client_op && !txn {
            return match h.op {
                op::GET_DATA | op::GET_CHILDREN => {
                    jute::malformed("multi mixes read and write operations")
                }
                other => jute::malformed(format!("opcode {other} is not allowed in multi")),
            };
        }
        ops.push(read_write_op(h.op, r, depth)?);
    }
}
