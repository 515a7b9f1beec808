//! `autopurge.*` on a running server, checked on disk: a standalone server with a small
//! `snapCount` takes many snapshots; restarted with `autopurge.purgeInterval=1` it purges at
//! start (as ZooKeeper's DatadirCleanupManager does, then every interval), keeping the newest
//! `autopurge.snapRetainCount` snapshots and exactly the logs they need; killed again and
//! restarted from what is left, it still serves every write it acknowledged.

mod common;
mod hostile;

use std::path::Path;
use std::time::Duration;

use common::{free_base_port, mode, wait_for, Server, TempDir};
use hostile::{Raw, LIMIT};

const WRITES: usize = 200;

/// The `snapshot.<zxid>` or `log.<zxid>` files of `dir`, by zxid.
fn files(dir: &Path, prefix: &str) -> Vec<u64> {
    let mut v: Vec<u64> = std::fs::read_dir(dir)
        .expect("version-2")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            u64::from_str_radix(name.strip_prefix(prefix)?, 16).ok()
        })
        .collect();
    v.sort_unstable();
    v
}

fn start(cfg: &Path, log: &Path) -> Server {
    let s = Server::start(cfg, &[], log);
    wait_for(LIMIT, "the server serving", || {
        (mode(&s.client).as_deref() == Some("standalone")).then_some(())
    });
    s
}

#[test]
fn autopurge_keeps_the_newest_snapshots_and_the_logs_they_need() {
    let dir = TempDir::new("autopurge");
    let port = free_base_port(1);
    let data = dir.0.join("data");
    std::fs::create_dir_all(&data).expect("dataDir");
    let cfg = dir.0.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=200\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=*\nsnapCount=20\nautopurge.snapRetainCount=3\n\
             autopurge.purgeInterval=1\n",
            data.display()
        ),
    )
    .expect("zoo.cfg");
    let log = dir.0.join("server.log");
    let v2 = data.join("version-2");

    let mut server = start(&cfg, &log);
    let mut c = Raw::connect(&server.client, 10_000);
    for i in 0..WRITES {
        c.create_open(&format!("/z{i}"), format!("v{i}").as_bytes())
            .expect("create");
    }
    drop(c);
    let snaps_before = files(&v2, "snapshot.");
    let logs_before = files(&v2, "log.");
    println!("before the purge: {snaps_before:x?} snapshots, {logs_before:x?} logs");
    assert!(
        snaps_before.len() >= 6,
        "{WRITES} writes with snapCount=20 leave many snapshots: {snaps_before:x?}"
    );
    assert!(
        !log.exists()
            || !std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("autopurge removed"),
        "nothing to purge when the server first started"
    );

    // kill -9 and restart: the purge at start.
    server.kill9();
    let mut server = start(&cfg, &log);
    wait_for(Duration::from_secs(10), "the autopurge log lines", || {
        std::fs::read_to_string(&log)
            .ok()?
            .contains("autopurge removed")
            .then_some(())
    });
    // The restart itself may take one more snapshot; the newest three are kept either way.
    let snaps_after = files(&v2, "snapshot.");
    let logs_after = files(&v2, "log.");
    println!("after the purge: {snaps_after:x?} snapshots, {logs_after:x?} logs");
    assert_eq!(snaps_after.len(), 3, "snapRetainCount=3 snapshots left");
    let third_newest_before = snaps_before[snaps_before.len() - 3];
    assert!(
        snaps_after.iter().all(|z| *z >= third_newest_before),
        "only the newest snapshots survive: {snaps_after:x?} of {snaps_before:x?}"
    );
    let oldest_kept = snaps_after[0];
    // Every log the kept snapshots need is still there: the first remaining log starts at or
    // below the oldest kept snapshot's next zxid...
    assert!(
        logs_after[0] <= oldest_kept + 1,
        "the log holding the transactions after snapshot {oldest_kept:x} is kept: {logs_after:x?}"
    );
    // ...and every removed log was wholly covered by it (the next log starts at or below
    // oldest_kept + 1).
    for w in logs_before.windows(2) {
        if !logs_after.contains(&w[0]) {
            assert!(
                w[1] <= oldest_kept + 1,
                "log {:x} was removed though snapshot {oldest_kept:x} needs it",
                w[0]
            );
        }
    }
    assert!(
        logs_after
            .iter()
            .filter(|z| logs_before.contains(z))
            .count()
            < logs_before.len(),
        "old logs were removed: {logs_before:x?} -> {logs_after:x?}"
    );

    // Recovery from the purged directory alone loses nothing acknowledged.
    server.kill9();
    let server = start(&cfg, &log);
    let mut r = Raw::connect(&server.client, 10_000);
    for i in 0..WRITES {
        assert_eq!(
            r.get_data(&format!("/z{i}")).expect("read"),
            Some(format!("v{i}").into_bytes()),
            "/z{i} after recovering from the purged dataDir"
        );
    }
}
