//! What a lesson step does to the ensemble: server faults, network faults and client
//! requests ([`StepAction`]), the preloaded disks of a lesson's `cluster` section, and the
//! one-line summaries of messages and transactions the flow view shows.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::durable::{DurableState, LogEntry};
use crate::machine::{StateMachine, TxnContext};
use crate::message::Message;
use crate::sim::zk::ZkCluster;
use crate::sim::{Action, ClientResult};
use crate::tree::acl::{authenticate, open_acl_unsafe, perms, Acl, AuthConfig, Id};
use crate::tree::{
    CreateRequest, CreateTtlRequest, DeleteRequest, ReadRequest, ReadResponse, Request,
    SetAclRequest, SetDataRequest, Txn, TxnBody, WriteOp, DEFAULT_MAX_BUFFER_BYTES,
};
use crate::zxid::{Sid, Zxid};

use super::format::{ClientOp, DiskSpec, StepAction};
use super::run::{LastResult, LessonRun, HISTORY_SESSION, WRITE_WAIT_MS};

/// The disk a [`DiskSpec`] describes: a session opens at `epoch:1`, `/counter` is created at
/// `epoch:2` and set to the zxid at every later one, so every server's history is a prefix of
/// the same history. The log holds transactions, so each request is prepped (and applied) on
/// a scratch tree, as the leader that wrote this history would have.
pub(crate) fn disk(spec: &DiskSpec) -> DurableState<Txn, crate::tree::TreeSnapshot> {
    let s = HISTORY_SESSION;
    let mut scratch = crate::tree::DataTree::default();
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
            let ctx = TxnContext {
                zxid,
                time_ms: 0,
                origin: None,
            };
            let txn = scratch.prep(&ctx, &Request::new(s, c as i32, Vec::new(), op));
            let outcome = scratch.apply(&ctx, &txn);
            debug_assert!(
                outcome.is_ok(),
                "the lesson history failed at {zxid}: {outcome:?}"
            );
            LogEntry {
                zxid,
                time_ms: 0,
                origin: None,
                txn,
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
            | StepAction::Pause { server: s, .. } => {
                if !server_ok(s) {
                    return bad(format!("no server {s}"));
                }
            }
            StepAction::Connect {
                server: s, hosts, ..
            } => {
                if let Some(h) = core::iter::once(s).chain(hosts).find(|h| !server_ok(h)) {
                    return bad(format!("no server {h}"));
                }
                if !hosts.is_empty() && !hosts.contains(s) {
                    return bad(format!("the connect string must contain server {s}"));
                }
            }
            StepAction::AddAuth { client: c, .. } => {
                if !self.names.contains_key(c) {
                    return bad(format!("no client {c:?}"));
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
            | StepAction::Children(op)
            | StepAction::Sync(op)
            | StepAction::SetAcl(op)
            | StepAction::GetAcl(op) => {
                if let Some(acl) = &op.acl {
                    parse_acl(acl)?;
                }
                if !self.names.contains_key(&op.client) {
                    return bad(format!("no client {:?}", op.client));
                }
            }
            StepAction::HealAll | StepAction::RunFor(_) | StepAction::RunUntil { .. } => {}
        }
        Ok(())
    }

    pub(crate) fn perform(&mut self, action: &StepAction) -> Result<(), super::Failure> {
        let sim = |c: &mut ZkCluster, a: Action<Request>| {
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
            StepAction::Pause { server, ms } => sim(
                &mut self.cluster,
                Action::Pause {
                    server: *server,
                    ms: *ms,
                },
            ),
            StepAction::Connect {
                client,
                server,
                timeout_ms,
                hosts,
                ip,
            } => {
                let r = if hosts.is_empty() {
                    self.clients
                        .connect(&mut self.cluster, *server, *timeout_ms)
                } else {
                    self.clients.connect_with_hosts(
                        &mut self.cluster,
                        *server,
                        hosts.clone(),
                        *timeout_ms,
                    )
                };
                let text = match r {
                    Ok(id) => {
                        if let Some(ip) = ip {
                            self.clients
                                .add_auth(&mut self.cluster, id, &[Id::new("ip", ip)]);
                        }
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
            StepAction::AddAuth {
                client,
                scheme,
                auth,
            } => {
                let Some(id) = self.names.get(client).copied() else {
                    return Ok(());
                };
                let text = match authenticate(&AuthConfig::default(), scheme, auth.as_bytes(), "") {
                    Ok(ids) => {
                        self.clients.add_auth(&mut self.cluster, id, &ids);
                        "ok".to_string()
                    }
                    Err(code) => format!("{code:?}"),
                };
                self.last_result
                    .insert(client.clone(), LastResult::Text(text));
            }
            StepAction::Create(op) => {
                let acl = match &op.acl {
                    Some(a) => parse_acl(a).unwrap_or_default(),
                    None => open_acl_unsafe(),
                };
                let seq = (op.sequential as i32) << 1;
                let (path, data) = (op.path.clone(), Some(data_of(op)));
                let w = if op.container {
                    WriteOp::CreateContainer(CreateRequest {
                        path,
                        data,
                        acl,
                        flags: 4,
                    })
                } else if let Some(ttl) = op.ttl_ms {
                    WriteOp::CreateTtl(CreateTtlRequest {
                        path,
                        data,
                        acl,
                        flags: if op.sequential { 6 } else { 5 },
                        ttl,
                    })
                } else {
                    WriteOp::Create(CreateRequest {
                        path,
                        data,
                        acl,
                        flags: (op.ephemeral as i32) | seq,
                    })
                };
                self.write(op, w);
            }
            StepAction::SetAcl(op) => {
                let w = WriteOp::SetAcl(SetAclRequest {
                    path: op.path.clone(),
                    acl: op
                        .acl
                        .as_deref()
                        .map(|a| parse_acl(a).unwrap_or_default())
                        .unwrap_or_default(),
                    version: op.version.unwrap_or(-1),
                });
                self.write(op, w);
            }
            StepAction::GetAcl(op) => self.read(
                op,
                ReadRequest::GetAcl {
                    path: op.path.clone(),
                },
            ),
            StepAction::Sync(op) => self.sync(op),
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
        if request_frame_len(&w) > DEFAULT_MAX_BUFFER_BYTES as usize {
            // The server reads the frame's length first and closes a connection whose frame
            // is longer than jute.maxbuffer: the request never reaches ZAB.
            self.clients.connection_lost(
                &mut self.cluster,
                id,
                "the request frame is longer than jute.maxbuffer",
            );
            self.last_result.insert(
                op.client.clone(),
                LastResult::Text("ConnectionLoss".to_string()),
            );
            return;
        }
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

    fn sync(&mut self, op: &ClientOp) {
        let Some(id) = self.names.get(&op.client).copied() else {
            return;
        };
        *self.requests.entry(op.client.clone()).or_default() += 1;
        let Some(tag) = self.clients.sync(&mut self.cluster, id) else {
            self.last_result.insert(
                op.client.clone(),
                LastResult::Text("ConnectionLoss".to_string()),
            );
            return;
        };
        self.last_result
            .insert(op.client.clone(), LastResult::Tag(tag));
        self.scan();
        let limit = self.cluster.now() + WRITE_WAIT_MS;
        self.run_while(limit, |r| {
            matches!(r.cluster.request(tag), Some(ClientResult::Pending))
        });
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
            Ok(ReadResponse::GetAcl { acl, .. }) => {
                let v: Vec<String> = acl.iter().map(format_acl).collect();
                self.read_data.insert(op.client.clone(), v.join(","));
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
    match op.data_bytes {
        Some(n) => alloc::vec![b'x'; n],
        None => op.data.clone().unwrap_or_default().into_bytes(),
    }
}

/// Permission letters in ZooKeeper's order (`ZKUtil.getPermString`: c d r w a).
const PERM_LETTERS: [(char, i32); 5] = [
    ('c', perms::CREATE),
    ('d', perms::DELETE),
    ('r', perms::READ),
    ('w', perms::WRITE),
    ('a', perms::ADMIN),
];

/// `scheme:id:perms` entries (the id may itself contain `:`, as digest ids do).
pub(crate) fn parse_acl(entries: &[String]) -> Result<Vec<Acl>, String> {
    entries
        .iter()
        .map(|e| {
            let (rest, letters) = e
                .rsplit_once(':')
                .ok_or_else(|| format!("ACL entry {e:?} is not scheme:id:perms"))?;
            let (scheme, id) = rest
                .split_once(':')
                .ok_or_else(|| format!("ACL entry {e:?} is not scheme:id:perms"))?;
            let mut bits = 0;
            for ch in letters.chars() {
                let (_, b) = PERM_LETTERS
                    .iter()
                    .find(|(l, _)| *l == ch)
                    .ok_or_else(|| format!("ACL entry {e:?}: unknown permission {ch:?}"))?;
                bits |= b;
            }
            Ok(Acl::new(bits, scheme, id))
        })
        .collect()
}

/// An ACL entry as `scheme:id:perms` (perms in c d r w a order).
pub(crate) fn format_acl(a: &Acl) -> String {
    let letters: String = PERM_LETTERS
        .iter()
        .filter(|(_, b)| a.perms & b != 0)
        .map(|(l, _)| *l)
        .collect();
    format!("{}:{}:{}", a.id.scheme, a.id.id, letters)
}

/// The length of a write's request frame as the server reads it (RequestHeader, then the
/// jute record): what `jute.maxbuffer` limits.
fn request_frame_len(w: &WriteOp) -> usize {
    let buf = |d: &Option<Vec<u8>>| 4 + d.as_ref().map_or(0, |d| d.len());
    let string = |s: &str| 4 + s.len();
    let acl = |a: &[Acl]| {
        4 + a
            .iter()
            .map(|e| 4 + string(&e.id.scheme) + string(&e.id.id))
            .sum::<usize>()
    };
    8 + match w {
        WriteOp::Create(r) | WriteOp::Create2(r) | WriteOp::CreateContainer(r) => {
            string(&r.path) + buf(&r.data) + acl(&r.acl) + 4
        }
        WriteOp::CreateTtl(r) => string(&r.path) + buf(&r.data) + acl(&r.acl) + 4 + 8,
        WriteOp::SetData(r) => string(&r.path) + buf(&r.data) + 4,
        _ => 0,
    }
}

/// A short summary of a transaction, e.g. `create /z0000000003` (the final path prep chose),
/// `createSession` or `error NoNode (-101)` (an ErrorTxn).
pub(crate) fn describe_txn(txn: &Txn) -> String {
    match &txn.body {
        TxnBody::Create(r) => format!("create {}", r.path),
        TxnBody::CreateTtl(r) => format!("create {}", r.path),
        TxnBody::CreateContainer(r) => format!("create {}", r.path),
        TxnBody::Delete(r) if txn.txn_type == crate::tree::op_code::DELETE_CONTAINER => {
            format!("deleteContainer {}", r.path)
        }
        TxnBody::Delete(r) => format!("delete {}", r.path),
        TxnBody::SetData(r) => format!("setData {}", r.path),
        TxnBody::SetAcl(r) => format!("setACL {}", r.path),
        TxnBody::CheckVersion(r) => format!("check {}", r.path),
        TxnBody::Multi(m) => format!("multi ({} ops)", m.txns.len()),
        TxnBody::CreateSession(_) => "createSession".to_string(),
        TxnBody::CloseSession(_) => "closeSession".to_string(),
        TxnBody::Error(e) => format!("error {}", e.err),
    }
}

/// A short summary of a client's request, e.g. `create /z` or `createSession`.
pub(crate) fn describe_request(request: &Request) -> String {
    match &request.op {
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
pub(crate) fn describe(msg: &Message<Txn, crate::tree::TreeSnapshot, Request>) -> String {
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
            crate::message::Forwarded::Write(t) => describe_request(t),
            crate::message::Forwarded::Sync => "sync".to_string(),
            crate::message::Forwarded::Reconfig(_) => "reconfig".to_string(),
        },
        Message::UpToDate | Message::Sync { .. } => String::new(),
        Message::Config { version, members } => {
            let voters: alloc::vec::Vec<_> = members.voters().collect();
            format!("version {version} voters {voters:?}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_entries_parse_with_colons_in_the_id_and_print_in_cdrwa_order() {
        let acl = parse_acl(&[
            "digest:alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=:rc".into(),
            "world:anyone:adrwc".into(),
        ])
        .unwrap();
        assert_eq!(acl[0].id.id, "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=");
        assert_eq!(acl[0].perms, perms::READ | perms::CREATE);
        assert_eq!(
            format_acl(&acl[0]),
            "digest:alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=:cr"
        );
        assert_eq!(format_acl(&acl[1]), "world:anyone:cdrwa");
        assert!(parse_acl(&["world:anyone:x".into()]).is_err());
        assert!(parse_acl(&["world".into()]).is_err());
    }

    #[test]
    fn a_frame_longer_than_jute_maxbuffer_is_the_data_plus_its_framing() {
        let set = |n: usize| {
            WriteOp::SetData(SetDataRequest {
                path: "/app".into(),
                data: Some(alloc::vec![b'x'; n]),
                version: -1,
            })
        };
        // RequestHeader 8, path 4+4, data 4+n, version 4.
        assert_eq!(request_frame_len(&set(10)), 34);
        let max = DEFAULT_MAX_BUFFER_BYTES as usize;
        assert!(request_frame_len(&set(max - 24)) <= max);
        assert!(request_frame_len(&set(max - 23)) > max);
    }
}
