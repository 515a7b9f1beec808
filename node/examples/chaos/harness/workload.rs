//! The clients: concurrent ZooKeeper sessions (zablab's own async client over the wire
//! protocol) doing, on registers `/chaos/g<generation>/r<k>`:
//! * **read**: `sync(path)` then `getData(path)`;
//! * **write**: `setData(path, v, -1)` with a value never written before;
//! * **cas**: `setData(path, v, version)` with the version of this client's last read of the key;
//!
//! and **creates** of `/chaos/g<generation>/c-` (persistent sequential) with a unique request
//! id as data.
//!
//! Keys rotate: every `keys × ops_per_key` operations the clients move to a new generation of
//! `keys` fresh registers (each client first creates `/chaos/g<n>` and its registers with data
//! `0`, `NodeExists` being fine), so each key's history stays small enough for an exhaustive
//! linearizability search (as `jepsen.independent` does for Knossos), and no parent gets so
//! many children that a getChildren reply passes the 1 MiB frame limit.
//!
//! Outcomes follow Jepsen: a write, CAS or create that times out or loses its connection is
//! `info` (it may still happen) and the client goes on as a new process; a CAS answered
//! BadVersion is `fail`; a read that does not answer is `fail` (reads change nothing).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{timeout, Instant};
use zablab_core::tree::{Acl, CreateMode, ErrorCode};
use zablab_node::tools::zkclient::{ConnectOptions, ZkClient, ZkError};

use super::history::{History, Kind, Op, RegOp};
use super::Rng;

#[derive(Clone, Debug)]
pub struct WorkloadOptions {
    pub keys: u64,
    pub ops_per_key: u64,
    pub op_timeout: Duration,
    pub session_timeout_ms: i32,
    /// Percent of ops that are sequential creates.
    pub create_percent: u64,
}

/// Counters shared by the clients.
pub struct Shared {
    pub history: History,
    next_process: AtomicU64,
    next_value: AtomicU64,
    next_create: AtomicU64,
    ops_started: AtomicU64,
}

impl Shared {
    pub fn new(clients: u64) -> Shared {
        Shared {
            history: History::new(),
            next_process: AtomicU64::new(clients),
            next_value: AtomicU64::new(1),
            next_create: AtomicU64::new(1),
            ops_started: AtomicU64::new(0),
        }
    }
}

pub fn open_acl() -> Vec<Acl> {
    vec![Acl::new(31, "world", "anyone")]
}

/// The parent of the registers and sequential nodes of one generation.
pub fn gen_path(gen: u64) -> String {
    format!("/chaos/g{gen}")
}

/// Register `key` (generation `key / keys`, index `key % keys`).
pub fn reg_path(key: u64, keys: u64) -> String {
    format!("{}/r{}", gen_path(key / keys), key % keys)
}

/// Opens a session on `hosts` (tried in the given order), bounded by `limit`.
pub async fn connect(
    hosts: &[String],
    session_timeout_ms: i32,
    limit: Duration,
) -> Option<ZkClient> {
    let mut o = ConnectOptions::new(&hosts.join(","));
    o.session_timeout_ms = session_timeout_ms;
    o.connect_timeout = Duration::from_secs(2);
    match timeout(limit, ZkClient::connect(o)).await {
        Ok(Ok((c, _events))) => Some(c),
        _ => None,
    }
}

/// True for errors after which the session is gone and a new one is needed.
fn session_gone(e: &ZkError) -> bool {
    matches!(
        e,
        ZkError::SessionExpired | ZkError::Closed | ZkError::Code(ErrorCode::SessionExpired)
    )
}

fn parse(data: Option<Vec<u8>>) -> Option<u64> {
    std::str::from_utf8(&data?).ok()?.parse().ok()
}

/// One client until `until`.
pub async fn client(
    index: u64,
    shared: Arc<Shared>,
    hosts: Vec<String>,
    until: Instant,
    mut rng: Rng,
    o: WorkloadOptions,
) {
    let mut process = index;
    let mut zk: Option<ZkClient> = None;
    let mut ensured_gen: Option<u64> = None;
    // key -> (value, version) of this client's last read (or successful CAS).
    let mut last: BTreeMap<u64, (u64, i32)> = BTreeMap::new();
    let h = &shared.history;
    let new_process = |p: &mut u64| *p = shared.next_process.fetch_add(1, Ordering::SeqCst);
    while Instant::now() < until {
        let Some(c) = zk.clone() else {
            let mut order = hosts.clone();
            rng.shuffle(&mut order);
            zk = connect(&order, o.session_timeout_ms, Duration::from_secs(5)).await;
            if zk.is_none() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            continue;
        };
        let gen = shared.ops_started.load(Ordering::SeqCst) / (o.keys * o.ops_per_key);
        if ensured_gen != Some(gen) {
            let mut all = true;
            let paths = std::iter::once((gen_path(gen), None))
                .chain((0..o.keys).map(|k| (reg_path(gen * o.keys + k, o.keys), Some(&b"0"[..]))));
            for (path, data) in paths {
                let r = timeout(
                    o.op_timeout,
                    c.create(&path, data, &open_acl(), CreateMode::Persistent),
                )
                .await;
                match r {
                    Ok(Ok(_)) | Ok(Err(ZkError::Code(ErrorCode::NodeExists))) => {}
                    Ok(Err(e)) => {
                        if session_gone(&e) {
                            zk = None;
                        }
                        all = false;
                        break;
                    }
                    Err(_) => {
                        all = false;
                        break;
                    }
                }
            }
            if all {
                ensured_gen = Some(gen);
                last.clear();
            } else {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            continue;
        }
        shared.ops_started.fetch_add(1, Ordering::SeqCst);
        if rng.below(100) < o.create_percent {
            let id = shared.next_create.fetch_add(1, Ordering::SeqCst);
            h.record(process, Kind::Invoke, Op::Create { id, path: None });
            let data = id.to_string();
            let r = timeout(
                o.op_timeout,
                c.create(
                    &format!("{}/c-", gen_path(gen)),
                    Some(data.as_bytes()),
                    &open_acl(),
                    CreateMode::PersistentSequential,
                ),
            )
            .await;
            match r {
                Ok(Ok(path)) => h.record(
                    process,
                    Kind::Ok,
                    Op::Create {
                        id,
                        path: Some(path),
                    },
                ),
                other => {
                    if let Ok(Err(e)) = &other {
                        if session_gone(e) {
                            zk = None;
                        }
                    }
                    h.record(process, Kind::Info, Op::Create { id, path: None });
                    new_process(&mut process);
                }
            }
            continue;
        }
        let key = gen * o.keys + rng.below(o.keys);
        let path = reg_path(key, o.keys);
        let dice = rng.below(100);
        let op = match last.get(&key) {
            Some(&(old, _)) if dice >= 70 => RegOp::Cas {
                old,
                new: shared.next_value.fetch_add(1, Ordering::SeqCst),
            },
            _ if dice >= 40 => RegOp::Write(shared.next_value.fetch_add(1, Ordering::SeqCst)),
            _ => RegOp::Read,
        };
        let reg = |read| Op::Register { key, op, read };
        h.record(process, Kind::Invoke, reg(None));
        match op {
            RegOp::Read => {
                let r = timeout(o.op_timeout, async {
                    c.sync(&path).await?;
                    c.get_data(&path, false).await
                })
                .await;
                match r {
                    Ok(Ok((data, stat))) => match parse(data) {
                        Some(v) => {
                            h.record(process, Kind::Ok, reg(Some(v)));
                            last.insert(key, (v, stat.version));
                        }
                        None => {
                            // Not a number: recorded as read of u64::MAX, which no write wrote.
                            h.record(process, Kind::Ok, reg(Some(u64::MAX)));
                        }
                    },
                    other => {
                        if let Ok(Err(e)) = &other {
                            if session_gone(e) {
                                zk = None;
                            }
                        }
                        h.record(process, Kind::Fail, reg(None));
                    }
                }
            }
            RegOp::Write(v) | RegOp::Cas { new: v, .. } => {
                let version = match op {
                    RegOp::Cas { .. } => last.get(&key).map_or(-1, |l| l.1),
                    _ => -1,
                };
                let data = v.to_string();
                let r = timeout(
                    o.op_timeout,
                    c.set_data(&path, Some(data.as_bytes()), version),
                )
                .await;
                match r {
                    Ok(Ok(stat)) => {
                        h.record(process, Kind::Ok, reg(None));
                        last.insert(key, (v, stat.version));
                    }
                    Ok(Err(ZkError::Code(ErrorCode::BadVersion))) if version >= 0 => {
                        h.record(process, Kind::Fail, reg(None));
                        last.remove(&key);
                    }
                    other => {
                        if let Ok(Err(e)) = &other {
                            if session_gone(e) {
                                zk = None;
                            }
                        }
                        h.record(process, Kind::Info, reg(None));
                        last.remove(&key);
                        new_process(&mut process);
                    }
                }
            }
        }
    }
    if let Some(c) = zk {
        let _ = timeout(Duration::from_secs(2), c.close()).await;
    }
}
