//! Read responses (§5.3): the record each read opcode answers with, and multiRead's list of
//! them. One file because the two are one recursive grammar: a multiRead result holds read
//! responses, and a read response may be a multiRead.

use zablab_core::tree::{ErrorCode, ReadResponse};

use super::multi::{error_result, read_error_body, result_header, MultiHeader};
use super::op;
use super::records::{
    put_acls, put_data, put_stat, put_strings, read_acls, read_data, read_stat, read_strings,
};
use crate::codec::jute::{self, put_i32, JuteError, Reader};

/// The multiRead result type of a read response (its opcode).
pub(crate) fn read_response_opcode(r: &ReadResponse) -> i32 {
    match r {
        ReadResponse::Exists { .. } => op::EXISTS,
        ReadResponse::GetData { .. } => op::GET_DATA,
        ReadResponse::GetAcl { .. } => op::GET_ACL,
        ReadResponse::GetChildren { .. } => op::GET_CHILDREN,
        ReadResponse::GetChildren2 { .. } => op::GET_CHILDREN2,
        ReadResponse::GetAllChildrenNumber { .. } => op::GET_ALL_CHILDREN_NUMBER,
        ReadResponse::GetEphemerals { .. } => op::GET_EPHEMERALS,
        ReadResponse::MultiRead(_) => op::MULTI_READ,
    }
}

pub(crate) fn put_read_response(out: &mut Vec<u8>, r: &ReadResponse) {
    match r {
        ReadResponse::Exists { stat } => put_stat(out, stat),
        ReadResponse::GetData { data, stat } => {
            put_data(out, data);
            put_stat(out, stat);
        }
        ReadResponse::GetAcl { acl, stat } => {
            put_acls(out, acl);
            put_stat(out, stat);
        }
        ReadResponse::GetChildren { children } => put_strings(out, children),
        ReadResponse::GetChildren2 { children, stat } => {
            put_strings(out, children);
            put_stat(out, stat);
        }
        ReadResponse::GetAllChildrenNumber { total_number } => put_i32(out, *total_number),
        ReadResponse::GetEphemerals { ephemerals } => put_strings(out, ephemerals),
        ReadResponse::MultiRead(results) => put_multi_read_response(out, results),
    }
}

pub(crate) fn read_read_response(
    opcode: i32,
    r: &mut Reader<'_>,
) -> Result<ReadResponse, JuteError> {
    Ok(match opcode {
        op::EXISTS => ReadResponse::Exists {
            stat: read_stat(r)?,
        },
        op::GET_DATA | op::RECONFIG => ReadResponse::GetData {
            data: read_data(r)?,
            stat: read_stat(r)?,
        },
        op::GET_ACL => ReadResponse::GetAcl {
            acl: read_acls(r)?,
            stat: read_stat(r)?,
        },
        op::GET_CHILDREN => ReadResponse::GetChildren {
            children: read_strings(r)?,
        },
        op::GET_CHILDREN2 => ReadResponse::GetChildren2 {
            children: read_strings(r)?,
            stat: read_stat(r)?,
        },
        op::GET_ALL_CHILDREN_NUMBER => ReadResponse::GetAllChildrenNumber {
            total_number: r.i32()?,
        },
        op::GET_EPHEMERALS => ReadResponse::GetEphemerals {
            ephemerals: read_strings(r)?,
        },
        op::MULTI_READ => ReadResponse::MultiRead(read_multi_read_response(r)?),
        other => return jute::malformed(format!("opcode {other} has no read response")),
    })
}

pub(crate) fn put_multi_read_response(
    out: &mut Vec<u8>,
    results: &[Result<ReadResponse, ErrorCode>],
) {
    for res in results {
        match res {
            Ok(resp) => {
                result_header(read_response_opcode(resp), 0).put(out);
                put_read_response(out, resp);
            }
            Err(code) => error_result(out, *code),
        }
    }
    MultiHeader::END.put(out);
}

pub(crate) fn read_multi_read_response(
    r: &mut Reader<'_>,
) -> Result<Vec<Result<ReadResponse, ErrorCode>>, JuteError> {
    let mut out = Vec::new();
    loop {
        let h = MultiHeader::read(r)?;
        if h.done {
            return Ok(out);
        }
        out.push(match h.op {
            op::ERROR => Err(read_error_body(r)?),
            op::GET_DATA | op::GET_CHILDREN => Ok(read_read_response(h.op, r)?),
            other => return jute::malformed(format!("multiRead result type {other}")),
        });
    }
}
