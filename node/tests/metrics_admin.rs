//! Prometheus `/metrics` and the AdminServer of a real 3-server `zablab cluster` on 127.0.0.1
//! (write_configs turns both on): the scrape is parsed by the `prometheus-parse` crate, the
//! admin answers by serde_json, and both are checked against the work a client just did and
//! against the ensemble's state (who leads, who follows, which sessions and watches exist).

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use prometheus_parse::{Scrape, Value};
use zablab_core::tree::acl::open_acl_unsafe;
use zablab_core::tree::CreateMode;
use zablab_node::tools::cluster::{write_configs, ClusterOptions, Planned};
use zablab_node::tools::zkclient::{ConnectOptions, ZkClient};

const LIMIT: Duration = Duration::from_secs(40);
const CREATES: usize = 25;

/// A parsed scrape: each sample by name (summaries by family name).
struct Metrics {
    samples: BTreeMap<String, Value>,
    types: BTreeMap<String, String>,
}

impl Metrics {
    fn scrape(addr: &str) -> Metrics {
        let (status, body) = http_get(addr, "/metrics").expect("/metrics answers");
        assert_eq!(status, 200, "{body}");
        let lines = body.lines().map(|l| Ok(l.to_string()));
        let scrape = Scrape::parse(lines).expect("a Prometheus text exposition");
        let mut samples = BTreeMap::new();
        for s in scrape.samples {
            assert!(
                samples.insert(s.metric.clone(), s.value).is_none(),
                "{} twice",
                s.metric
            );
        }
        // Each family has its HELP and TYPE line, as simpleclient writes them.
        let mut types = BTreeMap::new();
        for l in body.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
            let (name, ty) = l.split_once(' ').expect("# TYPE name type");
            if !name.starts_with("process_") {
                assert!(body.contains(&format!("# HELP {name} {name}\n")), "{name}");
            }
            types.insert(name.to_string(), ty.to_string());
        }
        Metrics { samples, types }
    }

    /// A counter's or gauge's value.
    fn num(&self, name: &str) -> f64 {
        match self.samples.get(name) {
            Some(Value::Counter(v)) | Some(Value::Gauge(v)) | Some(Value::Untyped(v)) => *v,
            other => panic!("{name}: {other:?}"),
        }
    }

    /// A summary's quantiles.
    fn quantiles(&self, name: &str) -> Vec<(f64, f64)> {
        match self.samples.get(name) {
            Some(Value::Summary(qs)) => qs.iter().map(|q| (q.quantile, q.count)).collect(),
            other => panic!("{name}: not a summary: {other:?}"),
        }
    }
}

fn admin(addr: &str, command: &str) -> serde_json::Value {
    let (status, body) =
        http_get(addr, &format!("/commands/{command}")).expect("the AdminServer answers");
    assert_eq!(status, 200, "{command}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(v["command"].is_string(), "{command}: no command field: {v}");
    assert!(v.get("error").is_some(), "{command}: no error field: {v}");
    v
}

fn mntr(addr: &str) -> BTreeMap<String, String> {
    four_letter(addr, "mntr")
        .expect("mntr")
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn start() -> (TempDir, Vec<Planned>, Vec<Server>, usize) {
    let dir = TempDir::new("metrics");
    let base = free_base_port(3);
    let opts = ClusterOptions {
        base_port: base,
        dir: Some(dir.0.clone()),
        ..ClusterOptions::default()
    };
    let planned = write_configs(&dir.0, &opts).expect("configs");
    let servers: Vec<Server> = planned
        .iter()
        .map(|p| Server::start(&p.config, &[], &dir.0.join(format!("s{}.log", p.sid))))
        .collect();
    let addrs: Vec<String> = planned.iter().map(|p| p.client_addr.clone()).collect();
    let leader = wait_for(LIMIT, "a leader and two followers", || {
        let m: Vec<Option<String>> = addrs.iter().map(|a| mode(a)).collect();
        let followers = m
            .iter()
            .filter(|x| x.as_deref() == Some("follower"))
            .count();
        let l = m.iter().position(|x| x.as_deref() == Some("leader"))?;
        (followers == 2).then_some(l)
    });
    // Both followers finished their sync (the leader sees them in broadcast).
    wait_for(LIMIT, "two synced followers", || {
        let m = Metrics::scrape(&planned[leader].metrics_addr);
        (m.num("synced_followers") == 2.0).then_some(())
    });
    (dir, planned, servers, leader)
}

#[test]
fn metrics_follow_the_work_done_and_admin_commands_describe_the_ensemble() {
    let (_dir, planned, _servers, leader) = start();
    let follower = (leader + 1) % 3;
    let (lp, fp) = (&planned[leader], &planned[follower]);

    // Before: the leader's view of the ensemble, its election, the gauges' types.
    let before = Metrics::scrape(&lp.metrics_addr);
    for (name, ty) in [
        ("znode_count", "gauge"),
        ("watch_count", "gauge"),
        ("ephemerals_count", "gauge"),
        ("approximate_data_size", "gauge"),
        ("num_alive_connections", "gauge"),
        ("outstanding_requests", "gauge"),
        ("packets_received", "gauge"),
        ("packets_sent", "gauge"),
        ("learners", "gauge"),
        ("synced_followers", "gauge"),
        ("quorum_size", "gauge"),
        ("commit_count", "counter"),
        ("proposal_count", "counter"),
        ("looking_count", "counter"),
        ("diff_count", "counter"),
        ("snap_count", "counter"),
        ("trunc_count", "counter"),
        ("election_time", "summary"),
        ("readlatency", "summary"),
        ("updatelatency", "summary"),
        ("quorum_ack_latency", "summary"),
        ("fsynctime", "summary"),
    ] {
        assert_eq!(
            before.types.get(name).map(String::as_str),
            Some(ty),
            "{name}"
        );
    }
    // Prometheus' standard process families (exportJvmInfo defaults to true).
    assert!(before.num("process_resident_memory_bytes") > 0.0);
    assert!(before.num("process_open_fds") > 0.0);
    assert!(before.num("process_start_time_seconds") > 1.6e9);
    assert_eq!(
        before
            .types
            .get("process_cpu_seconds_total")
            .map(String::as_str),
        Some("counter")
    );
    assert_eq!(before.num("learners"), 2.0);
    assert_eq!(before.num("synced_followers"), 2.0);
    assert_eq!(before.num("quorum_size"), 3.0);
    assert!(
        before.num("looking_count") >= 1.0,
        "it was LOOKING once at least"
    );
    assert!(
        before.num("election_time_count") >= 1.0,
        "the election that made it leader is timed"
    );
    assert_eq!(
        before.quantiles("election_time").len(),
        1,
        "basic: the median only"
    );
    let q: Vec<f64> = before
        .quantiles("readlatency")
        .iter()
        .map(|q| q.0)
        .collect();
    assert_eq!(q, vec![0.5, 0.9, 0.99], "advanced: three quantiles");
    assert!(
        before.num("diff_count") + before.num("snap_count") >= 2.0,
        "each follower was synced"
    );
    assert!(before.num("trunc_count") <= before.num("diff_count"));
    let follower_before = Metrics::scrape(&fp.metrics_addr);
    assert!(
        !follower_before.samples.contains_key("learners"),
        "a follower has no learners gauge"
    );
    assert!(follower_before.num("election_time_count") >= 1.0);
    assert!(
        follower_before.num("follower_sync_time_count") >= 1.0,
        "it synced once"
    );
    assert_eq!(follower_before.num("observer_sync_time_count"), 0.0);
    assert!(before.num("unavailable_time_count") >= 1.0);
    assert!(
        before.num("leader_unavailable_time_count") >= 1.0,
        "it came up as leader"
    );
    assert_eq!(
        follower_before.num("leader_unavailable_time_count"),
        0.0,
        "it never led"
    );

    // The work: CREATES znodes on the leader, one ephemeral, one data watch.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (client, _events) = rt
        .block_on(ZkClient::connect(ConnectOptions::new(&lp.client_addr)))
        .expect("connect to the leader");
    let sid = client.session_id();
    rt.block_on(async {
        let acl = open_acl_unsafe();
        client
            .create("/m", None, &acl, CreateMode::Persistent)
            .await
            .expect("create /m");
        for i in 1..CREATES {
            client
                .create(
                    &format!("/m/n{i}"),
                    Some(b"x"),
                    &acl,
                    CreateMode::Persistent,
                )
                .await
                .expect("create");
        }
        client
            .create("/eph", None, &acl, CreateMode::Ephemeral)
            .await
            .expect("create /eph");
        client.get_data("/m", true).await.expect("getData watch");
    });
    let writes = CREATES as f64 + 1.0 + 1.0; // the creates, /eph, and createSession

    // The status behind the gauges is published right after the step that answered.
    let want_znodes = before.num("znode_count") + CREATES as f64 + 1.0;
    let after = wait_for(LIMIT, "znode_count to grow with the creates", || {
        let m = Metrics::scrape(&lp.metrics_addr);
        (m.num("znode_count") == want_znodes).then_some(m)
    });
    for c in ["commit_count", "proposal_count"] {
        assert!(
            after.num(c) - before.num(c) >= writes,
            "{c}: {} -> {}",
            before.num(c),
            after.num(c)
        );
    }
    let grew = |name: &str, by: f64| {
        let (b, a) = (before.num(name), after.num(name));
        assert!(a - b >= by, "{name}: {b} -> {a}, expected +{by}");
    };
    grew("quorum_ack_latency_count", writes);
    grew("updatelatency_count", CREATES as f64 + 1.0);
    grew("readlatency_count", 1.0);
    grew("fsynctime_count", 1.0);
    assert!(after.num("global_sessions") >= 1.0);
    // ephemerals_count and approximate_data_size walk the tree: refreshed once a second.
    wait_for(LIMIT, "ephemerals_count to count /eph", || {
        let m = Metrics::scrape(&lp.metrics_addr);
        (m.num("ephemerals_count") >= 1.0 && m.num("approximate_data_size") > 0.0).then_some(())
    });
    assert!(after.num("watch_count") >= 1.0);
    assert!(after.num("last_proposal_size") > 0.0);
    assert!(after.num("max_client_response_size") >= after.num("min_client_response_size"));
    assert!(
        after.num("min_client_response_size") >= 16.0,
        "a reply header is 16 bytes"
    );
    let uq = after.quantiles("updatelatency");
    assert!(
        uq.iter().all(|(_, v)| v.is_finite() && *v >= 0.0),
        "observed: {uq:?}"
    );
    // The follower received the proposals and commits of the leader.
    let follower_after = wait_for(LIMIT, "the follower to apply the creates", || {
        let m = Metrics::scrape(&fp.metrics_addr);
        (m.num("znode_count") == want_znodes).then_some(m)
    });
    for c in [
        "learner_proposal_received_count",
        "learner_commit_received_count",
    ] {
        assert!(
            follower_after.num(c) - follower_before.num(c) >= writes,
            "{c} on the follower"
        );
    }
    assert_eq!(
        follower_after.num("znode_count"),
        after.num("znode_count"),
        "the follower applied the same creates"
    );

    // mntr: every key a real value, the same numbers as /metrics.
    let m = mntr(&lp.client_addr);
    for k in ["zk_local_sessions", "zk_connection_drop_probability"] {
        assert!(!m.contains_key(k), "{k}: nothing backs it in ZabLab");
    }
    assert_eq!(m["zk_znode_count"], format!("{}", after.num("znode_count")));
    assert_eq!(
        m["zk_commit_count"],
        format!("{}", after.num("commit_count"))
    );
    assert_eq!(m["zk_learners"], "2");
    assert_eq!(m["zk_synced_non_voting_followers"], "0");
    assert!(m["zk_global_sessions"].parse::<u64>().expect("number") >= 1);
    assert!(m["zk_last_proposal_size"].parse::<i64>().expect("number") > 0);
    assert!(m["zk_cnt_updatelatency"].parse::<u64>().expect("number") >= CREATES as u64);
    assert!(m.contains_key("zk_p99_quorum_ack_latency") && m.contains_key("zk_avg_election_time"));

    // The AdminServer on the leader and on a follower.
    let (la, fa) = (&lp.admin_addr, &fp.admin_addr);
    let (status, list) = http_get(la, "/commands").expect("list");
    assert_eq!(status, 200);
    for c in zablab_node::server::admin::COMMANDS {
        assert!(
            list.contains(&format!("<a href=\"/commands/{0}\">{0}</a>", c.primary())),
            "{list}"
        );
    }
    assert_eq!(
        admin(la, "ruok"),
        serde_json::json!({"command": "ruok", "error": null})
    );
    let nope = admin(la, "nope");
    assert_eq!(nope["error"], "Unknown command: nope");
    let leader_sid = lp.sid;
    for (addr, is_leader) in [(la, true), (fa, false)] {
        let l = admin(addr, "leader");
        assert_eq!(l["command"], "leader");
        assert_eq!(l["is_leader"], is_leader, "{l}");
        assert_eq!(l["leader_id"], leader_sid, "{l}");
        assert_eq!(l["leader_ip"], "127.0.0.1");
        let z = admin(addr, "zabstate");
        assert_eq!(z["zabstate"], "broadcast", "{z}");
        assert_eq!(z["is_leader"], is_leader);
        assert_eq!(z["voting"], true);
    }
    let vv = admin(la, "voting_view");
    let view = vv["current_config"].as_object().expect("current_config");
    assert_eq!(view.len(), 3, "{vv}");
    assert_eq!(
        view[&fp.sid.to_string()]["client_address"],
        fp.client_addr.as_str()
    );
    assert_eq!(view["1"]["learner_type"], "participant");
    let mon = admin(la, "monitor");
    assert_eq!(mon["server_state"], "leader");
    assert_eq!(mon["learners"], 2);
    assert_eq!(mon["znode_count"].as_f64(), Some(after.num("znode_count")));
    let stats = admin(la, "stats");
    assert_eq!(stats["command"], "stats");
    assert_eq!(stats["server_stats"]["server_state"], "leader");
    assert_eq!(stats["node_count"].as_f64(), Some(after.num("znode_count")));
    assert!(stats["proposal_stats"]["last_buffer_size"].as_i64() > Some(0));
    let srvr = admin(fa, "srvr");
    assert_eq!(srvr["command"], "server_stats");
    assert_eq!(srvr["server_stats"]["server_state"], "follower");
    assert!(
        srvr.get("proposal_stats").is_none(),
        "only a leader has them"
    );
    let cons = admin(la, "connections");
    let ours = cons["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .find(|c| c["session_id"] == sid)
        .unwrap_or_else(|| panic!("our session in {cons}"));
    assert!(ours["packets_received"].as_u64() >= Some(CREATES as u64));
    assert!(
        ["GETD", "PING"].contains(&ours["last_operation"].as_str().unwrap_or("")),
        "{ours}"
    );
    let w = admin(la, "watches");
    assert_eq!(
        w["session_id_to_watched_paths"][sid.to_string()],
        serde_json::json!(["/m"])
    );
    let wp = admin(la, "watches_by_path");
    assert_eq!(wp["path_to_session_ids"]["/m"], serde_json::json!([sid]));
    let ws = admin(la, "watch_summary");
    assert_eq!(
        (ws["num_connections"].as_u64(), ws["num_paths"].as_u64()),
        (Some(1), Some(1))
    );
    let dump = admin(fa, "dump");
    assert_eq!(
        dump["session_id_to_ephemeral_paths"][sid.to_string()],
        serde_json::json!(["/eph"]),
        "ephemerals are replicated: the follower knows them"
    );
    let conf = admin(fa, "conf");
    assert_eq!(conf["command"], "configuration");
    assert_eq!(
        conf["client_port"].as_u64(),
        fp.client_addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
    );
    assert_eq!(conf["server_id"], fp.sid);
    assert_eq!(admin(la, "is_read_only")["read_only"], false);
    assert!(admin(la, "environment")["zookeeper.version"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.8")));
    assert!(admin(la, "initial_configuration")["initial_configuration"]
        .as_str()
        .is_some_and(|t| t.contains("admin.enableServer=true")));
    assert_eq!(admin(la, "get_trace_mask")["tracemask"], 306);
    let (_, set) = http_get(la, "/commands/set_trace_mask?traceMask=7").expect("stmk");
    assert!(set.contains("\"tracemask\": 7"), "{set}");
    assert_eq!(four_letter(&lp.client_addr, "gtmk").as_deref(), Some("7"));
    assert_eq!(
        admin(la, "set_trace_mask")["error"],
        "setTraceMask requires long traceMask argument"
    );
    let dirs = admin(la, "dirs");
    assert!(dirs["logdir_size"].as_u64() > Some(0), "{dirs}");
    // stat_reset: the server's latency and reply sizes start over (no client is left to
    // change them again).
    rt.block_on(client.close()).expect("close");
    assert!(admin(la, "server_stats")["server_stats"]["max_latency"].as_u64() >= Some(0));
    let commits = Metrics::scrape(&lp.metrics_addr).num("commit_count");
    assert_eq!(admin(la, "stat_reset")["error"], serde_json::Value::Null);
    assert!(
        Metrics::scrape(&lp.metrics_addr).num("commit_count") >= commits,
        "Prometheus counters never go down (ZooKeeper's provider ignores resetAll)"
    );
    let st = admin(la, "server_stats");
    assert_eq!(st["server_stats"]["max_latency"], 0, "{st}");
    assert_eq!(st["client_response"]["last_buffer_size"], -1, "{st}");
}

#[test]
fn the_http_ports_bound_what_a_client_can_send_and_hold() {
    let (_dir, planned, _servers, _leader) = start();
    let addr = planned[0].metrics_addr.clone();
    // A head over 8 KiB, a malformed request line, a POST, an unknown path.
    let big = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9000));
    assert_eq!(http_request(&addr, &big).map(|r| r.0), Some(431));
    assert_eq!(http_request(&addr, "HELLO\r\n\r\n").map(|r| r.0), Some(400));
    assert_eq!(
        http_request(&addr, "POST /metrics HTTP/1.1\r\n\r\n").map(|r| r.0),
        Some(405)
    );
    assert_eq!(http_get(&addr, "/nope").map(|r| r.0), Some(404));
    assert_eq!(
        http_get(&planned[0].admin_addr, "/elsewhere").map(|r| r.0),
        Some(404)
    );
    // Silent connections hold a slot each, 32 at most; one more is closed at once.
    let idle: Vec<TcpStream> = (0..zablab_node::server::http::MAX_CONNECTIONS)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(300)); // let the server accept them all
    let mut extra = TcpStream::connect(&addr).expect("connect");
    extra
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let _ = extra.write_all(b"GET /metrics HTTP/1.1\r\n\r\n");
    let mut buf = [0u8; 64];
    assert!(
        matches!(extra.read(&mut buf), Ok(0) | Err(_)),
        "past the bound a connection is closed without an answer"
    );
    // A silent connection is closed once REQUEST_TIMEOUT (5 s) passed without a request.
    let mut first = idle.into_iter().next().expect("one");
    first
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    assert!(
        matches!(first.read(&mut buf), Ok(0)),
        "the server closes a connection that sends nothing"
    );
    // The slots come back: the port still answers.
    wait_for(LIMIT, "the metrics port to answer again", || {
        http_get(&addr, "/metrics").filter(|r| r.0 == 200)
    });
}

#[test]
fn srst_resets_the_metrics_of_the_default_provider_but_not_prometheus_counters() {
    let dir = TempDir::new("srst");
    let port = free_base_port(1);
    std::fs::create_dir_all(dir.0.join("data")).expect("dir");
    let cfg = dir.0.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=*\n",
            dir.0.join("data").display()
        ),
    )
    .expect("cfg");
    let s = Server::start(&cfg, &[], &dir.0.join("s.log"));
    wait_for(LIMIT, "standalone serving", || {
        (mode(&s.client).as_deref() == Some("standalone")).then_some(())
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (client, _events) = rt
        .block_on(ZkClient::connect(ConnectOptions::new(&s.client)))
        .expect("connect");
    rt.block_on(client.create("/a", None, &open_acl_unsafe(), CreateMode::Persistent))
        .expect("create");
    rt.block_on(client.close()).expect("close");
    let m = mntr(&s.client);
    assert!(
        m["zk_cnt_updatelatency"].parse::<u64>().expect("n") >= 1,
        "{m:?}"
    );
    assert!(m["zk_cnt_fsynctime"].parse::<u64>().expect("n") >= 1);
    assert_eq!(
        four_letter(&s.client, "srst").as_deref(),
        Some("Server stats reset.\n")
    );
    let m = mntr(&s.client);
    for k in ["zk_cnt_updatelatency", "zk_cnt_fsynctime", "zk_max_latency"] {
        assert_eq!(m[k], "0", "{k} after srst without Prometheus");
    }
}
