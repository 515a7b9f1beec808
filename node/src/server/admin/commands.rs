//! The AdminServer's commands with ZooKeeper 3.8's names, aliases and JSON fields
//! (`Commands.java`; Jackson writes the Java beans' fields in snake_case). ZooKeeper's `hash`,
//! `observers`, `observer_connection_stat_reset` and `system_properties` are not offered:
//! ZabLab keeps no digest log nor per-observer connection statistics, and has no Java system
//! properties.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use serde_json::{json, Map, Value};
use zablab_core::message::PeerState;

use super::Command;
use crate::server::connections::ConnInfo;
use crate::server::fourlw;
use crate::server::http::Request;
use crate::server::sessions::Inspection;
use crate::server::shared::Shared;
use crate::server::shared::{mode, VERSION};

const fn cmd(names: &'static [&'static str], server_required: bool) -> Command {
    Command {
        names,
        server_required,
    }
}

/// Every command, primary name first.
pub const COMMANDS: &[Command] = &[
    cmd(&["connection_stat_reset", "crst"], true),
    cmd(&["configuration", "conf", "config"], true),
    cmd(&["connections", "cons"], true),
    cmd(&["dirs"], true),
    cmd(&["dump"], true),
    cmd(&["environment", "env", "envi"], false),
    cmd(&["get_trace_mask", "gtmk"], false),
    cmd(&["initial_configuration", "icfg"], true),
    cmd(&["is_read_only", "isro"], true),
    cmd(&["last_snapshot", "lsnp"], true),
    cmd(&["leader", "lead"], true),
    cmd(&["monitor", "mntr"], false),
    cmd(&["ruok"], true),
    cmd(&["set_trace_mask", "stmk"], false),
    cmd(&["server_stats", "srvr"], true),
    cmd(&["stats", "stat"], true),
    cmd(&["stat_reset", "srst"], true),
    cmd(&["voting_view"], true),
    cmd(&["watches", "wchc"], true),
    cmd(&["watches_by_path", "wchp"], true),
    cmd(&["watch_summary", "wchs"], true),
    cmd(&["zabstate"], false),
];

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// `ServerCnxn.getConnectionInfo(brief)`.
fn connection_info(c: &ConnInfo, brief: bool) -> Value {
    let mut m = obj(json!({
        "remote_socket_address": c.remote.to_string(),
        "interest_ops": c.interest_ops,
        "outstanding_requests": c.queued,
        "packets_received": c.recved,
        "packets_sent": c.sent,
    }));
    if !brief {
        m.extend(obj(json!({
            "session_id": c.session_id,
            "last_operation": c.last_op,
            "established": c.established_ms,
            "session_timeout": c.timeout_ms,
            "last_cxid": c.last_cxid,
            "last_zxid": c.last_zxid,
            "last_response_time": c.last_response_ms,
            "last_latency": c.latency.last_ms,
            "min_latency": c.latency.min(),
            "avg_latency": c.latency.avg() as u64,
            "max_latency": c.latency.max_ms,
        })));
    }
    Value::Object(m)
}

fn buffer_stats((last, min, max): (i64, i64, i64)) -> Value {
    json!({"last_buffer_size": last, "min_buffer_size": min, "max_buffer_size": max})
}

/// `srvr` / `stats`: the `ServerStats` bean and the node count.
fn server_stats(shared: &Shared) -> Map<String, Value> {
    let s = shared.status();
    let cfg = &shared.config;
    let l = shared.server_stats.latency();
    let responses = buffer_stats(shared.server_stats.response_sizes.get());
    let infos = shared.connections.infos();
    let rel = Ordering::Relaxed;
    let stats = json!({
        "packets_sent": shared.packets_sent.load(rel),
        "packets_received": shared.packets_received.load(rel),
        "fsync_threshold_exceed_count": shared.metrics.fsync_threshold_exceed_count.load(rel),
        "client_response_stats": responses.clone(),
        "data_dir_size": fourlw::dir_size(&cfg.data_dir.join("version-2")),
        "log_dir_size": fourlw::dir_size(&cfg.data_log_dir.join("version-2")),
        "provider_null": false,
        "server_state": mode(cfg, &s),
        "last_processed_zxid": s.last_zxid.0,
        "outstanding_requests": fourlw::outstanding(&infos),
        "avg_latency": l.avg(),
        "max_latency": l.max_ms,
        "min_latency": l.min(),
        "num_alive_client_connections": shared.connections.total(),
        "uptime": shared.uptime_ms(),
    });
    let mut m = obj(json!({
        "version": VERSION,
        "read_only": s.read_only,
        "server_stats": stats,
        "client_response": responses,
        "node_count": s.node_count,
    }));
    if s.state == PeerState::Leading && !cfg.is_standalone() {
        m.insert(
            "proposal_stats".into(),
            buffer_stats(shared.metrics.proposal_sizes.get()),
        );
    }
    m
}

/// The newest `snapshot.<hex zxid>` in the data directory: (zxid, mtime in seconds).
fn last_snapshot(shared: &Shared) -> Option<(u64, u64)> {
    let dir = shared.config.data_dir.join("version-2");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            let zxid = u64::from_str_radix(name.strip_prefix("snapshot.")?, 16).ok()?;
            let secs = e
                .metadata()
                .ok()?
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs();
            Some((zxid, secs))
        })
        .max()
}

fn watches_by_session(i: &Inspection) -> Value {
    let m: Map<String, Value> = i
        .watches
        .iter()
        .map(|(sid, paths)| (sid.to_string(), json!(paths)))
        .collect();
    Value::Object(m)
}

fn watches_by_path(i: &Inspection) -> Value {
    let mut by_path: BTreeMap<&String, Vec<i64>> = BTreeMap::new();
    for (sid, paths) in &i.watches {
        for p in paths {
            by_path.entry(p).or_default().push(*sid);
        }
    }
    json!(by_path)
}

/// The fields of command `primary` (its `command` and `error` are added by the caller).
pub async fn run(shared: &Shared, primary: &str, req: &Request) -> Map<String, Value> {
    let cfg = &shared.config;
    let s = shared.status();
    let inspection = if matches!(
        primary,
        "dump" | "watches" | "watches_by_path" | "watch_summary"
    ) {
        crate::server::client::inspect(shared).await
    } else {
        None
    };
    let no_inspection =
        || obj(json!({"error": "the server did not answer in time (it is busy or stopping)"}));
    match primary {
        "ruok" | "connection_stat_reset" | "stat_reset" => {
            match primary {
                "connection_stat_reset" => shared.connections.reset_stats(),
                "stat_reset" => fourlw::reset_server_stats(shared),
                _ => {}
            }
            Map::new()
        }
        "configuration" => obj(json!({
            "client_port": cfg.client_port,
            "data_dir": cfg.data_dir.join("version-2").display().to_string(),
            "data_log_dir": cfg.data_log_dir.join("version-2").display().to_string(),
            "tick_time": cfg.tick_time_ms,
            "max_client_cnxns": cfg.max_client_cnxns,
            "min_session_timeout": cfg.min_session_timeout_ms,
            "max_session_timeout": cfg.max_session_timeout_ms,
            "server_id": if cfg.is_standalone() { 0 } else { cfg.myid },
            "client_port_listen_backlog": -1,
        })),
        "connections" | "stats" => {
            let brief = primary == "stats";
            let conns: Vec<Value> = shared
                .connections
                .infos()
                .iter()
                .map(|c| connection_info(c, brief))
                .collect();
            let mut m = if brief {
                server_stats(shared)
            } else {
                Map::new()
            };
            m.insert("connections".into(), Value::Array(conns));
            m.insert("secure_connections".into(), json!([]));
            m
        }
        "server_stats" => server_stats(shared),
        "dirs" => obj(json!({
            "datadir_size": fourlw::dir_size(&cfg.data_dir.join("version-2")),
            "logdir_size": fourlw::dir_size(&cfg.data_log_dir.join("version-2")),
        })),
        "dump" => {
            let Some(i) = inspection else {
                return no_inspection();
            };
            let buckets: Map<String, Value> = i
                .buckets
                .iter()
                .map(|(at, ids)| (at.to_string(), json!(ids)))
                .collect();
            let ephemerals: Map<String, Value> = i
                .ephemerals
                .iter()
                .map(|(sid, paths)| (sid.to_string(), json!(paths)))
                .collect();
            obj(json!({
                "expiry_time_to_session_ids": buckets,
                "session_id_to_ephemeral_paths": ephemerals,
            }))
        }
        "environment" => fourlw::environment(cfg)
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect(),
        "get_trace_mask" => obj(json!({"tracemask": shared.trace_mask.load(Ordering::Relaxed)})),
        "set_trace_mask" => match req.param("traceMask") {
            None => obj(json!({"error": "setTraceMask requires long traceMask argument"})),
            Some(v) => match v.parse::<i64>() {
                Ok(mask) => {
                    shared.trace_mask.store(mask as u64, Ordering::Relaxed);
                    obj(json!({"tracemask": mask}))
                }
                Err(_) => obj(json!({
                    "error": format!("setTraceMask requires long traceMask argument, got {v}")
                })),
            },
        },
        "initial_configuration" => obj(json!({"initial_configuration": cfg.initial_text})),
        "is_read_only" => obj(json!({"read_only": shared.status().read_only})),
        "last_snapshot" => {
            let (zxid, ts) = last_snapshot(shared).map_or((-1i64, -1i64), |(z, t)| {
                (z as i64, i64::try_from(t).unwrap_or(i64::MAX))
            });
            // Long.toHexString: -1 prints as ffffffffffffffff.
            obj(json!({"zxid": format!("{:x}", zxid as u64), "timestamp": ts}))
        }
        "leader" => {
            if cfg.is_standalone() {
                return obj(json!({"error": "server is not initialized"}));
            }
            let leader_ip = s
                .leader
                .and_then(|l| cfg.servers.get(&l))
                .map(|e| e.host.clone())
                .unwrap_or_default();
            obj(json!({
                "is_leader": s.state == PeerState::Leading,
                "leader_id": s.leader.map_or(-1, |l| i64::try_from(l).unwrap_or(-1)),
                "leader_ip": leader_ip,
            }))
        }
        "monitor" => crate::server::monitor::monitor_values(shared)
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    crate::server::monitor::MonitorValue::Str(s) => json!(s),
                    crate::server::monitor::MonitorValue::Int(i) => json!(i),
                    crate::server::monitor::MonitorValue::Float(f) => json!(f),
                };
                (k, v)
            })
            .collect(),
        "voting_view" => {
            let voters: Map<String, Value> = cfg
                .servers
                .values()
                .filter(|e| e.learner_type == zablab_core::config::LearnerType::Participant)
                .map(|e| {
                    let client = e
                        .client
                        .as_ref()
                        .map(|(h, p)| format!("{h}:{p}"))
                        .unwrap_or_default();
                    let view = json!({
                        "server_addresses": [e.quorum_addr()],
                        "election_addresses": [e.election_addr()],
                        "client_address": client,
                        "learner_type": "participant",
                    });
                    (e.sid.to_string(), view)
                })
                .collect();
            obj(json!({"current_config": voters}))
        }
        "watches" => match inspection {
            Some(i) => obj(json!({"session_id_to_watched_paths": watches_by_session(&i)})),
            None => no_inspection(),
        },
        "watches_by_path" => match inspection {
            Some(i) => obj(json!({"path_to_session_ids": watches_by_path(&i)})),
            None => no_inspection(),
        },
        "watch_summary" => match inspection {
            Some(i) => {
                let paths: std::collections::BTreeSet<&String> =
                    i.watches.iter().flat_map(|(_, p)| p.iter()).collect();
                let total: usize = i.watches.iter().map(|(_, p)| p.len()).sum();
                obj(json!({
                    "num_connections": i.watches.len(),
                    "num_paths": paths.len(),
                    "num_total_watches": total,
                }))
            }
            None => no_inspection(),
        },
        "zabstate" => {
            let Some(me) = cfg.me() else {
                return obj(json!({"voting": false, "zabstate": ""}));
            };
            let zxid = s.last_zxid.0;
            let phase = match s.phase {
                zablab_core::trace::ZabPhase::Election => "election",
                zablab_core::trace::ZabPhase::Discovery => "discovery",
                zablab_core::trace::ZabPhase::Synchronization => "synchronization",
                zablab_core::trace::ZabPhase::Broadcast => "broadcast",
            };
            let client = format!("{}:{}", cfg.client_port_address, cfg.client_port);
            obj(json!({
                "myid": cfg.myid,
                "is_leader": s.state == PeerState::Leading,
                "quorum_address": me.quorum_addr(),
                "election_address": me.election_addr(),
                "client_address": client,
                "voting": me.learner_type == zablab_core::config::LearnerType::Participant,
                "last_zxid": format!("0x{zxid:x}"),
                "zab_epoch": zxid >> 32,
                "zab_counter": zxid & 0xffff_ffff,
                "zabstate": phase,
            }))
        }
        _ => obj(json!({"error": format!("{primary} is not implemented by ZabLab")})),
    }
}
