//! The AdminServer's JSON and the metric names side by side with Apache ZooKeeper 3.8
//! (Debian's `zookeeper` package, its Jetty AdminServer): a standalone ZooKeeper and a
//! standalone `zablab server` get the same client activity, then every command ZabLab offers
//! is asked of both and the JSON keys compared; every Prometheus family ZabLab serves must be a
//! metric ZooKeeper's `monitor` reports. Skips when Java or the jars are missing, unless
//! ZABLAB_REQUIRE_CLIENTS=1.

mod common;
mod realclients;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use zablab_core::tree::acl::open_acl_unsafe;
use zablab_core::tree::CreateMode;
use zablab_node::tools::zkclient::{ConnectOptions, ZkClient};

/// ZooKeeper's jars, and the servlet API its Jetty AdminServer needs (Debian's `zookeeper.jar`
/// names Jetty and Jackson in its manifest, not the servlet API).
const JARS: [&str; 5] = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/slf4j-api.jar",
    "/usr/share/java/slf4j-simple.jar",
    "/usr/share/java/servlet-api.jar",
];

/// Commands of ZooKeeper 3.8 that ZabLab does not offer (see `node/src/server/admin/commands.rs`).
const NOT_OFFERED: [&str; 4] = [
    "hash",
    "observer_connection_stat_reset",
    "observers",
    "system_properties",
];

/// `ServerStats` fields ZabLab leaves out: it has no TLS and counts no auth failures.
const SERVER_STATS_LEFT_OUT: [&str; 3] = [
    "auth_failed_count",
    "non_mtlslocal_conn_count",
    "non_mtlsremote_conn_count",
];

/// `mntr` / `monitor` keys of ZabLab's own.
const ZABLAB_ONLY: [&str; 5] = [
    "accepted_epoch",
    "current_epoch",
    "fsync_count",
    "last_zxid",
    "trunc_count",
];

/// A server process killed (by its PID) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A standalone server's addresses.
struct Standalone {
    _proc: Proc,
    client: String,
    admin: String,
}

fn write_cfg(dir: &Path, client: u16, admin: u16, extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("data")).expect("dir");
    let cfg = dir.join("zoo.cfg");
    let text = format!(
        "tickTime=2000\ndataDir={}\nclientPort={client}\nclientPortAddress=127.0.0.1\n\
         maxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=true\n\
         admin.serverAddress=127.0.0.1\nadmin.serverPort={admin}\n{extra}",
        dir.join("data").display()
    );
    std::fs::write(&cfg, text).expect("cfg");
    cfg
}

fn wait_serving(s: &Standalone, log: &Path) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(40) {
        let serving = mode(&s.client).as_deref() == Some("standalone");
        let admin = http_get(&s.admin, "/commands/ruok").is_some_and(|r| r.0 == 200);
        if serving && admin {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(log).unwrap_or_default();
    panic!("{} did not start:\n{log}", s.client);
}

fn start_zookeeper(dir: &Path) -> Standalone {
    let (client, admin) = (free_port(), free_port());
    let cfg = write_cfg(dir, client, admin, "");
    let log = dir.join("zk.log");
    let out = std::fs::File::create(&log).expect("log");
    let child = Command::new("java")
        .arg("-cp")
        .arg(JARS.join(":"))
        .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .expect("start java");
    let s = Standalone {
        _proc: Proc(child),
        client: format!("127.0.0.1:{client}"),
        admin: format!("127.0.0.1:{admin}"),
    };
    wait_serving(&s, &log);
    s
}

fn start_zablab(dir: &Path) -> (Standalone, String) {
    let (client, admin, metrics) = (free_port(), free_port(), free_port());
    let extra = format!(
        "metricsProvider.className={}\nmetricsProvider.httpHost=127.0.0.1\n\
         metricsProvider.httpPort={metrics}\n",
        zablab_node::config::PROMETHEUS_PROVIDER_CLASS
    );
    let cfg = write_cfg(dir, client, admin, &extra);
    let log = dir.join("zablab.log");
    let out = std::fs::File::create(&log).expect("log");
    let child = Command::new(BIN)
        .arg("server")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .expect("start zablab");
    let s = Standalone {
        _proc: Proc(child),
        client: format!("127.0.0.1:{client}"),
        admin: format!("127.0.0.1:{admin}"),
    };
    wait_serving(&s, &log);
    (s, format!("127.0.0.1:{metrics}"))
}

/// The same client activity on both: a watched node, a watch on a missing node, an ephemeral.
/// The client stays connected (its session shows in `connections` and `dump`).
async fn activity(addr: &str) -> ZkClient {
    let mut o = ConnectOptions::new(addr);
    o.session_timeout_ms = 10_000;
    let (c, _events) = ZkClient::connect(o).await.expect("connects");
    let acl = open_acl_unsafe();
    c.create("/w", Some(b"x"), &acl, CreateMode::Persistent)
        .await
        .expect("create");
    c.create("/eph", None, &acl, CreateMode::Ephemeral)
        .await
        .expect("create");
    c.get_data("/w", true).await.expect("getData");
    assert!(c.exists("/missing", true).await.expect("exists").is_none());
    c
}

fn json(addr: &str, command: &str) -> serde_json::Value {
    let (status, body) = http_get(addr, &format!("/commands/{command}")).expect("answer");
    assert_eq!(status, 200, "{addr} {command}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{addr} {command}: {e}: {body}"))
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// A JSON value's kind: what a client parsing the answer relies on.
fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// The keys both answers have must hold values of the same kind, one level down too.
fn same_kinds(command: &str, t: &serde_json::Value, o: &serde_json::Value) {
    let (Some(tm), Some(om)) = (t.as_object(), o.as_object()) else {
        return;
    };
    for (k, tv) in tm {
        let Some(ov) = om.get(k) else { continue };
        if k == "error" {
            continue; // null or a message: compared by the caller
        }
        assert_eq!(kind(tv), kind(ov), "{command}: {k}: {tv} vs {ov}");
        if tv.is_object() && !k.contains("session") && !k.contains("path") && k != "current_config"
        {
            same_kinds(&format!("{command}.{k}"), tv, ov);
        }
    }
}

fn listed(addr: &str) -> BTreeSet<String> {
    let (_, page) = http_get(addr, "/commands").expect("the command list");
    page.split("<a href=\"/commands/")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn admin_json_and_metric_names_match_apache_zookeeper() {
    let present = JARS.iter().all(|j| Path::new(j).exists())
        && Command::new("java").arg("-version").output().is_ok();
    if !realclients::available(
        "Apache ZooKeeper 3.8 with its AdminServer (java, zookeeper.jar, servlet-api.jar)",
        present,
        "apt-get install -y zookeeper",
    ) {
        return;
    }
    let dir = TempDir::new("admincmp");
    let zk = start_zookeeper(&dir.0.join("zk"));
    let (z, metrics_addr) = start_zablab(&dir.0.join("zablab"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let theirs_client = rt.block_on(activity(&zk.client));
    let ours_client = rt.block_on(activity(&z.client));

    // The command lists: ZabLab's are ZooKeeper's but the four it does not offer.
    let (theirs, ours) = (listed(&zk.admin), listed(&z.admin));
    let missing: BTreeSet<String> = theirs.difference(&ours).cloned().collect();
    let not_offered: BTreeSet<String> = NOT_OFFERED.iter().map(|s| s.to_string()).collect();
    assert_eq!(missing, not_offered, "ZooKeeper lists {theirs:?}");
    assert!(
        ours.is_subset(&theirs),
        "ZabLab lists extra commands: {ours:?}"
    );

    for command in &ours {
        let (t, o) = (json(&zk.admin, command), json(&z.admin, command));
        eprintln!("--- {command}\nZooKeeper: {t}\nZabLab:    {o}");
        assert_eq!(t["command"], o["command"], "{command}");
        assert_eq!(
            t["error"].is_null(),
            o["error"].is_null(),
            "{command}: error {} vs {}",
            t["error"],
            o["error"]
        );
        same_kinds(command, &t, &o);
        let (tk, ok) = (keys(&t), keys(&o));
        match command.as_str() {
            // ZooKeeper prints the JVM's figures; ZabLab has its own and no JVM.
            "environment" => {
                let extra: Vec<&String> =
                    ok.difference(&tk).filter(|k| *k != "zablab.myid").collect();
                assert!(
                    extra.is_empty(),
                    "environment: {extra:?} not in ZooKeeper's"
                );
            }
            "monitor" => {
                let extra: Vec<&String> = ok
                    .difference(&tk)
                    .filter(|k| !ZABLAB_ONLY.contains(&k.as_str()))
                    .collect();
                assert!(extra.is_empty(), "monitor: {extra:?} not in ZooKeeper's");
                let left_out: Vec<&String> = tk.difference(&ok).collect();
                eprintln!(
                    "monitor: ZooKeeper keys ZabLab does not report: {}",
                    left_out.len()
                );
            }
            "server_stats" | "stats" => {
                assert_eq!(tk, ok, "{command}");
                let (ts, os) = (keys(&t["server_stats"]), keys(&o["server_stats"]));
                let left_out: BTreeSet<String> = ts.difference(&os).cloned().collect();
                let want: BTreeSet<String> = SERVER_STATS_LEFT_OUT
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                assert_eq!(left_out, want, "{command}: server_stats");
                assert!(os.is_subset(&ts), "{command}: {os:?}");
                assert_eq!(
                    keys(&t["client_response"]),
                    keys(&o["client_response"]),
                    "{command}"
                );
            }
            _ => assert_eq!(tk, ok, "{command}: top-level keys"),
        }
    }
    // A connection's fields, for the session each client holds.
    let conn = |addr: &str, sid: i64| {
        json(addr, "connections")["connections"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["session_id"] == sid).cloned())
            .unwrap_or_else(|| panic!("session {sid:x} in {addr}'s connections"))
    };
    let (tc, oc) = (
        conn(&zk.admin, theirs_client.session_id()),
        conn(&z.admin, ours_client.session_id()),
    );
    assert_eq!(keys(&tc), keys(&oc));
    same_kinds("connections[]", &tc, &oc);
    // The same watches and ephemerals, keyed the same way (decimal session ids).
    let t = json(&zk.admin, "watches_by_path")["path_to_session_ids"].clone();
    let o = json(&z.admin, "watches_by_path")["path_to_session_ids"].clone();
    assert_eq!(keys(&t), keys(&o), "the watched paths");
    assert_eq!(
        json(&z.admin, "dump")["session_id_to_ephemeral_paths"]
            [ours_client.session_id().to_string()],
        serde_json::json!(["/eph"])
    );

    // Every Prometheus family ZabLab serves is a metric ZooKeeper reports (a summary `x` as
    // ZooKeeper's `avg_x`, `cnt_x`, ...), but ZabLab's own trunc_count.
    let monitor = keys(&json(&zk.admin, "monitor"));
    let (status, text) = http_get(&metrics_addr, "/metrics").expect("/metrics");
    assert_eq!(status, 200);
    let scrape =
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses");
    let mut families = BTreeSet::new();
    for line in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let (name, ty) = line.split_once(' ').expect("# TYPE name type");
        families.insert(name.to_string());
        // ZabLab's own, and Prometheus' standard process families (exportJvmInfo).
        if name == "trunc_count" || name.starts_with("process_") {
            continue;
        }
        let zk_name = if ty == "summary" {
            format!("avg_{name}")
        } else {
            name.to_string()
        };
        assert!(
            monitor.contains(&zk_name),
            "{name} ({ty}) is not a ZooKeeper metric"
        );
    }
    for s in &scrape.samples {
        let family = s
            .metric
            .strip_suffix("_count")
            .filter(|f| families.contains(*f))
            .or_else(|| s.metric.strip_suffix("_sum"))
            .unwrap_or(&s.metric);
        assert!(families.contains(family), "{} has no # TYPE", s.metric);
    }
    eprintln!(
        "{} Prometheus families, all ZooKeeper metric names but trunc_count",
        families.len()
    );
    drop(theirs_client);
    drop(ours_client);
}
