//! Every four-letter word of ZooKeeper 3.8 against a real 3-server `zablab cluster` on
//! 127.0.0.1: each answers in ZooKeeper's shape with the values a client just caused (its
//! watches, its ephemeral, its session, its requests), `srst`/`crst`/`stmk` change what later
//! words print, and a server whose whitelist leaves a word out refuses it as ZooKeeper does.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use zablab_core::tree::acl::open_acl_unsafe;
use zablab_core::tree::CreateMode;
use zablab_node::tools::cluster::{write_configs, ClusterOptions};
use zablab_node::tools::zkclient::{ConnectOptions, ZkClient};

const LIMIT: Duration = Duration::from_secs(40);

fn word(addr: &str, w: &str) -> String {
    four_letter(addr, w).unwrap_or_else(|| panic!("{w} on {addr}: no answer"))
}

/// `stmk` followed by its 8-byte big-endian mask.
fn stmk(addr: &str, mask: i64) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut msg = b"stmk".to_vec();
    msg.extend_from_slice(&mask.to_be_bytes());
    s.write_all(&msg).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

/// The value after `key` up to the next `,` or `)` in a `cons` line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line
        .find(&format!("{key}="))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        + key.len()
        + 1;
    let rest = &line[start..];
    &rest[..rest.find([',', ')']).unwrap_or(rest.len())]
}

#[test]
fn every_word_answers_in_zookeepers_format_with_real_values() {
    let dir = TempDir::new("fourlw");
    let base = free_base_port(3);
    let opts = ClusterOptions {
        base_port: base,
        dir: Some(dir.0.clone()),
        ..ClusterOptions::default()
    };
    let planned = write_configs(&dir.0, &opts).expect("configs");
    // Server 1 whitelists only the words ZabLab answered before: the new ones are refused.
    // (With fresh data the highest sid of a quorum leads, so server 1 never leads here.)
    let cfg1 = std::fs::read_to_string(&planned[0].config)
        .expect("cfg")
        .replace(
            "4lw.commands.whitelist=*",
            "4lw.commands.whitelist=ruok,srvr,stat,mntr,conf,envi,isro",
        );
    std::fs::write(&planned[0].config, cfg1).expect("write cfg");
    let _servers: Vec<Server> = planned
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
    assert_ne!(leader, 0, "server 1 cannot win the first election");
    let la = addrs[leader].clone();
    let follower = if leader == 1 { 2 } else { 1 };
    let fa = addrs[follower].clone();

    // Nothing watched yet.
    assert_eq!(
        word(&la, "wchs"),
        "0 connections watching 0 paths\nTotal watches:0\n"
    );
    assert_eq!(word(&la, "gtmk"), "306", "ZooKeeper's default trace mask");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (client, _events) = rt
        .block_on(ZkClient::connect(ConnectOptions::new(&la)))
        .expect("connect to the leader");
    let sid = client.session_id();
    rt.block_on(async {
        let acl = open_acl_unsafe();
        client
            .create("/w", Some(b"x"), &acl, CreateMode::Persistent)
            .await
            .expect("create /w");
        client
            .create("/eph", None, &acl, CreateMode::Ephemeral)
            .await
            .expect("create /eph");
        client.get_data("/w", true).await.expect("getData watch");
        assert!(client
            .exists("/missing", true)
            .await
            .expect("exists")
            .is_none());
        // A child watch: ZooKeeper's wch* words print the data watches only.
        client.get_children("/", true).await.expect("getChildren");
    });

    // wchs / wchc / wchp: the two data watches of this session.
    assert_eq!(
        word(&la, "wchs"),
        "1 connections watching 2 paths\nTotal watches:2\n"
    );
    assert_eq!(
        word(&la, "wchc"),
        format!("0x{sid:x}\n\t/missing\n\t/w\n\n")
    );
    assert_eq!(
        word(&la, "wchp"),
        format!("/missing\n\t0x{sid:x}\n/w\n\t0x{sid:x}\n\n")
    );
    assert_eq!(
        word(&fa, "wchs"),
        "0 connections watching 0 paths\nTotal watches:0\n",
        "watches are per server"
    );

    // dump on the leader: the session in one expiry bucket, its ephemeral, its connection.
    let d = word(&la, "dump");
    let lines: Vec<&str> = d.lines().collect();
    assert_eq!(lines[0], "SessionTracker dump:", "{d}");
    assert_eq!(lines[1], "Session Sets (1)/(1):", "{d}");
    assert!(
        lines[2].starts_with("1 expire at ")
            && lines[2].contains(" UTC 20")
            && lines[2].ends_with(':'),
        "{d}"
    );
    assert_eq!(lines[3], format!("\t0x{sid:x}"), "{d}");
    assert!(
        d.contains(&format!(
            "ephemeral nodes dump:\nSessions with Ephemerals (1):\n0x{sid:x}:\n\t/eph\nConnections dump:\nConnections Sets ("
        )),
        "{d}"
    );
    assert!(d.contains(&format!(" sessionId: 0x{sid:x}\n")), "{d}");
    // dump on a follower: no client of its own, the ephemeral is replicated.
    let fd = word(&fa, "dump");
    assert!(
        fd.starts_with("SessionTracker dump:\nGlobal Sessions(0):\nephemeral nodes dump:\n"),
        "{fd}"
    );
    assert!(fd.contains(&format!("0x{sid:x}:\n\t/eph\n")), "{fd}");
    // Its only connection is this word's own.
    assert!(
        fd.contains("Connections dump:\nConnections Sets (1)/(1):\n1 expire at "),
        "{fd}"
    );
    assert!(fd.ends_with(" sessionId: 0x0\n"), "{fd}");

    // cons: this session's connection with its counters, last op and latency.
    let cons = word(&la, "cons");
    assert!(cons.ends_with(")\n\n"), "{cons:?}");
    let line = cons
        .lines()
        .find(|l| l.contains(&format!("sid=0x{sid:x},")))
        .unwrap_or_else(|| panic!("no line for the session in {cons}"));
    assert!(line.starts_with(" /127.0.0.1:"), "{line}");
    let recved: u64 = field(line, "recved").parse().expect("recved");
    let sent: u64 = field(line, "sent").parse().expect("sent");
    assert!(recved >= 6, "connect + 5 requests: {line}");
    assert!(sent >= 6, "{line}");
    assert_eq!(field(line, "lop"), "GETC", "{line}");
    assert_eq!(field(line, "to"), "30000", "{line}");
    assert!(field(line, "lcxid").starts_with("0x"), "{line}");
    for k in ["est", "lresp", "llat", "minlat", "avglat", "maxlat"] {
        field(line, k).parse::<u64>().expect(k);
    }

    // stat lists the connection briefly; srvr's latency counts the requests.
    let stat = word(&la, "stat");
    assert!(stat.contains("Clients:\n /127.0.0.1:"), "{stat}");
    let mntr = word(&la, "mntr");
    assert!(mntr.contains("zk_outstanding_requests\t0\n"), "{mntr}");

    // crst: the connection's counters start over.
    assert_eq!(word(&la, "crst"), "Connection stats reset.\n");
    let cons = word(&la, "cons");
    let line = cons
        .lines()
        .find(|l| l.contains(&format!("sid=0x{sid:x},")))
        .expect("line after crst");
    // (A ping may slip in between the two words.)
    let recved: u64 = field(line, "recved").parse().expect("recved");
    assert!(recved <= 1, "{line}");
    assert!(["NA", "PING"].contains(&field(line, "lop")), "{line}");

    // srst: the server's latency and packet counters start over.
    let received_before: u64 = word(&la, "srvr")
        .lines()
        .find_map(|l| l.strip_prefix("Received: "))
        .and_then(|v| v.parse().ok())
        .expect("Received");
    assert!(received_before > 0);
    assert_eq!(word(&la, "srst"), "Server stats reset.\n");
    let srvr = word(&la, "srvr");
    assert!(srvr.contains("Latency min/avg/max: 0/0.0/0\n"), "{srvr}");
    let received_after: u64 = srvr
        .lines()
        .find_map(|l| l.strip_prefix("Received: "))
        .and_then(|v| v.parse().ok())
        .expect("Received");
    assert!(received_after < received_before, "{srvr}");
    // A request after srst is timed again.
    rt.block_on(client.get_data("/w", false)).expect("getData");
    let cons = word(&la, "cons");
    let line = cons
        .lines()
        .find(|l| l.contains(&format!("sid=0x{sid:x},")))
        .expect("line after a request");
    assert_eq!(field(line, "lop"), "GETD", "{line}");

    // stmk sets the mask gtmk reads.
    assert_eq!(stmk(&la, 0x1f), "31");
    assert_eq!(word(&la, "gtmk"), "31");

    // dirs: the log holds the transactions just written.
    let dirs = word(&la, "dirs");
    let v: Vec<u64> = dirs
        .lines()
        .zip(["datadir_size: ", "logdir_size: "])
        .map(|(l, k)| {
            l.strip_prefix(k)
                .unwrap_or_else(|| panic!("{dirs}"))
                .parse()
                .expect("size")
        })
        .collect();
    assert_eq!(v.len(), 2, "{dirs}");
    assert!(v[1] > 0, "{dirs}");

    // Server 1's whitelist leaves the new words out.
    let a3 = &addrs[0];
    for w in [
        "cons", "crst", "dump", "srst", "wchs", "wchc", "wchp", "gtmk", "stmk", "dirs",
    ] {
        assert_eq!(
            word(a3, w),
            format!("{w} is not executed because it is not in the whitelist.\n")
        );
    }
    assert_eq!(word(a3, "ruok"), "imok");

    // The session's close removes its watches.
    rt.block_on(client.close()).expect("close");
    wait_for(LIMIT, "watches gone after close", || {
        (word(&la, "wchs") == "0 connections watching 0 paths\nTotal watches:0\n").then_some(())
    });
}
