//! Watches (docs/protocol.md §5.8): the per-server data and child watch tables and the trigger
//! rules.
//!
//! Watches belong to the server a client is connected to and are never replicated, so they live
//! beside the replicated tree and stay out of snapshots and digests. A watcher is a
//! host-chosen connection id. Triggering happens while a transaction is applied; the events
//! queue up inside the tree and the host drains them after each step, so they leave in zxid
//! order relative to replies.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use super::acl::Id;
use super::path::parent_of;
use super::request::WatcherType;

/// A host-chosen connection id (the watcher).
pub type ConnId = u64;

/// `WatcherEvent.type` values the server sends (§5.8).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum EventType {
    NodeCreated,
    NodeDeleted,
    NodeDataChanged,
    NodeChildrenChanged,
}

impl EventType {
    pub fn code(self) -> i32 {
        match self {
            EventType::NodeCreated => 1,
            EventType::NodeDeleted => 2,
            EventType::NodeDataChanged => 3,
            EventType::NodeChildrenChanged => 4,
        }
    }
}

/// One watch notification: `WatcherEvent{type, state = SyncConnected, path}` plus the zxid of
/// the transaction that fired it (-1 for events synthesized by setWatches).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WatchedEvent {
    pub event_type: EventType,
    pub path: String,
    pub zxid: i64,
}

/// How a watch behaves once it fires.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum WatchMode {
    /// One-shot (getData, exists, getChildren): removed when it fires.
    Standard,
    /// addWatch mode 0: fires on every event on the path and stays.
    Persistent,
    /// addWatch mode 1: also fires for descendants; data table only.
    PersistentRecursive,
}

/// Which of the two tables.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Table {
    Data,
    Child,
}

type PathTable = BTreeMap<String, BTreeMap<ConnId, WatchMode>>;

/// The two watch tables of one server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WatchManager {
    data: PathTable,
    child: PathTable,
    recursive_count: usize,
}

impl WatchManager {
    fn table_mut(&mut self, t: Table) -> &mut PathTable {
        match t {
            Table::Data => &mut self.data,
            Table::Child => &mut self.child,
        }
    }

    /// Registers a watch. A standard watch never downgrades a persistent one on the same path.
    pub fn add(&mut self, table: Table, path: &str, conn: ConnId, mode: WatchMode) {
        let entry = self.table_mut(table).entry(path.into()).or_default();
        let old = entry.get(&conn).copied();
        let new = match (old, mode) {
            (Some(o), WatchMode::Standard) => o,
            _ => mode,
        };
        entry.insert(conn, new);
        if new == WatchMode::PersistentRecursive && old != Some(WatchMode::PersistentRecursive) {
            self.recursive_count += 1;
        } else if old == Some(WatchMode::PersistentRecursive)
            && new != WatchMode::PersistentRecursive
        {
            self.recursive_count = self.recursive_count.saturating_sub(1);
        }
    }

    /// True if `conn` has a watch on `path` in `table`.
    pub fn has(&self, table: Table, path: &str, conn: ConnId) -> bool {
        let t = match table {
            Table::Data => &self.data,
            Table::Child => &self.child,
        };
        t.get(path).is_some_and(|m| m.contains_key(&conn))
    }

    /// Fires `table` watches for an event on `path`; `suppress` (already notified) fire but are
    /// not returned again. Returns the
    /// connections to notify (one-shot watches are removed). Recursive watches on ancestors
    /// fire from the data table.
    pub fn trigger(
        &mut self,
        table: Table,
        path: &str,
        suppress: &BTreeSet<ConnId>,
    ) -> BTreeSet<ConnId> {
        let mut hit = BTreeSet::new();
        let t = self.table_mut(table);
        if let Some(watchers) = t.get_mut(path) {
            watchers.retain(|conn, mode| {
                // A suppressed watcher fired too (it is consumed); it was already told.
                if !suppress.contains(conn) {
                    hit.insert(*conn);
                }
                *mode != WatchMode::Standard
            });
            if watchers.is_empty() {
                t.remove(path);
            }
        }
        if table == Table::Data && self.recursive_count > 0 {
            let mut p = parent_of(path);
            while let Some(anc) = p {
                if let Some(watchers) = self.data.get(anc) {
                    for (conn, mode) in watchers {
                        if *mode == WatchMode::PersistentRecursive && !suppress.contains(conn) {
                            hit.insert(*conn);
                        }
                    }
                }
                p = parent_of(anc);
            }
        }
        hit
    }

    fn matches(kind: WatcherType, table: Table, mode: WatchMode) -> bool {
        match kind {
            WatcherType::Children => table == Table::Child,
            WatcherType::Data => table == Table::Data,
            WatcherType::Any => true,
            WatcherType::Persistent => mode == WatchMode::Persistent,
            WatcherType::PersistentRecursive => mode == WatchMode::PersistentRecursive,
        }
    }

    /// removeWatches (`remove`) or checkWatches (`!remove`): true when some watch of `conn`
    /// on `path` matched `kind` (false becomes NoWatcher, -121).
    pub fn remove(&mut self, conn: ConnId, path: &str, kind: WatcherType, remove: bool) -> bool {
        let mut found = false;
        for table in [Table::Data, Table::Child] {
            let mut drop_recursive = false;
            let t = self.table_mut(table);
            if let Some(watchers) = t.get_mut(path) {
                if let Some(mode) = watchers.get(&conn).copied() {
                    if Self::matches(kind, table, mode) {
                        found = true;
                        if remove {
                            watchers.remove(&conn);
                            drop_recursive = mode == WatchMode::PersistentRecursive;
                            if watchers.is_empty() {
                                t.remove(path);
                            }
                        }
                    }
                }
            }
            if drop_recursive {
                self.recursive_count = self.recursive_count.saturating_sub(1);
            }
        }
        found
    }

    /// Drops every watch of a closed connection.
    pub fn remove_connection(&mut self, conn: ConnId) {
        let mut recursive = 0;
        for t in [&mut self.data, &mut self.child] {
            t.retain(|_, watchers| {
                if watchers.remove(&conn) == Some(WatchMode::PersistentRecursive) {
                    recursive += 1;
                }
                !watchers.is_empty()
            });
        }
        self.recursive_count = self.recursive_count.saturating_sub(recursive);
    }

    /// The number of (path, connection) watches in both tables (for `mntr`'s watch_count).
    pub fn watch_count(&self) -> usize {
        self.data
            .values()
            .chain(self.child.values())
            .map(|m| m.len())
            .sum()
    }
}

/// Connections' auth ids, used for the READ check before delivery.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ConnAuth {
    pub ids: BTreeMap<ConnId, Vec<Id>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_watches_fire_once_persistent_stay() {
        let mut w = WatchManager::default();
        w.add(Table::Data, "/a", 1, WatchMode::Standard);
        w.add(Table::Data, "/a", 2, WatchMode::Persistent);
        let none = BTreeSet::new();
        assert_eq!(
            w.trigger(Table::Data, "/a", &none)
                .into_iter()
                .collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(
            w.trigger(Table::Data, "/a", &none)
                .into_iter()
                .collect::<Vec<_>>(),
            [2]
        );
    }

    #[test]
    fn recursive_watch_fires_for_descendants_from_the_data_table_only() {
        let mut w = WatchManager::default();
        w.add(Table::Data, "/a", 5, WatchMode::PersistentRecursive);
        let none = BTreeSet::new();
        assert!(w.trigger(Table::Data, "/a/b/c", &none).contains(&5));
        assert!(w.trigger(Table::Child, "/a", &none).is_empty());
        assert!(w.trigger(Table::Data, "/ab", &none).is_empty());
        assert!(w.remove(5, "/a", WatcherType::PersistentRecursive, true));
        assert!(w.trigger(Table::Data, "/a/b", &none).is_empty());
    }

    #[test]
    fn standard_watch_does_not_downgrade_persistent() {
        let mut w = WatchManager::default();
        w.add(Table::Data, "/a", 1, WatchMode::Persistent);
        w.add(Table::Data, "/a", 1, WatchMode::Standard);
        let none = BTreeSet::new();
        w.trigger(Table::Data, "/a", &none);
        assert!(w.has(Table::Data, "/a", 1));
        w.remove_connection(1);
        assert_eq!(w.watch_count(), 0);
    }
}
