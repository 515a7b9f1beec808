//! Applying write transactions (docs/protocol.md §5.6, §5.9): validation in ZooKeeper's check
//! order, the change itself, multi's all-or-nothing rollback, and the watch triggers of §5.8.
//!
//! ZooKeeper validates on the leader (PrepRequestProcessor) against a view of outstanding
//! changes and logs an ErrorTxn for a failed write. ZabLab validates at apply time on every
//! replica instead, from replicated state only, so every replica reaches the same answer and
//! the failed write still takes its zxid. Multi runs its sub-ops for real, keeping an undo log,
//! and rolls back on the first failure; events are only fired once the whole txn succeeded.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;

use super::acl::{check_acl, fixup_acl, perms, Acl, Id};
use super::error::ErrorCode;
use super::path::{self, parent_of, precheck_path, validate_path};
use super::request::*;
use super::session::Session;
use super::snapshot::NodeRecord;
use super::stat::{
    self, next_version, CreateMode, EphemeralKind, Stat, StatPersisted, CONTAINER_OWNER, MAX_TTL_MS,
};
use super::watch::{EventType, Table, WatchedEvent};
use super::DataTree;
use crate::machine::TxnContext;

/// How to undo one applied change.
enum Undo {
    Created {
        path: String,
        parent: String,
        parent_stat: StatPersisted,
    },
    Deleted {
        path: String,
        rec: NodeRecord,
        parent: String,
        parent_stat: StatPersisted,
    },
    Modified {
        path: String,
        rec: NodeRecord,
    },
}

/// A watch trigger recorded during apply, fired once the txn succeeded. The ACL is the one to
/// check READ against at delivery (a deleted node's last ACL).
pub(crate) enum Fire {
    Created(String, Vec<Acl>),
    Deleted(String, Vec<Acl>),
    DataChanged(String, Vec<Acl>),
    ChildrenChanged(String, Vec<Acl>),
}

/// The scratch state of one transaction.
struct Step<'a> {
    ctx: &'a TxnContext,
    session_id: i64,
    auth: &'a [Id],
    undo: Vec<Undo>,
    fires: Vec<Fire>,
}

impl DataTree {
    /// Applies one transaction (the body of `StateMachine::apply`).
    pub(crate) fn apply_txn(&mut self, ctx: &TxnContext, txn: &Txn) -> WriteOutcome {
        let mut step = Step {
            ctx,
            session_id: txn.session_id,
            auth: &txn.auth,
            undo: Vec::new(),
            fires: Vec::new(),
        };
        let result = match &txn.op {
            WriteOp::Multi(ops) => self.apply_multi(&mut step, ops),
            WriteOp::CreateSession { timeout_ms } => {
                self.put_session(
                    txn.session_id,
                    Session {
                        timeout_ms: *timeout_ms,
                    },
                );
                self.expiry.add_untracked(txn.session_id);
                Ok(WriteResponse::CreateSession {
                    session_id: txn.session_id,
                    timeout_ms: *timeout_ms,
                })
            }
            WriteOp::CloseSession => {
                self.close_session(&mut step);
                Ok(WriteResponse::CloseSession)
            }
            WriteOp::SetAcl(r) => self
                .set_acl(&mut step, r)
                .map(|stat| WriteResponse::SetAcl { stat }),
            WriteOp::DeleteContainer { path } => self
                .delete(&mut step, path, None, true)
                .map(|_| WriteResponse::DeleteContainer),
            op => self.apply_one(&mut step, op).map(single_response),
        };
        if result.is_ok() {
            let zxid = ctx.zxid.0 as i64;
            for f in core::mem::take(&mut step.fires) {
                self.fire(f, zxid);
            }
        }
        result
    }

    fn apply_multi(&mut self, step: &mut Step<'_>, ops: &[WriteOp]) -> WriteOutcome {
        let allowed = |op: &WriteOp| {
            matches!(
                op,
                WriteOp::Create(_)
                    | WriteOp::Create2(_)
                    | WriteOp::CreateContainer(_)
                    | WriteOp::CreateTtl(_)
                    | WriteOp::Delete(_)
                    | WriteOp::SetData(_)
                    | WriteOp::Check(_)
            )
        };
        if !ops.iter().all(allowed) {
            return Err(ErrorCode::MarshallingError);
        }
        let mut results = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            match self.apply_one(step, op) {
                Ok(r) => results.push(r),
                Err(e) => {
                    self.rollback(step);
                    step.fires.clear();
                    let mut failed = Vec::with_capacity(ops.len());
                    failed.extend((0..i).map(|_| OpResult::Error(ErrorCode::Ok)));
                    failed.push(OpResult::Error(e));
                    failed.extend(
                        (i + 1..ops.len())
                            .map(|_| OpResult::Error(ErrorCode::RuntimeInconsistency)),
                    );
                    return Ok(WriteResponse::Multi(failed));
                }
            }
        }
        Ok(WriteResponse::Multi(results))
    }

    fn rollback(&mut self, step: &mut Step<'_>) {
        while let Some(u) = step.undo.pop() {
            match u {
                Undo::Created {
                    path,
                    parent,
                    parent_stat,
                } => {
                    self.remove_node(&path);
                    self.modify(&parent, |r| r.stat = parent_stat);
                }
                Undo::Deleted {
                    path,
                    rec,
                    parent,
                    parent_stat,
                } => {
                    self.insert_node(path, rec);
                    self.modify(&parent, |r| r.stat = parent_stat);
                }
                Undo::Modified { path, rec } => self.modify(&path, |r| *r = rec),
            }
        }
    }

    fn check_session(&self, step: &Step<'_>) -> Result<(), ErrorCode> {
        if self.sessions.contains_key(&step.session_id) {
            Ok(())
        } else {
            Err(ErrorCode::SessionExpired)
        }
    }

    fn check_data_size(&self, data: &Option<Vec<u8>>) -> Result<(), ErrorCode> {
        match data {
            Some(d) if d.len() > self.config.max_buffer_bytes as usize => {
                Err(ErrorCode::BadArguments)
            }
            _ => Ok(()),
        }
    }

    /// One write allowed inside multi. It fails before changing anything, so a single write
    /// needs no rollback; multi rolls back the sub-ops before it from `step.undo`.
    fn apply_one(&mut self, step: &mut Step<'_>, op: &WriteOp) -> Result<OpResult, ErrorCode> {
        match op {
            WriteOp::Create(r) => self.create(step, r, -1, false),
            WriteOp::Create2(r) | WriteOp::CreateContainer(r) => self.create(step, r, -1, true),
            WriteOp::CreateTtl(r) => {
                let req = CreateRequest {
                    path: r.path.clone(),
                    data: r.data.clone(),
                    acl: r.acl.clone(),
                    flags: r.flags,
                };
                self.create(step, &req, r.ttl, true)
            }
            WriteOp::Delete(r) => self.delete(step, &r.path, Some(r.version), false),
            WriteOp::SetData(r) => self.set_data(step, r),
            WriteOp::Check(r) => self.check(step, r),
            WriteOp::SetAcl(_)
            | WriteOp::DeleteContainer { .. }
            | WriteOp::Multi(_)
            | WriteOp::CreateSession { .. }
            | WriteOp::CloseSession => Err(ErrorCode::MarshallingError),
        }
    }

    fn create(
        &mut self,
        step: &mut Step<'_>,
        r: &CreateRequest,
        ttl: i64,
        create2: bool,
    ) -> Result<OpResult, ErrorCode> {
        self.check_data_size(&r.data)?;
        // 1. mode and TTL
        let mode = CreateMode::from_flag(r.flags)?;
        if mode.is_ttl() {
            if !self.config.extended_types {
                return Err(ErrorCode::Unimplemented);
            }
            if ttl <= 0 || ttl > MAX_TTL_MS {
                return Err(ErrorCode::BadArguments);
            }
        } else if ttl >= 0 {
            return Err(ErrorCode::BadArguments);
        }
        // 2. session
        self.check_session(step)?;
        // 3. a slash and no NUL
        precheck_path(&r.path)?;
        // 4. ACL fixup
        let acl = fixup_acl(&r.acl, step.auth)?;
        // 5. parent exists, 6. CREATE on the parent
        let parent = String::from(parent_of(&r.path).ok_or(ErrorCode::BadArguments)?);
        let Some(pnode) = self.nodes.get(&parent) else {
            return Err(ErrorCode::NoNode);
        };
        let parent_stat = pnode.rec.stat;
        let parent_acl = pnode.rec.acl.clone();
        check_acl(&self.config.auth, &parent_acl, perms::CREATE, step.auth)?;
        // 7. sequential suffix from the parent's persisted cversion
        let mut p = r.path.clone();
        if mode.is_sequential() {
            p.push_str(&path::sequence_suffix(parent_stat.cversion));
        }
        // 8. full validation, 9. not existing, 10. parent not ephemeral
        validate_path(&p)?;
        if self.nodes.contains_key(&p) {
            return Err(ErrorCode::NodeExists);
        }
        if matches!(
            self.kind_of(parent_stat.ephemeral_owner),
            EphemeralKind::Session(_)
        ) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let owner = match mode {
            CreateMode::Ephemeral | CreateMode::EphemeralSequential => step.session_id,
            CreateMode::Container => CONTAINER_OWNER,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl => {
                stat::ttl_owner(ttl)
            }
            _ => 0,
        };
        let zxid = step.ctx.zxid.0 as i64;
        let rec = NodeRecord {
            data: r.data.clone(),
            acl: acl.clone(),
            stat: StatPersisted::created(step.ctx.zxid, step.ctx.time_ms as i64, owner),
        };
        self.insert_node(p.clone(), rec);
        self.modify(&parent, |pr| {
            pr.stat.cversion = pr.stat.cversion.wrapping_add(1);
            pr.stat.pzxid = zxid;
        });
        step.undo.push(Undo::Created {
            path: p.clone(),
            parent: parent.clone(),
            parent_stat,
        });
        step.fires.push(Fire::Created(p.clone(), acl));
        step.fires.push(Fire::ChildrenChanged(parent, parent_acl));
        if create2 {
            let stat = self
                .nodes
                .get(&p)
                .map(|n| self.stat_of(n))
                .unwrap_or_default();
            Ok(OpResult::Create2 { path: p, stat })
        } else {
            Ok(OpResult::Create { path: p })
        }
    }

    /// delete (with `version`) or deleteContainer (`container`, no session, no ACL check).
    fn delete(
        &mut self,
        step: &mut Step<'_>,
        p: &str,
        version: Option<i32>,
        container: bool,
    ) -> Result<OpResult, ErrorCode> {
        if !container {
            self.check_session(step)?;
        }
        precheck_path(p)?;
        if path::is_builtin(p) {
            return Err(ErrorCode::BadArguments);
        }
        let parent = String::from(parent_of(p).ok_or(ErrorCode::BadArguments)?);
        let Some(pnode) = self.nodes.get(&parent) else {
            return Err(ErrorCode::NoNode);
        };
        let parent_stat = pnode.rec.stat;
        let parent_acl = pnode.rec.acl.clone();
        if !container {
            check_acl(&self.config.auth, &parent_acl, perms::DELETE, step.auth)?;
        }
        let Some(node) = self.nodes.get(p) else {
            return Err(ErrorCode::NoNode);
        };
        if let Some(v) = version {
            if v != -1 && v != node.rec.stat.version {
                return Err(ErrorCode::BadVersion);
            }
        }
        if !node.children.is_empty() {
            return Err(ErrorCode::NotEmpty);
        }
        if container
            && matches!(
                self.kind_of(node.rec.stat.ephemeral_owner),
                EphemeralKind::Session(_)
            )
        {
            return Err(ErrorCode::BadVersion);
        }
        let zxid = step.ctx.zxid.0 as i64;
        let Some(rec) = self.remove_node(p) else {
            return Err(ErrorCode::NoNode);
        };
        self.modify(&parent, |pr| {
            if zxid > pr.stat.pzxid {
                pr.stat.pzxid = zxid;
            }
        });
        step.fires
            .push(Fire::Deleted(String::from(p), rec.acl.clone()));
        step.fires
            .push(Fire::ChildrenChanged(parent.clone(), parent_acl));
        step.undo.push(Undo::Deleted {
            path: String::from(p),
            rec,
            parent,
            parent_stat,
        });
        Ok(OpResult::Delete)
    }

    fn set_data(&mut self, step: &mut Step<'_>, r: &SetDataRequest) -> Result<OpResult, ErrorCode> {
        self.check_data_size(&r.data)?;
        self.check_session(step)?;
        validate_path(&r.path)?;
        let Some(node) = self.nodes.get(&r.path) else {
            return Err(ErrorCode::NoNode);
        };
        check_acl(&self.config.auth, &node.rec.acl, perms::WRITE, step.auth)?;
        if r.version != -1 && r.version != node.rec.stat.version {
            return Err(ErrorCode::BadVersion);
        }
        let old = node.rec.clone();
        let acl = old.acl.clone();
        let (zxid, time) = (step.ctx.zxid.0 as i64, step.ctx.time_ms as i64);
        let data = r.data.clone();
        self.modify(&r.path, |rec| {
            rec.data = data;
            rec.stat.version = next_version(rec.stat.version);
            rec.stat.mzxid = zxid;
            rec.stat.mtime = time;
        });
        step.undo.push(Undo::Modified {
            path: r.path.clone(),
            rec: old,
        });
        step.fires.push(Fire::DataChanged(r.path.clone(), acl));
        let stat = self
            .nodes
            .get(&r.path)
            .map(|n| self.stat_of(n))
            .unwrap_or_default();
        Ok(OpResult::SetData { stat })
    }

    fn set_acl(&mut self, step: &mut Step<'_>, r: &SetAclRequest) -> Result<Stat, ErrorCode> {
        self.check_session(step)?;
        validate_path(&r.path)?;
        let acl = fixup_acl(&r.acl, step.auth)?;
        let Some(node) = self.nodes.get(&r.path) else {
            return Err(ErrorCode::NoNode);
        };
        check_acl(&self.config.auth, &node.rec.acl, perms::ADMIN, step.auth)?;
        if r.version != -1 && r.version != node.rec.stat.aversion {
            return Err(ErrorCode::BadVersion);
        }
        let old = node.rec.clone();
        self.modify(&r.path, |rec| {
            rec.acl = acl;
            rec.stat.aversion = next_version(rec.stat.aversion);
        });
        step.undo.push(Undo::Modified {
            path: r.path.clone(),
            rec: old,
        });
        Ok(self
            .nodes
            .get(&r.path)
            .map(|n| self.stat_of(n))
            .unwrap_or_default())
    }

    fn check(
        &mut self,
        step: &mut Step<'_>,
        r: &CheckVersionRequest,
    ) -> Result<OpResult, ErrorCode> {
        self.check_session(step)?;
        validate_path(&r.path)?;
        let Some(node) = self.nodes.get(&r.path) else {
            return Err(ErrorCode::NoNode);
        };
        check_acl(&self.config.auth, &node.rec.acl, perms::READ, step.auth)?;
        if r.version != -1 && r.version != node.rec.stat.version {
            return Err(ErrorCode::BadVersion);
        }
        Ok(OpResult::Check)
    }

    /// closeSession: drops the session and deletes its ephemerals (in path order, deepest
    /// first is unnecessary since ephemerals have no children).
    fn close_session(&mut self, step: &mut Step<'_>) {
        let sid = step.session_id;
        self.drop_session(sid);
        self.expiry.remove(sid);
        let paths: Vec<String> = self
            .ephemerals
            .get(&sid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let zxid = step.ctx.zxid.0 as i64;
        for p in paths {
            let Some(parent) = parent_of(&p).map(String::from) else {
                continue;
            };
            let parent_acl = self
                .nodes
                .get(&parent)
                .map(|n| n.rec.acl.clone())
                .unwrap_or_default();
            if let Some(rec) = self.remove_node(&p) {
                self.modify(&parent, |pr| {
                    if zxid > pr.stat.pzxid {
                        pr.stat.pzxid = zxid;
                    }
                });
                step.fires.push(Fire::Deleted(p, rec.acl));
                step.fires.push(Fire::ChildrenChanged(parent, parent_acl));
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
