//! Reads and watch registration (docs/protocol.md §5.8, §5.9): answered by the local server from
//! its current state, never replicated.
//!
//! The typed getters take `&self`; [`DataTree::read`] takes `&mut self` because a read with
//! `watch: true` registers a watch for the caller's connection.

use alloc::string::String;
use alloc::vec::Vec;

use super::acl::{check_acl, perms, redact_digests, Acl, Id};
use super::error::ErrorCode;
use super::path::{is_at_or_below, validate_path, validate_read_path};
use super::request::*;
use super::stat::Stat;
use super::watch::{ConnId, EventType, Table, WatchMode, WatchedEvent};
use super::{DataTree, ZNode};

impl DataTree {
    fn readable(&self, path: &str, auth: &[Id]) -> Result<&ZNode, ErrorCode> {
        validate_read_path(path)?;
        let node = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
        check_acl(&self.config.auth, &node.rec.acl, perms::READ, auth)?;
        Ok(node)
    }

    /// exists: the Stat, NoNode, or NoAuth.
    pub fn exists(&self, auth: &[Id], path: &str) -> Result<Stat, ErrorCode> {
        self.readable(path, auth).map(|n| self.stat_of(n))
    }

    /// getData: data (None for null) and Stat.
    pub fn get_data(&self, auth: &[Id], path: &str) -> Result<(Option<Vec<u8>>, Stat), ErrorCode> {
        self.readable(path, auth)
            .map(|n| (n.rec.data.clone(), self.stat_of(n)))
    }

    /// getChildren2: child names (sorted) and the Stat; getChildren drops the Stat.
    pub fn get_children(&self, auth: &[Id], path: &str) -> Result<(Vec<String>, Stat), ErrorCode> {
        self.readable(path, auth)
            .map(|n| (n.children.iter().cloned().collect(), self.stat_of(n)))
    }

    /// getAllChildrenNumber: descendants at any depth.
    pub fn get_all_children_number(&self, auth: &[Id], path: &str) -> Result<i32, ErrorCode> {
        self.readable(path, auth)?;
        if path == "/" {
            return Ok(self.nodes.len().saturating_sub(1) as i32);
        }
        let lo = alloc::format!("{path}/");
        let hi = alloc::format!("{path}0"); // '0' is the byte after '/'
        Ok(self.nodes.range(lo..hi).count() as i32)
    }

    /// getEphemerals: this session's ephemerals whose path starts with `prefix` (`""` or `/`
    /// mean all), sorted.
    pub fn get_ephemerals(&self, session_id: i64, prefix: &str) -> Vec<String> {
        let all = prefix.is_empty() || prefix == "/";
        self.ephemerals
            .get(&session_id)
            .map(|s| {
                s.iter()
                    .filter(|p| all || p.starts_with(prefix))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// getACL: READ or ADMIN; without ADMIN digest ids are redacted to `user:x`.
    pub fn get_acl(&self, auth: &[Id], path: &str) -> Result<(Vec<Acl>, Stat), ErrorCode> {
        validate_read_path(path)?;
        let node = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
        let cfg = &self.config.auth;
        let admin = check_acl(cfg, &node.rec.acl, perms::ADMIN, auth).is_ok();
        if !admin {
            check_acl(cfg, &node.rec.acl, perms::READ, auth)?;
        }
        let acl = if admin {
            node.rec.acl.clone()
        } else {
            redact_digests(&node.rec.acl)
        };
        Ok((acl, self.stat_of(node)))
    }

    /// Remembers the auth ids of a connection, for the READ check before watch delivery.
    pub fn set_connection_auth(&mut self, conn: ConnId, auth: &[Id]) {
        self.conn_auth.insert(conn, auth.to_vec());
    }

    /// Forgets a closed connection and its watches.
    pub fn remove_connection(&mut self, conn: ConnId) {
        self.watches.remove_connection(conn);
        self.conn_auth.remove(&conn);
    }

    /// The number of registered watches on this server.
    pub fn watch_count(&self) -> usize {
        self.watches.watch_count()
    }

    /// Answers a read for connection `conn` of `session_id`, registering a watch when asked:
    /// exists watches even a missing node; the other reads watch only on success.
    pub fn read(
        &mut self,
        conn: ConnId,
        session_id: i64,
        auth: &[Id],
        req: &ReadRequest,
    ) -> Result<ReadResponse, ErrorCode> {
        let watch = |t: &mut DataTree, table: Table, path: &str| {
            t.set_connection_auth(conn, auth);
            t.watches.add(table, path, conn, WatchMode::Standard);
        };
        match req {
            ReadRequest::Exists { path, watch: w } => {
                let r = self.exists(auth, path);
                if *w && matches!(r, Ok(_) | Err(ErrorCode::NoNode)) {
                    watch(self, Table::Data, path);
                }
                r.map(|stat| ReadResponse::Exists { stat })
            }
            ReadRequest::GetData { path, watch: w } => {
                let (data, stat) = self.get_data(auth, path)?;
                if *w {
                    watch(self, Table::Data, path);
                }
                Ok(ReadResponse::GetData { data, stat })
            }
            ReadRequest::GetChildren { path, watch: w }
            | ReadRequest::GetChildren2 { path, watch: w } => {
                let (children, stat) = self.get_children(auth, path)?;
                if *w {
                    watch(self, Table::Child, path);
                }
                Ok(match req {
                    ReadRequest::GetChildren { .. } => ReadResponse::GetChildren { children },
                    _ => ReadResponse::GetChildren2 { children, stat },
                })
            }
            ReadRequest::GetAcl { path } => self
                .get_acl(auth, path)
                .map(|(acl, stat)| ReadResponse::GetAcl { acl, stat }),
            ReadRequest::GetAllChildrenNumber { path } => self
                .get_all_children_number(auth, path)
                .map(|total_number| ReadResponse::GetAllChildrenNumber { total_number }),
            ReadRequest::GetEphemerals { prefix_path } => Ok(ReadResponse::GetEphemerals {
                ephemerals: self.get_ephemerals(session_id, prefix_path),
            }),
            ReadRequest::MultiRead(ops) => {
                let ok = ops.iter().all(|o| {
                    matches!(
                        o,
                        ReadRequest::GetData { watch: false, .. }
                            | ReadRequest::GetChildren { watch: false, .. }
                    )
                });
                if !ok {
                    return Err(ErrorCode::MarshallingError);
                }
                let results = ops
                    .iter()
                    .map(|o| self.read(conn, session_id, auth, o))
                    .collect();
                Ok(ReadResponse::MultiRead(results))
            }
        }
    }

    /// addWatch (106): a persistent (both tables) or persistent-recursive (data table) watch.
    pub fn add_watch(
        &mut self,
        conn: ConnId,
        auth: &[Id],
        path: &str,
        mode: AddWatchMode,
    ) -> Result<(), ErrorCode> {
        validate_path(path)?;
        self.set_connection_auth(conn, auth);
        match mode {
            AddWatchMode::Persistent => {
                self.watches
                    .add(Table::Data, path, conn, WatchMode::Persistent);
                self.watches
                    .add(Table::Child, path, conn, WatchMode::Persistent);
            }
            AddWatchMode::PersistentRecursive => {
                self.watches
                    .add(Table::Data, path, conn, WatchMode::PersistentRecursive)
            }
        }
        Ok(())
    }

    /// removeWatches (18): NoWatcher (-121) when nothing matched.
    pub fn remove_watches(
        &mut self,
        conn: ConnId,
        path: &str,
        kind: WatcherType,
    ) -> Result<(), ErrorCode> {
        validate_path(path)?;
        if self.watches.remove(conn, path, kind, true) {
            Ok(())
        } else {
            Err(ErrorCode::NoWatcher)
        }
    }

    /// checkWatches (17): like removeWatches without removing.
    pub fn check_watches(
        &mut self,
        conn: ConnId,
        path: &str,
        kind: WatcherType,
    ) -> Result<(), ErrorCode> {
        validate_path(path)?;
        if self.watches.remove(conn, path, kind, false) {
            Ok(())
        } else {
            Err(ErrorCode::NoWatcher)
        }
    }

    /// setWatches / setWatches2 (§5.8): re-registers a reconnecting client's watches relative
    /// to its last seen zxid, queueing (zxid -1) events for changes it missed.
    pub fn set_watches(&mut self, conn: ConnId, auth: &[Id], req: &SetWatches) {
        self.set_connection_auth(conn, auth);
        let r = req.relative_zxid;
        let ev = |event_type, path: &String| {
            (
                conn,
                WatchedEvent {
                    event_type,
                    path: path.clone(),
                    zxid: -1,
                },
            )
        };
        for p in &req.data_watches {
            match self.nodes.get(p) {
                None => self.events.push(ev(EventType::NodeDeleted, p)),
                Some(n) if n.rec.stat.mzxid > r => {
                    self.events.push(ev(EventType::NodeDataChanged, p))
                }
                Some(_) => self.watches.add(Table::Data, p, conn, WatchMode::Standard),
            }
        }
        for p in &req.exist_watches {
            if self.nodes.contains_key(p) {
                self.events.push(ev(EventType::NodeCreated, p));
            } else {
                self.watches.add(Table::Data, p, conn, WatchMode::Standard);
            }
        }
        for p in &req.child_watches {
            match self.nodes.get(p) {
                None => self.events.push(ev(EventType::NodeDeleted, p)),
                Some(n) if n.rec.stat.pzxid > r => {
                    self.events.push(ev(EventType::NodeChildrenChanged, p))
                }
                Some(_) => self.watches.add(Table::Child, p, conn, WatchMode::Standard),
            }
        }
        for p in &req.persistent_watches {
            self.watches
                .add(Table::Data, p, conn, WatchMode::Persistent);
            self.watches
                .add(Table::Child, p, conn, WatchMode::Persistent);
        }
        for p in &req.persistent_recursive_watches {
            self.watches
                .add(Table::Data, p, conn, WatchMode::PersistentRecursive);
        }
    }

    /// Paths of every node at or below `path` (for tools such as `ls -R` and `deleteall`).
    pub fn subtree(&self, path: &str) -> Vec<String> {
        self.nodes
            .keys()
            .filter(|p| is_at_or_below(p, path))
            .cloned()
            .collect()
    }
}
