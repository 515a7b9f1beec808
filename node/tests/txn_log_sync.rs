//! Sync from the transaction log on real processes (ZooKeeper 3.8's
//! `getProposalsFromTxnLog`): a follower killed just after a snapshot misses more commits than
//! the leader keeps in memory (`commitLogCount=5`), yet the leader's on-disk log since that
//! snapshot reaches back to it and is far smaller than `snapshotSizeFactor` × the snapshot
//! (which holds one 400 KB znode), so it gets a DIFF read from the log, not a SNAP.

mod common;
mod hostile;

use std::time::Duration;

use common::{mode, wait_for, Server};
use hostile::{Ensemble, Raw, LIMIT};

#[test]
fn a_follower_behind_the_committed_log_gets_a_diff_from_the_transaction_log() {
    let mut e = Ensemble::start("txnlog-sync", |_| "snapCount=40\ncommitLogCount=5\n".into());
    let leader = e.leader();
    let f = e.follower();
    let mut c = Raw::connect(&e.addr(leader), 10_000);
    c.create_open("/big", &vec![b'x'; 400_000])
        .expect("create /big");
    // Past the first snapshot (taken after snapCount logged transactions, counting the
    // session's), then one write the follower logs after it.
    for i in 0..45 {
        c.create_open(&format!("/before{i}"), b"b").expect("create");
    }
    // Killed only once it has applied all of them: a follower still behind the leader's
    // snapshot (a loaded machine) would rightly get a SNAP, which is not the case pinned here.
    let written = e.zxid(leader);
    wait_for(LIMIT, "the follower to apply every write", || {
        (e.zxid(f) == written).then_some(())
    });
    let sid = e.planned[f].sid;
    e.servers[f].kill9();
    for i in 0..30 {
        c.create_open(&format!("/missed{i}"), b"m")
            .expect("create while it is down");
    }
    let log = e.dir.0.join(sid.to_string()).join("server.log");
    e.servers[f] = Server::start(&e.planned[f].config, &[], &log);
    wait_for(LIMIT, "the follower back", || {
        (mode(&e.addr(f)).as_deref() == Some("follower")).then_some(())
    });
    let line = format!("syncing learner {sid} with ");
    let decision = wait_for(Duration::from_secs(10), "the leader's sync line", || {
        e.log(leader)
            .lines()
            .rev()
            .find(|l| l.contains(&line))
            .map(str::to_string)
    });
    println!("leader: {decision}");
    assert!(
        decision.contains("DIFF (older than my committed log, read from my transaction log)"),
        "expected a DIFF from the transaction log, got: {decision}"
    );
    let mut r = Raw::connect(&e.addr(f), 10_000);
    for i in [0, 29] {
        assert_eq!(
            r.get_data(&format!("/missed{i}"))
                .expect("read on the follower"),
            Some(b"m".to_vec()),
            "the follower holds /missed{i}"
        );
    }
}
