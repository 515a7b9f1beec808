//! The client's record of its watches ([`WatchBook`]): what a successful reply registers,
//! what a notification consumes, so a reconnect can restore them with setWatches.

use zablab_core::tree::{AddWatchMode, ErrorCode, ReadRequest, WatcherType};

use super::WatchBook;
use crate::codec::proto::{event, ClientRequest, WatcherEvent};

/// What a successful reply registers in the [`WatchBook`].
pub(crate) enum Reg {
    None,
    Data(String),
    Exists(String),
    Child(String),
    Persistent(String),
    Recursive(String),
    Remove(String, WatcherType),
}

impl WatchBook {
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.recursive.is_empty()
    }

    /// A notification consumed the one-shot watches it fired.
    pub(crate) fn fired(&mut self, ev: &WatcherEvent) {
        let p = &ev.path;
        match ev.event_type {
            event::NODE_CREATED | event::NODE_DATA_CHANGED => {
                self.data.remove(p);
                self.exist.remove(p);
            }
            event::NODE_DELETED => {
                self.data.remove(p);
                self.exist.remove(p);
                self.child.remove(p);
            }
            event::NODE_CHILDREN_CHANGED => {
                self.child.remove(p);
            }
            _ => {}
        }
    }

    pub(crate) fn register(&mut self, reg: Reg, ok: bool, err: i32) {
        match reg {
            Reg::Data(p) if ok => {
                self.data.insert(p);
            }
            Reg::Exists(p) if ok => {
                self.data.insert(p);
            }
            Reg::Exists(p) if err == ErrorCode::NoNode.code() => {
                self.exist.insert(p);
            }
            Reg::Child(p) if ok => {
                self.child.insert(p);
            }
            Reg::Persistent(p) if ok => {
                self.persistent.insert(p);
            }
            Reg::Recursive(p) if ok => {
                self.recursive.insert(p);
            }
            Reg::Remove(p, t) if ok => {
                let (data, child, pers) = match t {
                    WatcherType::Children => (false, true, false),
                    WatcherType::Data => (true, false, false),
                    WatcherType::Any => (true, true, true),
                    WatcherType::Persistent | WatcherType::PersistentRecursive => {
                        (false, false, true)
                    }
                };
                if data {
                    self.data.remove(&p);
                    self.exist.remove(&p);
                }
                if child {
                    self.child.remove(&p);
                }
                if pers && t != WatcherType::PersistentRecursive {
                    self.persistent.remove(&p);
                }
                if pers && t != WatcherType::Persistent {
                    self.recursive.remove(&p);
                }
            }
            _ => {}
        }
    }
}

/// The watch a request asks for.
pub(crate) fn registration(req: &ClientRequest) -> Reg {
    match req {
        ClientRequest::Read(ReadRequest::GetData { path, watch: true }) => Reg::Data(path.clone()),
        ClientRequest::Read(ReadRequest::Exists { path, watch: true }) => Reg::Exists(path.clone()),
        ClientRequest::Read(
            ReadRequest::GetChildren { path, watch: true }
            | ReadRequest::GetChildren2 { path, watch: true },
        ) => Reg::Child(path.clone()),
        ClientRequest::AddWatch { path, mode } => match mode {
            AddWatchMode::Persistent => Reg::Persistent(path.clone()),
            AddWatchMode::PersistentRecursive => Reg::Recursive(path.clone()),
        },
        ClientRequest::RemoveWatches { path, watcher_type } => {
            Reg::Remove(path.clone(), *watcher_type)
        }
        _ => Reg::None,
    }
}
