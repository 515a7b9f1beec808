//! The leader's prep stage (ZooKeeper's `PrepRequestProcessor`, docs/protocol.md §5.6, §5.9):
//! every write [`Request`] becomes a [`Txn`] before it is proposed, checked in ZooKeeper's
//! order against the leader's view of the tree *including every change it prepped that is not
//! applied yet* (ZooKeeper's `outstandingChanges`, one [`ChangeRecord`] per path touched).
//!
//! Why a view of outstanding changes: the leader proposes many requests before the first one
//! commits. Two sequential creates under one parent must get different suffixes, a setData
//! with a version must see the version an earlier, still uncommitted setData made, a delete
//! must see a child whose create is in flight. Checked against the applied tree alone they
//! would be prepped wrong; checked against applied tree + outstanding changes they are prepped
//! exactly as if each had applied before the next was prepped (`prop_tests.rs` checks that).
//!
//! A record is retired when its zxid is applied on the leader (the tree then holds the same
//! state, which a debug build asserts), and the whole view is dropped when this server starts
//! or stops leading: a new leader has applied its whole log before it preps anything (the
//! transactions a previous epoch left logged but uncommitted are committed by NEWLEADER), so it
//! starts from an empty view; a server that stops leading preps nothing more.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;

use super::acl::{check_acl, fixup_acl, perms, Acl, Id};
use super::error::ErrorCode;
use super::path::{self, parent_of, precheck_path, validate_path};
use super::request::*;
use super::stat::{self, next_version, CreateMode, EphemeralKind, StatPersisted, MAX_TTL_MS};
use super::txn::*;
use super::DataTree;
use crate::machine::TxnContext;
use crate::zxid::Zxid;

/// A znode as the leader's view has it (ZooKeeper's ChangeRecord minus the path).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NodeView {
    pub stat: StatPersisted,
    pub child_count: usize,
    pub acl: Vec<Acl>,
}

/// ZooKeeper's `ChangeRecord`: a path's state after the prepped transaction `zxid`; `None`
/// once that transaction deletes it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ChangeRecord {
    pub zxid: Zxid,
    pub node: Option<NodeView>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
enum Key {
    Path(String),
    Session(i64),
}

/// The leader's outstanding changes: the newest record per path and per session, and every
/// record's (zxid, key) in prep order so applying a zxid retires exactly what it covers.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct OutstandingChanges {
    by_path: BTreeMap<String, ChangeRecord>,
    /// A session's state after the prepped createSession (true) or closeSession (false).
    sessions: BTreeMap<i64, (Zxid, bool)>,
    order: VecDeque<(Zxid, Key)>,
    /// What the request being prepped replaced in `by_path`, for multi's rollback.
    undo: Vec<(String, Option<ChangeRecord>)>,
}

impl OutstandingChanges {
    /// How many change records are outstanding (paths and sessions).
    pub fn len(&self) -> usize {
        self.by_path.len() + self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The newest record of a path, if a prepped transaction touched it.
    pub fn record(&self, path: &str) -> Option<&ChangeRecord> {
        self.by_path.get(path)
    }

    pub(crate) fn clear(&mut self) {
        *self = OutstandingChanges::default();
    }

    fn put_path(&mut self, zxid: Zxid, path: String, node: Option<NodeView>) {
        let old = self
            .by_path
            .insert(path.clone(), ChangeRecord { zxid, node });
        self.undo.push((path.clone(), old));
        self.order.push_back((zxid, Key::Path(path)));
    }

    fn put_session(&mut self, zxid: Zxid, id: i64, open: bool) {
        self.sessions.insert(id, (zxid, open));
        self.order.push_back((zxid, Key::Session(id)));
    }

    /// Undoes every record the current request added (a failed multi: ZooKeeper's
    /// `rollbackPendingChanges`).
    fn rollback(&mut self, zxid: Zxid) {
        while let Some((path, old)) = self.undo.pop() {
            match old {
                Some(r) => self.by_path.insert(path, r),
                None => self.by_path.remove(&path),
            };
        }
        while matches!(self.order.back(), Some((z, _)) if *z == zxid) {
            self.order.pop_back();
        }
    }

    /// Drops the records of every zxid up to `zxid` (it was applied) and returns the paths
    /// whose newest record was exactly `zxid`, with it, for the debug check against the tree.
    pub(crate) fn retire(&mut self, zxid: Zxid) -> Vec<(String, ChangeRecord)> {
        let mut exact = Vec::new();
        while matches!(self.order.front(), Some((z, _)) if *z <= zxid) {
            let Some((_, key)) = self.order.pop_front() else {
                break;
            };
            match key {
                Key::Path(p) => {
                    if matches!(self.by_path.get(&p), Some(r) if r.zxid <= zxid) {
                        if let Some(r) = self.by_path.remove(&p) {
                            if r.zxid == zxid {
                                exact.push((p, r));
                            }
                        }
                    }
                }
                Key::Session(s) => {
                    if matches!(self.sessions.get(&s), Some((z, _)) if *z <= zxid) {
                        self.sessions.remove(&s);
                    }
                }
            }
        }
        exact
    }
}

/// What one request's prep reads besides the tree.
struct Prep<'a> {
    zxid: Zxid,
    time_ms: i64,
    session_id: i64,
    auth: &'a [Id],
}

type Prepped = Result<(i32, TxnBody), ErrorCode>;

impl DataTree {
    /// The leader's view of `path`: its outstanding record, else the applied tree.
    pub fn view_of(&self, path: &str) -> Option<NodeView> {
        if let Some(r) = self.outstanding.by_path.get(path) {
            return r.node.clone();
        }
        self.nodes.get(path).map(|n| NodeView {
            stat: n.rec.stat,
            child_count: n.children.len(),
            acl: n.rec.acl.clone(),
        })
    }

    /// The leader's outstanding changes (empty on a learner).
    pub fn outstanding_changes(&self) -> &OutstandingChanges {
        &self.outstanding
    }

    /// Preps `request` and applies the transaction at once, as a leader with nothing
    /// outstanding would: for tests, tools and histories written outside a running ensemble.
    pub fn prep_and_apply(&mut self, ctx: &TxnContext, request: &Request) -> WriteOutcome {
        let txn = self.prep_request(ctx, request);
        self.apply_txn(ctx, &txn)
    }

    fn session_open(&self, id: i64) -> bool {
        match self.outstanding.sessions.get(&id) {
            Some((_, open)) => *open,
            None => self.sessions.contains_key(&id),
        }
    }

    /// `PrepRequestProcessor.pRequest`: the transaction `request` becomes at `ctx.zxid`.
    pub(crate) fn prep_request(&mut self, ctx: &TxnContext, request: &Request) -> Txn {
        self.outstanding.undo.clear();
        let p = Prep {
            zxid: ctx.zxid,
            time_ms: ctx.time_ms as i64,
            session_id: request.session_id,
            auth: &request.auth,
        };
        let header = |txn_type, body| Txn {
            client_id: request.session_id,
            cxid: request.cxid,
            txn_type,
            body,
        };
        let prepped = match &request.op {
            WriteOp::Multi(ops) => match self.prep_multi(&p, ops) {
                Ok(m) => Ok((op_code::MULTI, TxnBody::Multi(m))),
                Err(e) => Err(e),
            },
            WriteOp::CreateSession { timeout_ms } => {
                self.outstanding.put_session(p.zxid, p.session_id, true);
                Ok((
                    op_code::CREATE_SESSION,
                    TxnBody::CreateSession(CreateSessionTxn {
                        time_out: *timeout_ms,
                    }),
                ))
            }
            WriteOp::CloseSession => Ok(self.prep_close_session(&p)),
            WriteOp::SetAcl(r) => self.prep_set_acl(&p, r),
            WriteOp::DeleteContainer { path } => self
                .prep_delete(&p, path, None, true)
                .map(|b| (op_code::DELETE_CONTAINER, b)),
            op => self.prep_one(&p, op),
        };
        self.outstanding.undo.clear();
        match prepped {
            Ok((txn_type, body)) => header(txn_type, body),
            Err(err) => header(op_code::ERROR, TxnBody::Error(ErrorTxn { err })),
        }
    }

    /// multi: each sub-op is prepped against the view including the sub-ops before it; on the
    /// first failure every record of the multi is rolled back and the multi becomes ErrorTxns.
    fn prep_multi(&mut self, p: &Prep<'_>, ops: &[WriteOp]) -> Result<MultiTxn, ErrorCode> {
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
        let mut txns = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            match self.prep_one(p, op) {
                Ok((txn_type, body)) => txns.push(SubTxn { txn_type, body }),
                Err(e) => {
                    self.outstanding.rollback(p.zxid);
                    let error = |err| SubTxn {
                        txn_type: op_code::ERROR,
                        body: TxnBody::Error(ErrorTxn { err }),
                    };
                    let mut failed = Vec::with_capacity(ops.len());
                    failed.extend((0..i).map(|_| error(ErrorCode::Ok)));
                    failed.push(error(e));
                    failed
                        .extend((i + 1..ops.len()).map(|_| error(ErrorCode::RuntimeInconsistency)));
                    return Ok(MultiTxn { txns: failed });
                }
            }
        }
        Ok(MultiTxn { txns })
    }

    fn check_session(&self, p: &Prep<'_>) -> Result<(), ErrorCode> {
        if self.session_open(p.session_id) {
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

    /// One write allowed inside multi. It fails before recording anything, so a single write
    /// needs no rollback.
    fn prep_one(&mut self, p: &Prep<'_>, op: &WriteOp) -> Prepped {
        match op {
            WriteOp::Create(r) => self.prep_create(p, r, -1, op_code::CREATE),
            WriteOp::Create2(r) => self.prep_create(p, r, -1, op_code::CREATE2),
            WriteOp::CreateContainer(r) => self.prep_create(p, r, -1, op_code::CREATE_CONTAINER),
            WriteOp::CreateTtl(r) => {
                let req = CreateRequest {
                    path: r.path.clone(),
                    data: r.data.clone(),
                    acl: r.acl.clone(),
                    flags: r.flags,
                };
                self.prep_create(p, &req, r.ttl, op_code::CREATE_TTL)
            }
            WriteOp::Delete(r) => self
                .prep_delete(p, &r.path, Some(r.version), false)
                .map(|b| (op_code::DELETE, b)),
            WriteOp::SetData(r) => self.prep_set_data(p, r),
            WriteOp::Check(r) => self.prep_check(p, r),
            WriteOp::SetAcl(_)
            | WriteOp::DeleteContainer { .. }
            | WriteOp::Multi(_)
            | WriteOp::CreateSession { .. }
            | WriteOp::CloseSession => Err(ErrorCode::MarshallingError),
        }
    }

    fn prep_create(&mut self, p: &Prep<'_>, r: &CreateRequest, ttl: i64, op: i32) -> Prepped {
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
        } else if ttl >= 0 || op == op_code::CREATE_TTL {
            // createTTL without a TTL mode: ZooKeeper would log a CreateTTLTxn whose ttl no
            // server can turn into an owner; refused here instead.
            return Err(ErrorCode::BadArguments);
        }
        // 2. session
        self.check_session(p)?;
        // 3. a slash and no NUL
        precheck_path(&r.path)?;
        // 4. ACL fixup
        let acl = fixup_acl(&r.acl, p.auth)?;
        // 5. parent exists, 6. CREATE on the parent
        let parent = String::from(parent_of(&r.path).ok_or(ErrorCode::BadArguments)?);
        let Some(mut pview) = self.view_of(&parent) else {
            return Err(ErrorCode::NoNode);
        };
        check_acl(&self.config.auth, &pview.acl, perms::CREATE, p.auth)?;
        // 7. sequential suffix from the parent's cversion in the outstanding view
        let mut path = r.path.clone();
        if mode.is_sequential() {
            path.push_str(&path::sequence_suffix(pview.stat.cversion));
        }
        // 8. full validation, 9. not existing, 10. parent not ephemeral
        validate_path(&path)?;
        if self.view_of(&path).is_some() {
            return Err(ErrorCode::NodeExists);
        }
        if matches!(
            self.kind_of(pview.stat.ephemeral_owner),
            EphemeralKind::Session(_)
        ) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        // As ZooKeeper, the opcode picks the record and the record the node's kind (what
        // DataTree.processTxn gives it): createContainer makes a container, create/create2 a
        // node that is ephemeral or not as its mode says.
        let owner = create_owner(op, mode, p.session_id, ttl);
        let parent_cversion = pview.stat.cversion.wrapping_add(1);
        let z = p.zxid.0 as i64;
        pview.stat.cversion = parent_cversion;
        pview.stat.pzxid = z;
        pview.child_count += 1;
        let node = NodeView {
            stat: StatPersisted::created(p.zxid, p.time_ms, owner),
            child_count: 0,
            acl: acl.clone(),
        };
        self.outstanding.put_path(p.zxid, parent, Some(pview));
        self.outstanding.put_path(p.zxid, path.clone(), Some(node));
        let data = r.data.clone();
        let body = match op {
            op_code::CREATE_CONTAINER => TxnBody::CreateContainer(CreateContainerTxn {
                path,
                data,
                acl,
                parent_cversion,
            }),
            op_code::CREATE_TTL => TxnBody::CreateTtl(CreateTtlTxn {
                path,
                data,
                acl,
                parent_cversion,
                ttl,
            }),
            _ => TxnBody::Create(CreateTxn {
                path,
                data,
                acl,
                ephemeral: mode.is_ephemeral(),
                parent_cversion,
            }),
        };
        Ok((op, body))
    }

    /// delete (with `version`) or deleteContainer (`container`, no session, no ACL check).
    fn prep_delete(
        &mut self,
        p: &Prep<'_>,
        path: &str,
        version: Option<i32>,
        container: bool,
    ) -> Result<TxnBody, ErrorCode> {
        if !container {
            self.check_session(p)?;
        }
        precheck_path(path)?;
        if path::is_builtin(path) {
            return Err(ErrorCode::BadArguments);
        }
        let parent = String::from(parent_of(path).ok_or(ErrorCode::BadArguments)?);
        let Some(mut pview) = self.view_of(&parent) else {
            return Err(ErrorCode::NoNode);
        };
        if !container {
            check_acl(&self.config.auth, &pview.acl, perms::DELETE, p.auth)?;
        }
        let Some(node) = self.view_of(path) else {
            return Err(ErrorCode::NoNode);
        };
        if let Some(v) = version {
            if v != -1 && v != node.stat.version {
                return Err(ErrorCode::BadVersion);
            }
        }
        if node.child_count != 0 {
            return Err(ErrorCode::NotEmpty);
        }
        if container
            && matches!(
                self.kind_of(node.stat.ephemeral_owner),
                EphemeralKind::Session(_)
            )
        {
            return Err(ErrorCode::BadVersion);
        }
        removed_child(&mut pview, p.zxid);
        self.outstanding.put_path(p.zxid, parent, Some(pview));
        self.outstanding.put_path(p.zxid, String::from(path), None);
        Ok(TxnBody::Delete(DeleteTxn {
            path: String::from(path),
        }))
    }

    fn prep_set_data(&mut self, p: &Prep<'_>, r: &SetDataRequest) -> Prepped {
        self.check_data_size(&r.data)?;
        self.check_session(p)?;
        validate_path(&r.path)?;
        let Some(mut node) = self.view_of(&r.path) else {
            return Err(ErrorCode::NoNode);
        };
        check_acl(&self.config.auth, &node.acl, perms::WRITE, p.auth)?;
        if r.version != -1 && r.version != node.stat.version {
            return Err(ErrorCode::BadVersion);
        }
        let version = next_version(node.stat.version);
        node.stat.version = version;
        node.stat.mzxid = p.zxid.0 as i64;
        node.stat.mtime = p.time_ms;
        self.outstanding
            .put_path(p.zxid, r.path.clone(), Some(node));
        Ok((
            op_code::SET_DATA,
            TxnBody::SetData(SetDataTxn {
                path: r.path.clone(),
                data: r.data.clone(),
                version,
            }),
        ))
    }

    fn prep_set_acl(&mut self, p: &Prep<'_>, r: &SetAclRequest) -> Prepped {
        self.check_session(p)?;
        validate_path(&r.path)?;
        let acl = fixup_acl(&r.acl, p.auth)?;
        let Some(mut node) = self.view_of(&r.path) else {
            return Err(ErrorCode::NoNode);
        };
        check_acl(&self.config.auth, &node.acl, perms::ADMIN, p.auth)?;
        if r.version != -1 && r.version != node.stat.aversion {
            return Err(ErrorCode::BadVersion);
        }
        let version = next_version(node.stat.aversion);
        node.stat.aversion = version;
        node.acl = acl.clone();
        self.outstanding
            .put_path(p.zxid, r.path.clone(), Some(node));
        Ok((
            op_code::SET_ACL,
            TxnBody::SetAcl(SetAclTxn {
                path: r.path.clone(),
                acl,
                version,
            }),
        ))
    }

    fn prep_check(&mut self, p: &Prep<'_>, r: &CheckVersionRequest) -> Prepped {
        self.check_session(p)?;
        validate_path(&r.path)?;
        let Some(node) = self.view_of(&r.path) else {
            return Err(ErrorCode::NoNode);
        };
        check_acl(&self.config.auth, &node.acl, perms::READ, p.auth)?;
        if r.version != -1 && r.version != node.stat.version {
            return Err(ErrorCode::BadVersion);
        }
        // As ZooKeeper's checkAndIncVersion, the txn carries the version after the check.
        Ok((
            op_code::CHECK,
            TxnBody::CheckVersion(CheckVersionTxn {
                path: r.path.clone(),
                version: next_version(node.stat.version),
            }),
        ))
    }

    /// closeSession: the session's ephemerals in the applied tree, plus those outstanding
    /// creates give it, minus those outstanding deletes remove (ZooKeeper's paths2Delete).
    fn prep_close_session(&mut self, p: &Prep<'_>) -> (i32, TxnBody) {
        let sid = p.session_id;
        let mut es: BTreeSet<String> = self.ephemerals.get(&sid).cloned().unwrap_or_default();
        for (path, r) in &self.outstanding.by_path {
            match &r.node {
                None => {
                    es.remove(path);
                }
                Some(n) => {
                    if matches!(self.kind_of(n.stat.ephemeral_owner), EphemeralKind::Session(s) if s == sid)
                    {
                        es.insert(path.clone());
                    }
                }
            }
        }
        self.outstanding.put_session(p.zxid, sid, false);
        for path in &es {
            if let Some(parent) = parent_of(path).map(String::from) {
                if let Some(mut pview) = self.view_of(&parent) {
                    removed_child(&mut pview, p.zxid);
                    self.outstanding.put_path(p.zxid, parent, Some(pview));
                }
            }
            self.outstanding.put_path(p.zxid, path.clone(), None);
        }
        (
            op_code::CLOSE_SESSION,
            TxnBody::CloseSession(CloseSessionTxn {
                paths2_delete: es.into_iter().collect(),
            }),
        )
    }
}

/// A delete under a parent: one child less, pzxid at least this zxid (cversion counts child
/// creates only, see `stat.rs`).
fn removed_child(parent: &mut NodeView, zxid: Zxid) {
    parent.child_count = parent.child_count.saturating_sub(1);
    let z = zxid.0 as i64;
    if z > parent.stat.pzxid {
        parent.stat.pzxid = z;
    }
}

/// The ephemeralOwner the record of create opcode `op` gives its node.
fn create_owner(op: i32, mode: CreateMode, session_id: i64, ttl: i64) -> i64 {
    match op {
        op_code::CREATE_CONTAINER => stat::CONTAINER_OWNER,
        op_code::CREATE_TTL => stat::ttl_owner(ttl),
        _ if mode.is_ephemeral() => session_id,
        _ => 0,
    }
}
