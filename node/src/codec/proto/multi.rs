//! multi (14) and multiRead (22) framing (§5.6): sub-records each behind a
//! `MultiHeader{type, done, err}`, closed by `{-1, true, -1}`, in requests and responses.

use zablab_core::tree::{ErrorCode, OpResult, ReadRequest};

use super::op;
use super::records::{put_stat, put_str, read_stat, read_str};
use crate::codec::jute::{self, put_bool, put_i32, JuteError, Reader};

/// `MultiHeader{i32 type; bool done; i32 err}`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MultiHeader {
    pub op: i32,
    pub done: bool,
    pub err: i32,
}

impl MultiHeader {
    /// The terminator `{-1, true, -1}`.
    pub const END: MultiHeader = MultiHeader {
        op: -1,
        done: true,
        err: -1,
    };

    pub fn put(&self, out: &mut Vec<u8>) {
        put_i32(out, self.op);
        put_bool(out, self.done);
        put_i32(out, self.err);
    }

    pub fn read(r: &mut Reader<'_>) -> Result<MultiHeader, JuteError> {
        Ok(MultiHeader {
            op: r.i32()?,
            done: r.bool()?,
            err: r.i32()?,
        })
    }
}

pub(super) fn request_header(op: i32) -> MultiHeader {
    MultiHeader {
        op,
        done: false,
        err: -1,
    }
}

pub(super) fn result_header(op: i32, err: i32) -> MultiHeader {
    MultiHeader {
        op,
        done: false,
        err,
    }
}

pub(crate) fn put_multi_read_request(out: &mut Vec<u8>, ops: &[ReadRequest]) {
    for o in ops {
        match o {
            ReadRequest::GetData { path, watch } | ReadRequest::GetChildren { path, watch } => {
                let code = if matches!(o, ReadRequest::GetData { .. }) {
                    op::GET_DATA
                } else {
                    op::GET_CHILDREN
                };
                request_header(code).put(out);
                put_str(out, path);
                put_bool(out, *watch);
            }
            // Not expressible in multiRead: the encoder skips it (the builder's mistake, not
            // the peer's).
            _ => {}
        }
    }
    MultiHeader::END.put(out);
}

/// multiRead sub-ops: getData and getChildren only.
pub(crate) fn read_multi_read_request(r: &mut Reader<'_>) -> Result<Vec<ReadRequest>, JuteError> {
    let mut ops = Vec::new();
    loop {
        let h = MultiHeader::read(r)?;
        if h.done {
            return Ok(ops);
        }
        let path = match h.op {
            op::GET_DATA | op::GET_CHILDREN => read_str(r)?,
            op::CREATE
            | op::CREATE2
            | op::CREATE_TTL
            | op::CREATE_CONTAINER
            | op::DELETE
            | op::SET_DATA
            | op::CHECK => return jute::malformed("multiRead mixes read and write operations"),
            other => return jute::malformed(format!("opcode {other} is not allowed in multiRead")),
        };
        let watch = r.bool()?;
        ops.push(if h.op == op::GET_DATA {
            ReadRequest::GetData { path, watch }
        } else {
            ReadRequest::GetChildren { path, watch }
        });
    }
}

pub(super) fn error_result(out: &mut Vec<u8>, code: ErrorCode) {
    let c = code.code();
    result_header(op::ERROR, c).put(out);
    put_i32(out, c);
}

pub(crate) fn put_multi_response(out: &mut Vec<u8>, results: &[OpResult]) {
    for res in results {
        match res {
            OpResult::Create { path } => {
                result_header(op::CREATE, 0).put(out);
                put_str(out, path);
            }
            OpResult::Create2 { path, stat } => {
                result_header(op::CREATE2, 0).put(out);
                put_str(out, path);
                put_stat(out, stat);
            }
            OpResult::Delete => result_header(op::DELETE, 0).put(out),
            OpResult::SetData { stat } => {
                result_header(op::SET_DATA, 0).put(out);
                put_stat(out, stat);
            }
            OpResult::Check => result_header(op::CHECK, 0).put(out),
            OpResult::Error(code) => error_result(out, *code),
        }
    }
    MultiHeader::END.put(out);
}

pub(super) fn read_error_body(r: &mut Reader<'_>) -> Result<ErrorCode, JuteError> {
    let n = r.i32()?;
    match ErrorCode::from_code(n) {
        Some(c) => Ok(c),
        None => jute::malformed(format!("unknown error code {n}")),
    }
}

pub(crate) fn read_multi_response(r: &mut Reader<'_>) -> Result<Vec<OpResult>, JuteError> {
    let mut out = Vec::new();
    loop {
        let h = MultiHeader::read(r)?;
        if h.done {
            return Ok(out);
        }
        out.push(match h.op {
            op::CREATE => OpResult::Create { path: read_str(r)? },
            op::CREATE2 | op::CREATE_TTL | op::CREATE_CONTAINER => OpResult::Create2 {
                path: read_str(r)?,
                stat: read_stat(r)?,
            },
            op::DELETE => OpResult::Delete,
            op::SET_DATA => OpResult::SetData {
                stat: read_stat(r)?,
            },
            op::CHECK => OpResult::Check,
            op::ERROR => OpResult::Error(read_error_body(r)?),
            other => return jute::malformed(format!("multi result type {other}")),
        });
    }
}
