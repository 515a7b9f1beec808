//! Storage on real files: crash and reopen, corrupt and torn tails, group commit, snapshots,
//! epochs, truncation, autopurge.

mod common;

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Duration;

use common::TempDir;
use zablab_core::durable::{LogEntry, PersistOp};
use zablab_core::machine::ChainMachine;
use zablab_core::peer::PeerPersistOp;
use zablab_core::zxid::Zxid;
use zablab_node::codec::jute;
use zablab_node::codec::machine::NodeMachine;
use zablab_node::codec::wire;
use zablab_node::codec::zk_files::txn_log;
use zablab_node::server::storage::{
    spawn_writer, Store, WriterCmd, OLD_LOG_FORMAT_ERROR, OLD_SNAPSHOT_FORMAT_ERROR,
};

type M = ChainMachine;

fn entry(c: u32) -> LogEntry<u64> {
    LogEntry {
        zxid: Zxid::new(1, c),
        time_ms: 1000 + c as u64,
        origin: Some((2, c as u64)),
        txn: c as u64 * 7,
    }
}

/// What recovery reads back for `entry(c)`: the same entry without its origin, which the log
/// does not store (ZooKeeper's record has no such field; see `server/storage.rs`).
fn logged(c: u32) -> LogEntry<u64> {
    LogEntry {
        origin: None,
        ..entry(c)
    }
}

fn open(dir: &TempDir) -> Store<M> {
    Store::<M>::open(&dir.0.join("data"), &dir.0.join("log")).expect("open")
}

fn log_files(dir: &TempDir) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.0.join("log").join("version-2"))
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("log."))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn every_fsynced_record_survives_a_crash() {
    let dir = TempDir::new("st-crash");
    let (ack_tx, ack_rx) = mpsc::channel();
    let tx = spawn_writer(
        open(&dir),
        move |id| ack_tx.send(id).expect("ack"),
        |e| panic!("{e}"),
    )
    .expect("writer");
    for c in 1..=100 {
        tx.send(WriterCmd::Persist {
            id: c as u64,
            op: PersistOp::Append(entry(c)),
        })
        .expect("send");
    }
    let mut acked = 0;
    while acked < 100 {
        acked = ack_rx.recv_timeout(Duration::from_secs(10)).expect("acked");
    }
    drop(tx);
    // A second handle appends more without any fsync, then "crashes" (buffers never flushed).
    let mut s = open(&dir);
    for c in 101..=110 {
        s.append(&entry(c)).expect("append");
    }
    std::mem::forget(s);

    let (d, report) = open(&dir).recover().expect("recover");
    assert!(d.log.len() >= 100, "{report:?}");
    for (i, e) in d.log.iter().take(100).enumerate() {
        assert_eq!(*e, logged(i as u32 + 1));
    }
}

#[test]
fn corrupt_and_torn_tails_are_cut_and_reported() {
    let dir = TempDir::new("st-tail");
    let mut s = open(&dir);
    for c in 1..=10 {
        s.apply(&PersistOp::Append(entry(c))).expect("append");
    }
    s.sync().expect("sync");
    drop(s);
    let file = log_files(&dir).pop().expect("a log file");
    // Flip one byte inside the last record's body.
    let mut bytes = std::fs::read(&file).expect("read");
    let n = bytes.len();
    bytes[n - 5] ^= 0xff;
    std::fs::write(&file, &bytes).expect("write");
    let (d, report) = open(&dir).recover().expect("recover");
    assert_eq!(d.log.len(), 9);
    assert!(report.cut_tail);
    assert!(
        report.lines.iter().any(|l| l.contains("checksum")),
        "{:?}",
        report.lines
    );
    // The cut is durable: a second recovery finds a clean log.
    let (d, report) = open(&dir).recover().expect("recover");
    assert_eq!(d.log.len(), 9);
    assert!(!report.cut_tail, "{:?}", report.lines);
    // A torn write: the file ends in the middle of record 9.
    let len = std::fs::metadata(&file).expect("meta").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .expect("open")
        .set_len(len - 3)
        .expect("cut");
    let (d, report) = open(&dir).recover().expect("recover");
    assert_eq!(d.log.len(), 8);
    assert!(
        report.cut_tail && report.lines.iter().any(|l| l.contains("torn")),
        "{:?}",
        report.lines
    );
    assert_eq!(d.log.last(), Some(&logged(8)));
}

#[test]
fn group_commit_puts_waiting_appends_into_one_fsync() {
    let dir = TempDir::new("st-group");
    let store = open(&dir);
    let fsyncs = store.fsyncs.clone();
    let (ack_tx, ack_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = std::sync::Mutex::new(go_rx);
    let tx = spawn_writer(
        store,
        move |id| {
            // The first acknowledgement waits until 500 more appends are queued behind it.
            if id == 1 {
                let _ = go_rx
                    .lock()
                    .map(|r| r.recv_timeout(Duration::from_secs(10)));
            }
            ack_tx.send(id).expect("ack");
        },
        |e| panic!("{e}"),
    )
    .expect("writer");
    tx.send(WriterCmd::Persist {
        id: 1,
        op: PersistOp::Append(entry(1)),
    })
    .expect("send");
    // Wait until the writer fsynced the first append (it then blocks in the callback).
    let start = std::time::Instant::now();
    while fsyncs.load(Ordering::Relaxed) < 1 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "first fsync never happened"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    for c in 2..=501 {
        tx.send(WriterCmd::Persist {
            id: c as u64,
            op: PersistOp::Append(entry(c)),
        })
        .expect("send");
    }
    go_tx.send(()).expect("go");
    assert_eq!(ack_rx.recv_timeout(Duration::from_secs(10)), Ok(1));
    assert_eq!(
        ack_rx.recv_timeout(Duration::from_secs(10)),
        Ok(501),
        "one acknowledgement for the batch"
    );
    assert_eq!(
        fsyncs.load(Ordering::Relaxed),
        2,
        "one fsync for the first append, one for the 500 behind it"
    );
}

#[test]
fn snapshots_epochs_truncate_and_purge_read_back() {
    let dir = TempDir::new("st-snap");
    let mut s = open(&dir);
    let ops: Vec<PeerPersistOp<M>> = vec![PersistOp::AcceptedEpoch(3), PersistOp::CurrentEpoch(2)];
    for op in &ops {
        s.apply(op).expect("epoch");
    }
    let mut machine = ChainMachine::default();
    for c in 1..=12 {
        s.apply(&PersistOp::Append(entry(c))).expect("append");
        if c <= 5 {
            machine.writes.push(c as u64);
        }
    }
    s.apply(&PersistOp::Snapshot {
        zxid: Zxid::new(1, 5),
        snapshot: machine.clone(),
    })
    .expect("snapshot");
    for c in 13..=15 {
        s.apply(&PersistOp::Append(entry(c))).expect("append");
    }
    s.apply(&PersistOp::Truncate(Zxid::new(1, 13)))
        .expect("truncate");
    s.sync().expect("sync");
    drop(s);
    assert_eq!(
        std::fs::read_to_string(dir.0.join("data/version-2/acceptedEpoch")).expect("epoch"),
        "3"
    );
    assert_eq!(
        std::fs::read_to_string(dir.0.join("data/version-2/currentEpoch")).expect("epoch"),
        "2"
    );
    let (d, _) = open(&dir).recover().expect("recover");
    assert_eq!((d.accepted_epoch, d.current_epoch), (3, 2));
    assert_eq!(d.snapshot, Some((Zxid::new(1, 5), machine.clone())));
    let zxids: Vec<u32> = d.log.iter().map(|e| e.zxid.counter()).collect();
    assert_eq!(zxids, (6..=13).collect::<Vec<_>>());

    // Autopurge keeps the newest 3 snapshots and the logs they need.
    let mut s = open(&dir);
    for c in 14..=20 {
        s.apply(&PersistOp::Append(entry(c))).expect("append");
        s.apply(&PersistOp::Snapshot {
            zxid: Zxid::new(1, c),
            snapshot: machine.clone(),
        })
        .expect("snap");
    }
    let removed = s.purge(3).expect("purge");
    assert!(!removed.is_empty());
    drop(s);
    let snaps = std::fs::read_dir(dir.0.join("data/version-2"))
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("snapshot."))
        })
        .count();
    assert_eq!(snaps, 3);
    let (d, _) = open(&dir).recover().expect("recover");
    assert_eq!(d.snapshot.map(|(z, _)| z), Some(Zxid::new(1, 20)));

    // InstallSnapshot replaces everything; DiscardDatabase removes the data, not the epochs.
    let mut s = open(&dir);
    s.apply(&PersistOp::InstallSnapshot {
        zxid: Zxid::new(4, 2),
        snapshot: machine.clone(),
    })
    .expect("install");
    drop(s);
    let (d, _) = open(&dir).recover().expect("recover");
    assert!(d.log.is_empty());
    assert_eq!(d.last_logged_zxid(), Zxid::new(4, 2));
    let mut s = open(&dir);
    s.apply(&PersistOp::AcceptedEpoch(5))
        .expect("acceptedEpoch");
    s.apply(&PersistOp::CurrentEpoch(4)).expect("currentEpoch");
    s.apply(&PersistOp::DiscardDatabase).expect("discard");
    drop(s);
    let (d, _) = open(&dir).recover().expect("recover");
    assert_eq!(d.snapshot, None);
    assert!(d.log.is_empty());
    assert_eq!(
        (d.accepted_epoch, d.current_epoch),
        (5, 0),
        "the promise survives a discarded database; currentEpoch goes with the data"
    );
}

/// A log of ZabLab's former layout (header version 3, records with the replying server in
/// front of the TxnHeader) is refused with a clear error, and left as it was rather than cut
/// as "torn".
#[test]
fn an_old_format_log_is_refused_with_a_clear_error_and_left_untouched() {
    let dir = TempDir::new("st-oldfmt");
    let mut s = open(&dir);
    for c in 1..=3 {
        s.apply(&PersistOp::Append(entry(c))).expect("append");
    }
    s.sync().expect("sync");
    drop(s);
    let file = log_files(&dir).pop().expect("a log file");
    let bytes = std::fs::read(&file).expect("read");
    assert_eq!(
        &bytes[..8],
        b"ZKLG\0\0\0\x02",
        "this build writes ZooKeeper's version 2"
    );
    let mut old = Vec::new();
    for v in [i32::from_be_bytes(*b"ZKLG"), 3] {
        jute::put_i32(&mut old, v);
    }
    jute::put_i64(&mut old, 0);
    for c in 1..=3 {
        let mut txn = Vec::new();
        wire::write_txn_entry::<M>(&entry(c), &mut txn);
        txn_log::append_record(&mut old, &txn);
    }
    std::fs::write(&file, &old).expect("write");
    let Err(err) = open(&dir).recover() else {
        panic!("an old log must be refused");
    };
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    let msg = err.to_string();
    assert!(
        msg.contains(OLD_LOG_FORMAT_ERROR) && msg.contains("empty dataDir and dataLogDir"),
        "{msg}"
    );
    assert!(msg.contains(&file.display().to_string()), "{msg}");
    assert_eq!(
        std::fs::read(&file).expect("read"),
        old,
        "the old log is not cut"
    );
}

/// A snapshot of ZabLab's former layout (a zxid after the header, then the quorum snapshot
/// body) is refused the same way, not skipped: skipping it would start the server without the
/// data it holds.
#[test]
fn an_old_format_snapshot_is_refused_not_skipped() {
    let dir = TempDir::new("st-oldsnap");
    let snap = ChainMachine {
        chain: 77,
        writes: vec![1, 2, 3],
        configs: Vec::new(),
    };
    let zxid = Zxid::new(1, 3);
    let mut old = Vec::new();
    for v in [i32::from_be_bytes(*b"ZKSN"), 2] {
        jute::put_i32(&mut old, v);
    }
    jute::put_i64(&mut old, -1);
    jute::put_i64(&mut old, zxid.0 as i64);
    <M as NodeMachine>::write_snapshot(&snap, &mut old);
    let sum = jute::adler32(&old);
    jute::put_i64(&mut old, sum as i64);
    jute::put_ustring(&mut old, Some("/"));
    drop(open(&dir));
    let path = dir.0.join("data/version-2/snapshot.100000003");
    std::fs::write(&path, &old).expect("write");
    let Err(err) = open(&dir).recover() else {
        panic!("an old snapshot must be refused");
    };
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains(OLD_SNAPSHOT_FORMAT_ERROR), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), old, "left as it was");
    // The same state written by this build reads back.
    let mut s = open(&dir);
    std::fs::remove_file(&path).expect("rm");
    s.apply(&PersistOp::Snapshot {
        zxid,
        snapshot: snap.clone(),
    })
    .expect("snapshot");
    drop(s);
    let (d, _) = open(&dir).recover().expect("recover");
    assert_eq!(d.snapshot, Some((zxid, snap)));
}

/// A checksummed record that is no transaction (an earlier ZabLab's client-request records
/// under the same header, or a foreign file) refuses the start-up and is left as it is: a
/// whole record is not a torn write, and cutting it would drop what follows.
#[test]
fn a_whole_record_that_does_not_decode_is_refused_not_cut() {
    let dir = TempDir::new("st-undecodable");
    let mut s = open(&dir);
    for c in 1..=2 {
        s.apply(&PersistOp::Append(entry(c))).expect("append");
    }
    s.sync().expect("sync");
    drop(s);
    let file = log_files(&dir).pop().expect("a log file");
    let mut bytes = std::fs::read(&file).expect("read");
    let mut txn = Vec::new();
    txn_log::TxnHeader {
        client_id: 0,
        cxid: 0,
        zxid: Zxid::new(1, 3).0 as i64,
        time: 1,
        txn_type: 5,
    }
    .write(&mut txn);
    txn.extend_from_slice(&[1, 2, 3]); // not an i64
    txn_log::append_record(&mut bytes, &txn);
    std::fs::write(&file, &bytes).expect("write");
    let Err(err) = open(&dir).recover() else {
        panic!("an undecodable record must be refused");
    };
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("no transaction"), "{err}");
    assert_eq!(std::fs::read(&file).expect("read"), bytes, "not cut");
}

/// As Apache ZooKeeper leaves them: a log padded with zeros (FileTxnLog pre-allocates 64 MB),
/// records carrying a TxnDigest, and `snapshot.0` of the empty tree. They read back; the next
/// append starts a new file, so the zeros hide nothing written after them.
#[test]
fn zookeepers_padding_digests_and_start_snapshot_read_back() {
    let dir = TempDir::new("st-zkshape");
    let mut s = open(&dir);
    s.apply(&PersistOp::Append(entry(1))).expect("append");
    s.sync().expect("sync");
    drop(s);
    let snap0 = dir.0.join("data/version-2/snapshot.0");
    assert_eq!(
        std::fs::read(&snap0).expect("the first log comes with snapshot.0"),
        <M as NodeMachine>::write_snapshot_file(&ChainMachine::default(), Zxid::ZERO)
    );
    let file = log_files(&dir).pop().expect("a log file");
    let mut bytes = std::fs::read(&file).expect("read");
    for c in 2..=3 {
        let mut txn = Vec::new();
        txn_log::write_entry::<M>(&entry(c), &mut txn);
        txn_log::TxnDigest {
            version: 2,
            tree_digest: 12345,
        }
        .write(&mut txn);
        txn_log::append_record(&mut bytes, &txn);
    }
    bytes.resize(bytes.len() + (1 << 16), 0);
    std::fs::write(&file, &bytes).expect("write");
    let (d, report) = open(&dir).recover().expect("recover");
    assert!(!report.cut_tail, "{:?}", report.lines);
    assert_eq!(
        d.snapshot, None,
        "snapshot.0 of the empty machine is no snapshot"
    );
    assert_eq!(d.log, (1..=3).map(logged).collect::<Vec<_>>());
    let mut s = open(&dir);
    s.apply(&PersistOp::Append(entry(4))).expect("append");
    s.sync().expect("sync");
    drop(s);
    assert_eq!(log_files(&dir).len(), 2, "a new file after the padded one");
    assert_eq!(
        std::fs::read(&file).expect("read"),
        bytes,
        "the padded file is unchanged"
    );
    let (d, _) = open(&dir).recover().expect("recover");
    assert_eq!(d.log, (1..=4).map(logged).collect::<Vec<_>>());
}
