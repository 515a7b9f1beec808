//! What a lesson step does to the ensemble: server faults, network faults and client
//! requests ([`StepAction`]), the preloaded disks of a lesson's `cluster` section, and the
//! one-line summaries of messages and transactions the flow view shows.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::durable::{DurableState, LogEntry};
use crate::message::Message;
use crate::sim::zk::ZkCluster;
use crate::sim::{Action, ClientResult};
use crate::tree::{
    acl::open_acl_unsafe, CreateRequest, DeleteRequest, ReadRequest, ReadResponse, SetDataRequest,
    Txn, WriteOp,
};
use crate::zxid::{Sid, Zxid};

use super::format::{ClientOp, DiskSpec, StepAction};
use super::run::{LastResult, LessonRun, HISTORY_SESSION, WRITE_WAIT_MS};

/// The disk a [`DiskSpec`] describes: a session opens at `epoch:1`, `/counter` is created at
/// `epoch:2` and set to the zxid at every later one, so every server's history is a prefix of
/// the same history.
pub(crate) fn disk(spec: &DiskSpec) -> DurableState<Txn, crate::tree::TreeSnapshot> {
    let s = HISTORY_SESSION;
    let log = (1..=spec.last)
        .map(|c| {
            let zxid = Zxid::new(spec.epoch, c);
            let data = Some(format!("{zxid}").into_bytes());
            let op = match c {
                1 => WriteOp::CreateSession {
                    timeout_ms: i32::MAX,
                },
                2 => WriteOp::Create(CreateRequest {
                    path: "/counter".to_string(),
                    data,
                    acl: open_acl_unsafe(),
                    flags: 0,
                }),
                _ => WriteOp::SetData(SetDataRequest {
                    path: "/counter".to_string(),
                    data,
                    version: -1,
                }),
            };
            LogEntry {
                zxid,
                time_ms: 0,
                origin: None,
                txn: Txn::new(s, c as i32, Vec::new(), op),
            }
        })
        .collect();
    DurableState {
        accepted_epoch: spec.accepted_epoch.unwrap_or(spec.epoch),
        current_epoch: spec.current_epoch.unwrap_or(spec.epoch),
        snapshot: None,
        log,
    }
}

impl LessonRun {
    pub(crate) fn check_refs(&self, action: &StepAction) -> Result<(), String> {
        let servers = self.cluster.ensemble().all();
        let server_ok = |s: &Sid| servers.contains(s);
        let bad = |what: String| Err(what);
        match action {
            StepAction::Start(s)
            | StepAction::Kill(s)
            | StepAction::Restart(s)
            | StepAction::Wipe(s)
            | StepAction::Isolate(s)
            | StepAction::Connect { server: s, .. } => {
                if !server_ok(s) {
                    return bad(format!("no server {s}"));
                }
            }
            StepAction::Cut(l)
            | StepAction::Heal(l)
            | StepAction::Slow(l)
            | StepAction::DropNext(l) => {
                if !server_ok(&l.from) || !server_ok(&l.to) || l.from == l.to {
                    return bad(format!("no link {} → {}", l.from, l.to));
                }
            }
            StepAction::CrashClient(c) | StepAction::CloseClient(c) => {
                if !self.names.contains_key(c) {
                    return bad(format!("no client {c:?}"));
                }
            }
            StepAction::Create(op)
            | StepAction::Set(op)
            | StepAction::Delete(op)
            | StepAction::Get(op)
            | StepAction::Exists(op)
            | StepAction::Children(op) => {
                if !self.names.contains_key(&op.client) {
                    return bad(format!("no client {:?}", op.client));
                }
            }
            StepAction::HealAll | StepAction::RunFor(_) | StepAction::RunUntil { .. } => {}
        }
        Ok(())
    }

    pub(crate) fn perform(&mut self, action: &StepAction) -> Result<(), super::Failure> {
        let sim = |c: &mut ZkCluster, a: Action<Txn>| {
            c.act(a);
        };
        match action {
            StepAction::Start(s) => sim(&mut self.cluster, Action::Start(*s)),
            StepAction::Kill(s) => sim(&mut self.cluster, Action::Crash(*s)),
            StepAction::Restart(s) => sim(&mut self.cluster, Action::Restart(*s)),
            StepAction::Wipe(s) => sim(&mut self.cluster, Action::WipeDisk(*s)),
            StepAction::Isolate(s) => sim(&mut self.cluster, Action::Isolate(*s)),
            StepAction::Cut(l) => sim(
                &mut self.cluster,
                Action::Cut {
                    from: l.from,
                    to: l.to,
                    both: l.both,
                },
            ),
            StepAction::Heal(l) => sim(
                &mut self.cluster,
                Action::Heal {
                    from: l.from,
                    to: l.to,
                    both: l.both,
                },
            ),
            StepAction::HealAll => sim(&mut self.cluster, Action::HealAll),
            StepAction::Slow(l) => {
                let pairs: &[(Sid, Sid)] = if l.both {
                    &[(l.from, l.to), (l.to, l.from)]
                } else {
                    &[(l.from, l.to)]
                };
                for (from, to) in pairs {
                    sim(
                        &mut self.cluster,
                        Action::SetLink {
                            from: *from,
                            to: *to,
                            extra_ms: l.extra_ms,
                            drop_per_million: 0,
                        },
                    );
                }
            }
            StepAction::DropNext(l) => sim(
                &mut self.cluster,
                Action::DropNext {
                    from: l.from,
                    to: l.to,
                },
            ),
            StepAction::Connect {
                client,
                server,
                timeout_ms,
            } => {
                let r = self
                    .clients
                    .connect(&mut self.cluster, *server, *timeout_ms);
                let text = match r {
                    Ok(id) => {
                        self.names.insert(client.clone(), id);
                        self.events_mark.insert(client.clone(), 0);
                        "ok".to_string()
                    }
                    Err(code) => format!("{code:?}"),
                };
                self.last_result
                    .insert(client.clone(), LastResult::Text(text));
            }
            StepAction::CrashClient(c) => {
                if let Some(id) = self.names.get(c) {
                    self.clients.crash(&mut self.cluster, *id);
                }
            }
            StepAction::CloseClient(c) => {
                if let Some(id) = self.names.get(c).copied() {
                    let r = self.clients.close(&mut self.cluster, id);
                    let text = match r {
                        Ok(_) => "ok".to_string(),
                        Err(code) => format!("{code:?}"),
                    };
                    self.last_result.insert(c.clone(), LastResult::Text(text));
                }
            }
            StepAction::Create(op) => {
                let flags = (op.ephemeral as i32) | ((op.sequential as i32) << 1);
                let w = WriteOp::Create(CreateRequest {
                    path: op.path.clone(),
                    data: Some(data_of(op)),
                    acl: open_acl_unsafe(),
                    flags,
                });
                self.write(op, w);
            }
            StepAction::Set(op) => {
                let w = WriteOp::SetData(SetDataRequest {
                    path: op.path.clone(),
                    data: Some(data_of(op)),
                    version: op.version.unwrap_or(-1),
                });
                self.write(op, w);
            }
            StepAction::Delete(op) => {
                let w = WriteOp::Delete(DeleteRequest {
                    path: op.path.clone(),
                    version: op.version.unwrap_or(-1),
                });
                self.write(op, w);
            }
            StepAction::Get(op) => self.read(
                op,
                ReadRequest::GetData {
                    path: op.path.clone(),
                    watch: op.watch,
                },
            ),
            StepAction::Exists(op) => self.read(
                op,
                ReadRequest::Exists {
                    path: op.path.clone(),
                    watch: op.watch,
                },
            ),
            StepAction::Children(op) => self.read(
                op,
                ReadRequest::GetChildren {
                    path: op.path.clone(),
                    watch: op.watch,
                },
            ),
            StepAction::RunFor(ms) => {
                let until = self.cluster.now() + *ms;
                self.run(until, None);
            }
            StepAction::RunUntil { until, limit_ms } => {
                let limit = self.cluster.now() + *limit_ms;
                if !self.run(limit, Some(until)) {
                    let mut why = self.evaluate(until);
                    let first = why.failures.drain(..).next();
                    return Err(super::Failure {
                        what: format!("run_until (limit {limit_ms} ms)"),
                        expected: first
                            .as_ref()
                            .map(|f| format!("{} = {}", f.what, f.expected))
                            .unwrap_or_else(|| "the condition".to_string()),
                        actual: first
                            .map(|f| f.actual)
                            .unwrap_or_else(|| "not reached".to_string()),
                    });
                }
            }
        }
        self.clients.pump(&mut self.cluster);
        self.scan();
        Ok(())
    }

    fn write(&mut self, op: &ClientOp, w: WriteOp) {
        let Some(id) = self.names.get(&op.client).copied() else {
            return;
        };
        *self.requests.entry(op.client.clone()).or_default() += 1;
        let Some(tag) = self.clients.submit(&mut self.cluster, id, w) else {
            self.last_result.insert(
                op.client.clone(),
                LastResult::Text("ConnectionLoss".to_string()),
            );
            return;
        };
        self.last_result
            .insert(op.client.clone(), LastResult::Tag(tag));
        self.scan();
        if !op.no_wait {
            let limit = self.cluster.now() + WRITE_WAIT_MS;
            self.run_while(limit, |r| {
                matches!(r.cluster.request(tag), Some(ClientResult::Pending))
            });
        }
    }

    fn read(&mut self, op: &ClientOp, req: ReadRequest) {
        let Some(id) = self.names.get(&op.client).copied() else {
            return;
        };
        *self.requests.entry(op.client.clone()).or_default() += 1;
        let r = self.clients.read(&mut self.cluster, id, &req);
        let text = match &r {
            Ok(ReadResponse::GetData { data, stat }) => {
                self.read_version.insert(op.client.clone(), stat.version);
                let d = data.as_deref().unwrap_or_default();
                self.read_data
                    .insert(op.client.clone(), String::from_utf8_lossy(d).into_owned());
                "ok".to_string()
            }
            Ok(ReadResponse::GetChildren { children }) => {
                self.read_data.insert(op.client.clone(), children.join(","));
                "ok".to_string()
            }
            Ok(_) => "ok".to_string(),
            Err(code) => format!("{code:?}"),
        };
        self.last_result
            .insert(op.client.clone(), LastResult::Text(text));
    }
}

fn data_of(op: &ClientOp) -> Vec<u8> {
    op.data.clone().unwrap_or_default().into_bytes()
}

/// A short summary of a transaction, e.g. `create /z` or `createSession`.
pub(crate) fn describe_txn(txn: &Txn) -> String {
    match &txn.op {
        WriteOp::Create(r) | WriteOp::Create2(r) | WriteOp::CreateContainer(r) => {
            format!("create {}", r.path)
        }
        WriteOp::CreateTtl(r) => format!("create {}", r.path),
        WriteOp::Delete(r) => format!("delete {}", r.path),
        WriteOp::SetData(r) => format!("setData {}", r.path),
        WriteOp::SetAcl(r) => format!("setACL {}", r.path),
        WriteOp::Check(r) => format!("check {}", r.path),
        WriteOp::Multi(ops) => format!("multi ({} ops)", ops.len()),
        WriteOp::CreateSession { .. } => "createSession".to_string(),
        WriteOp::CloseSession => "closeSession".to_string(),
        WriteOp::DeleteContainer { path } => format!("deleteContainer {path}"),
    }
}

/// The fields of a message that a student reads in a capture.
pub(crate) fn describe(msg: &Message<Txn, crate::tree::TreeSnapshot>) -> String {
    match msg {
        Message::Notification(n) => {
            let mut s = format!("({}, {}) round {}", n.vote_id, n.vote_zxid, n.logicclock);
            if n.peer_epoch != n.vote_zxid.epoch() {
                s.push_str(&format!(" epoch {}", n.peer_epoch));
            }
            if n.state != crate::message::PeerState::Looking {
                s.push(' ');
                s.push_str(n.state.name());
            }
            s
        }
        Message::FollowerInfo { accepted_epoch } | Message::ObserverInfo { accepted_epoch } => {
            format!("acceptedEpoch {accepted_epoch}")
        }
        Message::LeaderInfo { new_epoch } => format!("newEpoch {new_epoch}"),
        Message::AckEpoch {
            last_logged_zxid,
            current_epoch,
        } => match current_epoch {
            Some(e) => format!("lastLoggedZxid {last_logged_zxid} currentEpoch {e}"),
            None => format!("lastLoggedZxid {last_logged_zxid}"),
        },
        Message::Diff { zxid }
        | Message::Trunc { zxid }
        | Message::Snap { zxid, .. }
        | Message::NewLeader { zxid }
        | Message::Ack { zxid }
        | Message::Commit { zxid } => format!("{zxid}"),
        Message::Proposal(e) | Message::Inform(e) => format!("{} {}", e.zxid, describe_txn(&e.txn)),
        Message::Ping { zxid, .. } => format!("{zxid}"),
        Message::Request { body, .. } => match body {
            crate::message::Forwarded::Write(t) => describe_txn(t),
            crate::message::Forwarded::Sync => "sync".to_string(),
        },
        Message::UpToDate | Message::Sync { .. } => String::new(),
    }
}
