//! Applying transactions (docs/protocol.md §5.6, §5.9): the change a [`Txn`] describes, its
//! response, and the watch triggers of §5.8.
//!
//! Nothing is checked here: the leader's prep stage ([`super::prep`]) checked the request in
//! ZooKeeper's order against its view of outstanding changes and wrote down the outcome (the
//! final path, the new versions, the paths a closing session deletes, or an ErrorTxn), so every
//! replica applies the same transaction to the same state and answers the same. A debug build
//! asserts the preconditions prep guaranteed; a release build skips a change whose
//! precondition fails rather than panic on a corrupt file or a hostile peer.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;

use super::acl::{check_acl, perms, Acl};
use super::error::ErrorCode;
use super::path::parent_of;
use super::request::*;
use super::session::Session;
use super::snapshot::NodeRecord;
use super::stat::{self, StatPersisted, CONTAINER_OWNER};
use super::txn::*;
use super::watch::{EventType, Table, WatchedEvent};
use super::DataTree;
use crate::machine::TxnContext;

/// A watch trigger recorded during apply, fired once the txn is applied. The ACL is the one to
/// check READ against at delivery (a deleted node's last ACL).
pub(crate) enum Fire {
    Created(String, Vec<Acl>),
    Deleted(String, Vec<Acl>),
    DataChanged(String, Vec<Acl>),
    ChildrenChanged(String, Vec<Acl>),
}

/// A create's fields, whichever of the three create records carried them.
struct NewNode<'a> {
    path: &'a str,
    data: &'a Option<Vec<u8>>,
    acl: &'a [Acl],
    owner: i64,
    parent_cversion: i32,
}

impl DataTree {
    /// Applies one transaction (the body of `StateMachine::apply`) and retires the leader's
    /// change records it covers.
    pub(crate) fn apply_txn(&mut self, ctx: &TxnContext, txn: &Txn) -> WriteOutcome {
        let retired = self.outstanding.retire(ctx.zxid);
        let mut fires = Vec::new();
        let result = match &txn.body {
            TxnBody::Error(e) => Err(e.err),
            TxnBody::Multi(m) => {
                let mut results = Vec::with_capacity(m.txns.len());
                for sub in &m.txns {
                    results.push(self.apply_op(
                        ctx,
                        txn.client_id,
                        sub.txn_type,
                        &sub.body,
                        &mut fires,
                    ));
                }
                Ok(WriteResponse::Multi(results))
            }
            TxnBody::CreateSession(c) => {
                self.put_session(
                    txn.client_id,
                    Session {
                        timeout_ms: c.time_out,
                    },
                );
                self.expiry.add_untracked(txn.client_id);
                Ok(WriteResponse::CreateSession {
                    session_id: txn.client_id,
                    timeout_ms: c.time_out,
                })
            }
            TxnBody::CloseSession(c) => {
                self.close_session(ctx, txn.client_id, &c.paths2_delete, &mut fires);
                Ok(WriteResponse::CloseSession)
            }
            TxnBody::SetAcl(s) => Ok(WriteResponse::SetAcl {
                stat: self.apply_set_acl(s),
            }),
            TxnBody::Delete(d) if txn.txn_type == op_code::DELETE_CONTAINER => {
                self.apply_delete(ctx, &d.path, &mut fires);
                Ok(WriteResponse::DeleteContainer)
            }
            body => match self.apply_op(ctx, txn.client_id, txn.txn_type, body, &mut fires) {
                OpResult::Error(e) => Err(e),
                r => Ok(single_response(r)),
            },
        };
        let zxid = ctx.zxid.0 as i64;
        for f in fires {
            self.fire(f, zxid);
        }
        #[cfg(debug_assertions)]
        for (path, record) in retired {
            debug_assert_eq!(
                record.node,
                self.nodes.get(&path).map(|n| super::prep::NodeView {
                    stat: n.rec.stat,
                    child_count: n.children.len(),
                    acl: n.rec.acl.clone(),
                }),
                "the leader's change record of {path} at {} differs from the applied tree",
                ctx.zxid
            );
        }
        #[cfg(not(debug_assertions))]
        drop(retired);
        result
    }

    /// One change a single write or a multi sub-transaction makes; `txn_type` decides the
    /// result's shape.
    fn apply_op(
        &mut self,
        ctx: &TxnContext,
        client_id: i64,
        txn_type: i32,
        body: &TxnBody,
        fires: &mut Vec<Fire>,
    ) -> OpResult {
        let created = |tree: &mut DataTree, fires: &mut Vec<Fire>, n: NewNode<'_>| {
            tree.apply_create(ctx, &n, fires);
            if txn_type == op_code::CREATE {
                OpResult::Create {
                    path: String::from(n.path),
                }
            } else {
                let stat = tree
                    .nodes
                    .get(n.path)
                    .map(|node| tree.stat_of(node))
                    .unwrap_or_default();
                OpResult::Create2 {
                    path: String::from(n.path),
                    stat,
                }
            }
        };
        match body {
            TxnBody::Create(c) => {
                let owner = if c.ephemeral { client_id } else { 0 };
                let n = NewNode {
                    path: &c.path,
                    data: &c.data,
                    acl: &c.acl,
                    owner,
                    parent_cversion: c.parent_cversion,
                };
                created(self, fires, n)
            }
            TxnBody::CreateContainer(c) => {
                let n = NewNode {
                    path: &c.path,
                    data: &c.data,
                    acl: &c.acl,
                    owner: CONTAINER_OWNER,
                    parent_cversion: c.parent_cversion,
                };
                created(self, fires, n)
            }
            TxnBody::CreateTtl(c) => {
                let n = NewNode {
                    path: &c.path,
                    data: &c.data,
                    acl: &c.acl,
                    owner: stat::ttl_owner(c.ttl),
                    parent_cversion: c.parent_cversion,
                };
                created(self, fires, n)
            }
            TxnBody::Delete(d) => {
                self.apply_delete(ctx, &d.path, fires);
                OpResult::Delete
            }
            TxnBody::SetData(s) => OpResult::SetData {
                stat: self.apply_set_data(ctx, s, fires),
            },
            TxnBody::CheckVersion(_) => OpResult::Check,
            TxnBody::Error(e) => OpResult::Error(e.err),
            // Not a sub-transaction prep writes: a transaction from a corrupt file or a hostile peer.
            TxnBody::SetAcl(_)
            | TxnBody::CreateSession(_)
            | TxnBody::CloseSession(_)
            | TxnBody::Multi(_) => OpResult::Error(ErrorCode::MarshallingError),
        }
    }

    fn apply_create(&mut self, ctx: &TxnContext, n: &NewNode<'_>, fires: &mut Vec<Fire>) {
        let Some(parent) = parent_of(n.path).map(String::from) else {
            debug_assert!(false, "create of {} without a parent", n.path);
            return;
        };
        let Some(parent_acl) = self.nodes.get(&parent).map(|p| p.rec.acl.clone()) else {
            debug_assert!(false, "create of {} under a missing parent", n.path);
            return;
        };
        if self.nodes.contains_key(n.path) {
            debug_assert!(false, "create of {}, which exists", n.path);
            return;
        }
        let zxid = ctx.zxid.0 as i64;
        let rec = NodeRecord {
            data: n.data.clone(),
            acl: n.acl.to_vec(),
            stat: StatPersisted::created(ctx.zxid, ctx.time_ms as i64, n.owner),
        };
        self.insert_node(String::from(n.path), rec);
        let cversion = n.parent_cversion;
        self.modify(&parent, |pr| {
            debug_assert_eq!(cversion, pr.stat.cversion.wrapping_add(1));
            pr.stat.cversion = cversion;
            pr.stat.pzxid = zxid;
        });
        fires.push(Fire::Created(String::from(n.path), n.acl.to_vec()));
        fires.push(Fire::ChildrenChanged(parent, parent_acl));
    }

    /// delete, deleteContainer, and each path of a closing session.
    fn apply_delete(&mut self, ctx: &TxnContext, p: &str, fires: &mut Vec<Fire>) {
        let Some(parent) = parent_of(p).map(String::from) else {
            debug_assert!(false, "delete of {p}, which has no parent");
            return;
        };
        let parent_acl = self
            .nodes
            .get(&parent)
            .map(|n| n.rec.acl.clone())
            .unwrap_or_default();
        if self.nodes.get(p).is_some_and(|n| !n.children.is_empty()) {
            debug_assert!(false, "delete of {p}, which has children");
            return;
        }
        let Some(rec) = self.remove_node(p) else {
            debug_assert!(false, "delete of {p}, which does not exist");
            return;
        };
        let zxid = ctx.zxid.0 as i64;
        self.modify(&parent, |pr| {
            if zxid > pr.stat.pzxid {
                pr.stat.pzxid = zxid;
            }
        });
        fires.push(Fire::Deleted(String::from(p), rec.acl));
        fires.push(Fire::ChildrenChanged(parent, parent_acl));
    }

    fn apply_set_data(
        &mut self,
        ctx: &TxnContext,
        s: &SetDataTxn,
        fires: &mut Vec<Fire>,
    ) -> super::stat::Stat {
        let Some(acl) = self.nodes.get(&s.path).map(|n| n.rec.acl.clone()) else {
            debug_assert!(false, "setData of {}, which does not exist", s.path);
            return Default::default();
        };
        let (zxid, time) = (ctx.zxid.0 as i64, ctx.time_ms as i64);
        let data = s.data.clone();
        let version = s.version;
        self.modify(&s.path, |rec| {
            rec.data = data;
            rec.stat.version = version;
            rec.stat.mzxid = zxid;
            rec.stat.mtime = time;
        });
        fires.push(Fire::DataChanged(s.path.clone(), acl));
        self.stat_at(&s.path)
    }

    fn apply_set_acl(&mut self, s: &SetAclTxn) -> super::stat::Stat {
        debug_assert!(
            self.nodes.contains_key(&s.path),
            "setACL of missing {}",
            s.path
        );
        let acl = s.acl.clone();
        let version = s.version;
        self.modify(&s.path, |rec| {
            rec.acl = acl;
            rec.stat.aversion = version;
        });
        self.stat_at(&s.path)
    }

    fn stat_at(&self, p: &str) -> super::stat::Stat {
        self.nodes
            .get(p)
            .map(|n| self.stat_of(n))
            .unwrap_or_default()
    }

    /// closeSession: drops the session and deletes the ephemerals prep listed (in path order;
    /// ephemerals have no children, so no order is needed for correctness).
    fn close_session(
        &mut self,
        ctx: &TxnContext,
        sid: i64,
        paths2_delete: &[String],
        fires: &mut Vec<Fire>,
    ) {
        debug_assert!(
            paths2_delete.iter().map(String::as_str).eq(self
                .ephemerals
                .get(&sid)
                .into_iter()
                .flatten()
                .map(String::as_str)),
            "closeSession of {sid:#x}: paths2Delete differs from its ephemerals"
        );
        self.drop_session(sid);
        self.expiry.remove(sid);
        for p in paths2_delete {
            if self.nodes.contains_key(p) {
                self.apply_delete(ctx, p, fires);
            }
        }
    }

    /// Delivers one trigger to the watch tables (§5.8), dropping events the connection may
    /// not READ.
    pub(crate) fn fire(&mut self, f: Fire, zxid: i64) {
        let none = BTreeSet::new();
        let (event_type, p, acl, hits) = match f {
            Fire::Created(p, acl) => {
                let hits = self.watches.trigger(Table::Data, &p, &none);
                (EventType::NodeCreated, p, acl, hits)
            }
            Fire::DataChanged(p, acl) => {
                let hits = self.watches.trigger(Table::Data, &p, &none);
                (EventType::NodeDataChanged, p, acl, hits)
            }
            Fire::Deleted(p, acl) => {
                let mut hits = self.watches.trigger(Table::Data, &p, &none);
                let more = self.watches.trigger(Table::Child, &p, &hits);
                hits.extend(more);
                (EventType::NodeDeleted, p, acl, hits)
            }
            Fire::ChildrenChanged(p, acl) => {
                let hits = self.watches.trigger(Table::Child, &p, &none);
                (EventType::NodeChildrenChanged, p, acl, hits)
            }
        };
        for conn in hits {
            let auth = self
                .conn_auth
                .get(&conn)
                .map(|v| v.as_slice())
                .unwrap_or(&[]);
            if check_acl(&self.config.auth, &acl, perms::READ, auth).is_ok() {
                self.events.push((
                    conn,
                    WatchedEvent {
                        event_type,
                        path: p.clone(),
                        zxid,
                    },
                ));
            }
        }
    }
}

/// The response of a single (non-multi) write from its sub-result.
fn single_response(r: OpResult) -> WriteResponse {
    match r {
        OpResult::Create { path } => WriteResponse::Create { path },
        OpResult::Create2 { path, stat } => WriteResponse::Create2 { path, stat },
        OpResult::Delete => WriteResponse::Delete,
        OpResult::SetData { stat } => WriteResponse::SetData { stat },
        OpResult::Check => WriteResponse::Check,
        OpResult::Error(_) => WriteResponse::Check,
    }
}
