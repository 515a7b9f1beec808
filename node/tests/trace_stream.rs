//! The `--trace-addr` stream never slows the server for a reader: a reader that stops reading
//! while the server takes thousands of writes is left behind, and when it reads again the stream
//! says how many records it skipped (a `Skipped` record) and goes on; a reader that keeps up
//! sees no gap. Every line is checked as the core's `TraceRecord` (tests/common/trace.rs).

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::trace::TraceReader;
use common::{free_base_port, mode, wait_for, Server, TempDir, BIN};
use zablab_core::trace::HostEvent;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn a_reader_that_falls_behind_is_told_how_many_records_it_skipped() {
    let dir = TempDir::new("trace-stream");
    let port = free_base_port(2);
    let trace_addr = format!("127.0.0.1:{}", port + 1);
    let data = dir.0.join("data");
    std::fs::create_dir_all(&data).expect("dataDir");
    let cfg = dir.0.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=200\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n",
            data.display()
        ),
    )
    .expect("zoo.cfg");
    let server = Server::start(
        &cfg,
        &["--trace-addr", &trace_addr, "--trace-wait", "20000"],
        &dir.0.join("server.log"),
    );
    // The stalled reader connects first (the server waits for it), then a reader that keeps up.
    let mut stalled = TraceReader::connect(&trace_addr, LIMIT);
    let mut keeping_up = TraceReader::connect(&trace_addr, LIMIT);
    wait_for(LIMIT, "the server serving", || {
        (mode(&server.client).as_deref() == Some("standalone")).then_some(())
    });
    let seen = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (seen, done) = (seen.clone(), done.clone());
        std::thread::spawn(move || {
            let (mut skipped, mut replies, mut ticks_after) = (0u64, 0u64, 0);
            while ticks_after < 3 {
                let Some(r) = keeping_up.next_record() else {
                    continue;
                };
                seen.fetch_add(1, Ordering::Relaxed);
                match r.event {
                    HostEvent::Skipped { records } => skipped += records,
                    HostEvent::ClientReply { .. } => replies += 1,
                    HostEvent::Timer if done.load(Ordering::Relaxed) => ticks_after += 1,
                    _ => {}
                }
            }
            (skipped, replies)
        })
    };

    // Writes until the reader that keeps up has read RECORDS: more than the ring (16,384 lines)
    // and the stalled reader's socket buffers (a few MB) hold. Each write is several records
    // (request, prep, proposal, persist, commit, reply, …).
    let start = Instant::now();
    let mut runs = 0;
    while seen.load(Ordering::Relaxed) < RECORDS && start.elapsed() < Duration::from_secs(90) {
        let out = Command::new(BIN)
            .args([
                "bench",
                "--hosts",
                &server.client,
                "--op",
                "set",
                "--secs",
                "2",
            ])
            .args(["--inflight", "64"])
            .output()
            .expect("zablab bench");
        assert!(
            out.status.success(),
            "bench: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        runs += 1;
    }
    done.store(true, Ordering::Relaxed);
    let records = seen.load(Ordering::Relaxed);
    assert!(
        records >= RECORDS,
        "only {records} records after {runs} bench runs"
    );
    let (skipped_by_the_reader, replies) = reader.join().expect("reader");
    assert_eq!(
        skipped_by_the_reader, 0,
        "nothing skipped for a reader that keeps up"
    );
    assert!(replies > 0, "the reader that kept up saw the replies");
    eprintln!(
        "the reader that kept up read {records} records, {replies} replies ({runs} bench runs)"
    );

    // The stalled reader now reads: somewhere there is a gap, named with its size, and the
    // stream goes on after it.
    let (mut skipped, mut replies_after_gap) = (0u64, 0u64);
    let start = Instant::now();
    while replies_after_gap == 0 && start.elapsed() < LIMIT {
        match stalled.next_record().map(|r| r.event) {
            Some(HostEvent::Skipped { records }) => skipped += records,
            Some(HostEvent::ClientReply { .. }) if skipped > 0 => replies_after_gap += 1,
            _ => {}
        }
    }
    eprintln!("the stalled reader was told it skipped {skipped} records");
    assert!(skipped > 0, "the stalled reader got a Skipped record");
    assert!(replies_after_gap > 0, "and records after it");
    assert!(skipped <= records, "skipped {skipped} of {records}");
}

const RECORDS: u64 = 150_000;
