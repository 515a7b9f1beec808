//! Reading a server's `--trace-addr` stream as the one trace format: the header first (its
//! version checked), then every line parsed as the core's `TraceRecord`. A line that does not
//! parse fails the test, so the node and the core cannot drift apart unseen.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use zablab_core::trace::{HostEvent, TraceHeader, TraceRecord, TRACE_FORMAT_VERSION};

use super::{free_base_port, wait_for, Server, TempDir};

pub struct TraceReader {
    reader: BufReader<TcpStream>,
    pub header: TraceHeader,
    line: String,
}

impl TraceReader {
    /// Connects (waiting up to `limit` for the port) and reads the header.
    pub fn connect(addr: &str, limit: Duration) -> TraceReader {
        let stream = wait_for(limit, "the trace port", || TcpStream::connect(addr).ok());
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut r = TraceReader {
            reader: BufReader::new(stream),
            header: TraceHeader::new(None),
            line: String::new(),
        };
        let start = Instant::now();
        let first = loop {
            match r.next_line() {
                Some(l) => break l,
                None if start.elapsed() < limit => continue,
                None => panic!("no trace header from {addr}"),
            }
        };
        r.header = serde_json::from_str(&first)
            .unwrap_or_else(|e| panic!("the first line is a TraceHeader ({e}): {first}"));
        assert!(r.header.is_readable(), "header {:?}", r.header);
        assert_eq!(r.header.version, TRACE_FORMAT_VERSION);
        r
    }

    /// The next line, or `None` after a 2 s read timeout (the stream stays open).
    fn next_line(&mut self) -> Option<String> {
        self.line.clear();
        match self.reader.read_line(&mut self.line) {
            Ok(0) => panic!("the trace stream closed"),
            Ok(_) => Some(self.line.trim().to_string()),
            Err(_) => None,
        }
    }

    /// The next record, or `None` after a read timeout.
    pub fn next_record(&mut self) -> Option<TraceRecord> {
        let line = self.next_line()?;
        let r: TraceRecord = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("a trace line is not a TraceRecord ({e}): {line}"));
        if let Some(node) = self.header.node {
            assert_eq!(r.node, node, "a record of another server: {line}");
        }
        Some(r)
    }

    /// Reads records until `f` returns `Some`, within `limit`; every record read is also
    /// handed to `seen`.
    pub fn until<T>(
        &mut self,
        limit: Duration,
        mut seen: impl FnMut(&TraceRecord),
        mut f: impl FnMut(&TraceRecord) -> Option<T>,
    ) -> Option<T> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(r) = self.next_record() {
                seen(&r);
                if let Some(t) = f(&r) {
                    return Some(t);
                }
            }
        }
        None
    }

    /// Reads until the server receives DIFF, TRUNC or SNAP; returns (kind, sender).
    pub fn sync_packet(&mut self, limit: Duration) -> Option<(String, u64)> {
        self.until(
            limit,
            |_| {},
            |r| match &r.event {
                HostEvent::Deliver { from, kind, .. }
                    if ["DIFF", "TRUNC", "SNAP"].contains(&kind.as_ref()) =>
                {
                    Some((kind.to_string(), *from))
                }
                _ => None,
            },
        )
    }
}

/// A standalone server on 127.0.0.1 with a trace port; it waits (up to 20 s) for a first
/// reader before it starts its peer, so a reader sees the records from `Started` on.
pub fn traced_standalone(tag: &str) -> (TempDir, Server, String) {
    let dir = TempDir::new(tag);
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
    (dir, server, trace_addr)
}
