//! The `--trace-addr` stream never slows the server for a reader: a reader that stops reading
//! while the server takes thousands of writes is left behind, and when it reads again the stream
//! says how many records it skipped (a `Skipped` record) and goes on; a reader that keeps up
//! sees no gap. Every line is checked as the core's `TraceRecord` (tests/common/trace.rs).

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::trace::{traced_standalone, TraceReader};
use common::{mode, wait_for, BIN};
use zablab_core::trace::HostEvent;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn a_reader_that_falls_behind_is_told_how_many_records_it_skipped() {
    let (_dir, server, trace_addr) = traced_standalone("trace-stream");
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
    // (request, prep, proposal, persist, commit, reply, …). The load is open loop at a rate a
    // reader parsing every record keeps up with on two busy cores (the server itself streams
    // far faster, but a test reader that falls behind would be told it skipped, as it should).
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
            .args(["--inflight", "16", "--rate", "2000"])
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

/// One WebSocket text frame from the server (unmasked, as RFC 6455 requires of servers).
fn read_text_frame(s: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    let mut h = [0u8; 2];
    s.read_exact(&mut h).expect("frame header");
    assert_eq!(h[0], 0x81, "a final text frame");
    assert_eq!(h[1] & 0x80, 0, "server frames are not masked");
    let len = match h[1] & 0x7F {
        126 => {
            let mut b = [0u8; 2];
            s.read_exact(&mut b).expect("length");
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).expect("length");
            usize::try_from(u64::from_be_bytes(b)).expect("length fits")
        }
        n => n as usize,
    };
    assert!(len < 1 << 20, "a record of {len} bytes");
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).expect("payload");
    String::from_utf8(payload).expect("text frames are UTF-8")
}

/// Sends a WebSocket opening handshake from `origin` and returns the reply's head.
fn handshake(addr: &str, origin: &str) -> (std::net::TcpStream, String) {
    use std::io::{Read, Write};
    let mut s = wait_for(LIMIT, "the trace port", || {
        std::net::TcpStream::connect(addr).ok()
    });
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Origin: {origin}\r\n\r\n"
    )
    .expect("handshake");
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert!(head.len() < 4096, "reply head too long");
        s.read_exact(&mut b).expect("reply");
        head.push(b[0]);
    }
    (s, String::from_utf8(head).expect("ASCII head"))
}

#[test]
fn a_browser_reads_the_same_records_over_a_websocket() {
    use zablab_core::trace::{TraceHeader, TraceRecord, TRACE_FORMAT_VERSION};
    let (_dir, _server, trace_addr) = traced_standalone("trace-ws");
    let (mut ws, head) = handshake(&trace_addr, "http://127.0.0.1:8000");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    // RFC 6455 §1.3's example key and its accept value.
    assert!(
        head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{head}"
    );
    let header: TraceHeader = serde_json::from_str(&read_text_frame(&mut ws)).expect("header");
    assert_eq!(header.version, TRACE_FORMAT_VERSION);
    let mut kinds = Vec::new();
    while !kinds.contains(&"LeaderEstablished") {
        assert!(kinds.len() < 10_000, "no LeaderEstablished in {kinds:?}");
        let text = read_text_frame(&mut ws);
        let r: TraceRecord = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("a frame is not a TraceRecord ({e}): {text}"));
        kinds.push(match &r.event {
            HostEvent::Started => "Started",
            HostEvent::Status(_) => "Status",
            HostEvent::Persist { .. } => "Persist",
            HostEvent::Peer(ev) => ev.name(),
            _ => "other",
        });
    }
    // The recovered state's picture, then the run from its start.
    assert_eq!(
        kinds.get(..2),
        Some(&["Status", "Started"][..]),
        "{kinds:?}"
    );
    assert!(kinds.contains(&"Persist"), "{kinds:?}");

    // A page from elsewhere cannot read it through the user's browser.
    let (_s, head) = handshake(&trace_addr, "http://evil.example");
    assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
}
