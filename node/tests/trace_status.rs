//! A trace reader that connects late starts from a picture: its first record is a `Status`
//! ([`zablab_core::trace::PeerStatus`]) of the server's current state, and more follow while it
//! reads. Its own binary: the stalled-reader test in trace_stream.rs must not share two cores
//! with another server under load.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::trace::{traced_standalone, TraceReader};
use common::{mode, wait_for, BIN};
use zablab_core::trace::{HostEvent, PeerStatus};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn a_reader_that_joins_late_starts_from_a_status_of_the_current_state() {
    let (_dir, server, trace_addr) = traced_standalone("trace-status");
    let first = TraceReader::connect(&trace_addr, LIMIT);
    wait_for(LIMIT, "the server serving", || {
        (mode(&server.client).as_deref() == Some("standalone")).then_some(())
    });
    let out = Command::new(BIN)
        .args(["cli", "-server", &server.client, "create", "/late", "x"])
        .output()
        .expect("cli");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A reader that connects now has missed the create; its first record says where the
    // server is: serving as its own leader, with the create applied at the end of its log.
    let mut late = TraceReader::connect(&trace_addr, LIMIT);
    let status: PeerStatus = match late.next_record().map(|r| r.event) {
        Some(HostEvent::Status(s)) => *s,
        other => panic!("the first record is not a Status: {other:?}"),
    };
    assert_eq!(status.leader, Some(1), "{status:?}");
    let create = status
        .log
        .iter()
        .find(|e| e.label == "create /late")
        .unwrap_or_else(|| panic!("no create /late in {:?}", status.log));
    assert!(create.applied, "{create:?}");
    assert!(status.last_processed_zxid >= create.zxid);

    // And another one comes while it reads (every STATUS_EVERY_MS, 1 s).
    let start = Instant::now();
    let again = late.until(
        Duration::from_secs(10),
        |_| {},
        |r| matches!(r.event, HostEvent::Status(_)).then_some(()),
    );
    assert!(again.is_some(), "no second Status within 10 s");
    println!("second status after {:?}", start.elapsed());
    drop(first);
}
