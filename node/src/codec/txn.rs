//! ZooKeeper's transaction records in jute (`zookeeper.jute`, module `org.apache.zookeeper.txn`),
//! as PrepRequestProcessor writes them after the `TxnHeader` and `DataTree.processTxn` reads
//! them: the header's `type` picks the record.
//!
//! ```text
//! type 1, 15  CreateTxn{ustring path; buffer data; vector<ACL> acl; boolean ephemeral; int parentCVersion}
//! type 19     CreateContainerTxn{path; data; acl; int parentCVersion}
//! type 21     CreateTTLTxn{path; data; acl; int parentCVersion; long ttl}
//! type 2, 20  DeleteTxn{ustring path}
//! type 5      SetDataTxn{path; buffer data; int version}
//! type 16     SetDataTxn of /zookeeper/config (reconfig; not inside a MultiTxn)
//! type 7      SetACLTxn{path; vector<ACL> acl; int version}
//! type 13     CheckVersionTxn{path; int version}
//! type -10    CreateSessionTxn{int timeOut}
//! type -11    CloseSessionTxn{vector<ustring> paths2Delete}
//! type -1     ErrorTxn{int err}
//! type 14     MultiTxn{vector<Txn{int type; buffer data}> txns}, each data one of the above
//! ```

use zablab_core::tree::{
    op_code, CheckVersionTxn, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn,
    CreateTxn, DeleteTxn, ErrorCode, ErrorTxn, MultiTxn, SetAclTxn, SetDataTxn, SubTxn, TxnBody,
};

use crate::codec::jute::{self, malformed, put_i32, put_i64, JuteError, Reader};
use crate::codec::proto::{
    put_acls, put_data, put_str, put_strings, read_acls, read_data, read_str, read_strings,
};

/// Appends the record of `body`. The record is the body's own; the caller writes the header
/// whose type names it (prep always pairs them, see `zablab_core::tree::prep`).
pub fn put_txn_body(out: &mut Vec<u8>, body: &TxnBody) {
    match body {
        TxnBody::Create(c) => {
            put_str(out, &c.path);
            put_data(out, &c.data);
            put_acls(out, &c.acl);
            jute::put_bool(out, c.ephemeral);
            put_i32(out, c.parent_cversion);
        }
        TxnBody::CreateContainer(c) => {
            put_str(out, &c.path);
            put_data(out, &c.data);
            put_acls(out, &c.acl);
            put_i32(out, c.parent_cversion);
        }
        TxnBody::CreateTtl(c) => {
            put_str(out, &c.path);
            put_data(out, &c.data);
            put_acls(out, &c.acl);
            put_i32(out, c.parent_cversion);
            put_i64(out, c.ttl);
        }
        TxnBody::Delete(d) => put_str(out, &d.path),
        TxnBody::SetData(s) => {
            put_str(out, &s.path);
            put_data(out, &s.data);
            put_i32(out, s.version);
        }
        TxnBody::SetAcl(s) => {
            put_str(out, &s.path);
            put_acls(out, &s.acl);
            put_i32(out, s.version);
        }
        TxnBody::CheckVersion(c) => {
            put_str(out, &c.path);
            put_i32(out, c.version);
        }
        TxnBody::CreateSession(c) => put_i32(out, c.time_out),
        TxnBody::CloseSession(c) => put_strings(out, &c.paths2_delete),
        TxnBody::Error(e) => put_i32(out, e.err.code()),
        TxnBody::Multi(m) => {
            put_i32(out, m.txns.len() as i32);
            let mut sub = Vec::new();
            for t in &m.txns {
                sub.clear();
                put_txn_body(&mut sub, &t.body);
                put_i32(out, t.txn_type);
                jute::put_buffer(out, Some(&sub));
            }
        }
    }
}

/// Reads the record a header of type `txn_type` announces. `in_multi`: a MultiTxn's entry,
/// which is one of the ops a multi may hold or an ErrorTxn (ZooKeeper nests nothing deeper).
pub fn read_txn_body(
    txn_type: i32,
    r: &mut Reader<'_>,
    in_multi: bool,
) -> Result<TxnBody, JuteError> {
    let body = match txn_type {
        op_code::CREATE | op_code::CREATE2 => TxnBody::Create(CreateTxn {
            path: read_str(r)?,
            data: read_data(r)?,
            acl: read_acls(r)?,
            ephemeral: r.bool()?,
            parent_cversion: r.i32()?,
        }),
        op_code::CREATE_CONTAINER => TxnBody::CreateContainer(CreateContainerTxn {
            path: read_str(r)?,
            data: read_data(r)?,
            acl: read_acls(r)?,
            parent_cversion: r.i32()?,
        }),
        op_code::CREATE_TTL => TxnBody::CreateTtl(CreateTtlTxn {
            path: read_str(r)?,
            data: read_data(r)?,
            acl: read_acls(r)?,
            parent_cversion: r.i32()?,
            ttl: r.i64()?,
        }),
        op_code::DELETE => TxnBody::Delete(DeleteTxn { path: read_str(r)? }),
        op_code::SET_DATA => TxnBody::SetData(SetDataTxn {
            path: read_str(r)?,
            data: read_data(r)?,
            version: r.i32()?,
        }),
        op_code::CHECK => TxnBody::CheckVersion(CheckVersionTxn {
            path: read_str(r)?,
            version: r.i32()?,
        }),
        op_code::ERROR => {
            let code = r.i32()?;
            let Some(err) = ErrorCode::from_code(code) else {
                return malformed(format!("ErrorTxn with unknown code {code}"));
            };
            TxnBody::Error(ErrorTxn { err })
        }
        t if in_multi => return malformed(format!("txn type {t} inside a MultiTxn")),
        op_code::DELETE_CONTAINER => TxnBody::Delete(DeleteTxn { path: read_str(r)? }),
        // A reconfig is a SetDataTxn of /zookeeper/config (SerializeUtils reads it so too).
        op_code::RECONFIG => TxnBody::SetData(SetDataTxn {
            path: read_str(r)?,
            data: read_data(r)?,
            version: r.i32()?,
        }),
        op_code::SET_ACL => TxnBody::SetAcl(SetAclTxn {
            path: read_str(r)?,
            acl: read_acls(r)?,
            version: r.i32()?,
        }),
        op_code::CREATE_SESSION => TxnBody::CreateSession(CreateSessionTxn { time_out: r.i32()? }),
        op_code::CLOSE_SESSION => TxnBody::CloseSession(CloseSessionTxn {
            paths2_delete: read_strings(r)?,
        }),
        op_code::MULTI => {
            // Each entry takes at least its type and buffer length.
            let n = r.vec_count(8)?.unwrap_or(0);
            let mut txns = Vec::with_capacity(n);
            for _ in 0..n {
                let sub_type = r.i32()?;
                let Some(bytes) = r.buffer()? else {
                    return malformed("MultiTxn entry with null data");
                };
                let mut sub = Reader::new(bytes);
                let body = read_txn_body(sub_type, &mut sub, true)?;
                if !sub.is_empty() {
                    return malformed(format!("{} bytes after a MultiTxn entry", sub.remaining()));
                }
                txns.push(SubTxn {
                    txn_type: sub_type,
                    body,
                });
            }
            TxnBody::Multi(MultiTxn { txns })
        }
        t => return malformed(format!("unknown txn type {t}")),
    };
    Ok(body)
}
