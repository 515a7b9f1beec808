//! `--trace-addr`: this server's trace in the one trace format both hosts write
//! (`zablab_core::trace::record`, docs/trace-format.md): a [`TraceHeader`], then one
//! [`TraceRecord`] per message, serde JSON. The simulator keeps the same records, so a reader
//! (the lab, a test) reads a real server as it reads a simulated one.
//!
//! One port, two framings: a reader that opens with a WebSocket handshake (a browser:
//! `new WebSocket("ws://127.0.0.1:PORT/")`, from a page of this machine) gets one text frame per
//! record (`codec/websocket.rs`); a reader that sends nothing for [`SNIFF`] gets one line per
//! record over plain TCP (`nc`, the tests).
//!
//! A slow reader loses records, and is told how many by a `Skipped` record, rather than slowing
//! the server: records go through one bounded broadcast ring ([`RING_RECORDS`] lines of at most
//! a few hundred bytes each), and a reader that does not take a line within [`WRITE_TIMEOUT`]
//! is disconnected.
//!
//! A reader starts from a picture, not from the middle of a story: when it connects it asks
//! the runtime for a `Status` record ([`zablab_core::trace::PeerStatus`]) and gets the records
//! from that one on; while anyone reads, the runtime adds a status every [`STATUS_EVERY_MS`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, Notify};
use zablab_core::time::Instant;
use zablab_core::trace::{HostEvent, TraceHeader, TraceRecord};
use zablab_core::zxid::Sid;

use crate::codec::websocket;

/// Lines the ring holds for the slowest reader before it starts skipping. A record is a few
/// hundred bytes at most (the largest, `VoteReceived`, carries two votes and a notification),
/// so the ring stays within a few MB whatever the readers do.
pub const RING_RECORDS: usize = 16384;

/// How long one line may take to reach a reader's socket before the reader is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a new reader has to start a WebSocket handshake before it is read as plain lines.
pub const SNIFF: Duration = Duration::from_millis(300);

/// How long a WebSocket handshake may take to arrive whole.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Readers at once; more are refused (closed at once), so trace readers cannot pile up tasks.
pub const MAX_READERS: usize = 16;

/// While anyone reads, a `Status` record at least this often (ms), so a reader's picture of
/// the timers and the log never drifts far from the server's.
pub const STATUS_EVERY_MS: u64 = 1000;

/// How long a new reader waits for its first `Status` record; the records before it are
/// already in that picture, so they are not sent.
const FIRST_STATUS_WAIT: Duration = Duration::from_secs(2);

/// One record as the ring carries it: its time, whether it is a `Status`, its JSON.
type Line = (Instant, bool, Arc<str>);

/// Publishes records to every connected trace reader.
#[derive(Clone)]
pub struct TracePublisher {
    tx: broadcast::Sender<Line>,
    /// A new reader asks the runtime for a status record through this.
    status_wanted: Arc<Notify>,
    /// When the last status record was published (the record clock's ms).
    last_status_ms: Arc<AtomicU64>,
}

impl TracePublisher {
    /// True while someone reads: the runtime builds records only then.
    pub fn is_active(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    pub fn publish(&self, record: &TraceRecord) {
        if !self.is_active() {
            return;
        }
        if let Ok(s) = serde_json::to_string(record) {
            let status = matches!(record.event, HostEvent::Status(_));
            let _ = self.tx.send((record.time, status, Arc::from(s)));
        }
    }

    /// Woken when a new reader wants a status record (the runtime selects on it).
    pub fn status_wanted(&self) -> Arc<Notify> {
        self.status_wanted.clone()
    }

    /// Whether the runtime should publish a status record now: a reader `asked`, or
    /// [`STATUS_EVERY_MS`] passed since the last one while someone reads. Records the time
    /// when it says yes.
    pub fn status_due(&self, now: Instant, asked: bool) -> bool {
        if !self.is_active() {
            return false;
        }
        let last = self.last_status_ms.load(Ordering::Relaxed);
        let due = asked || now.0.saturating_sub(last) >= STATUS_EVERY_MS;
        if due {
            self.last_status_ms.store(now.0, Ordering::Relaxed);
        }
        due
    }

    /// Listens on `listener` and streams `node`'s records to each reader.
    pub fn serve(listener: TcpListener, node: Sid) -> TracePublisher {
        let (tx, _) = broadcast::channel::<Line>(RING_RECORDS);
        let publisher = TracePublisher {
            tx: tx.clone(),
            status_wanted: Arc::new(Notify::new()),
            last_status_ms: Arc::new(AtomicU64::new(0)),
        };
        let wanted = publisher.status_wanted();
        let header = serde_json::to_string(&TraceHeader::new(Some(node)))
            .expect("a header always serializes");
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                if tx.receiver_count() >= MAX_READERS {
                    continue; // dropped: closed
                }
                let rx = tx.subscribe();
                // Asked at once, not after the handshake, so the picture is in the ring
                // before the records the reader is waiting for.
                wanted.notify_one();
                tokio::spawn(stream_to(s, rx, header.clone(), node));
            }
        });
        publisher
    }
}

/// How a reader gets its records.
#[derive(Clone, Copy)]
enum Framing {
    /// One JSON object per line.
    Lines,
    /// One JSON object per WebSocket text frame.
    WebSocket,
}

async fn write_line(s: &mut TcpStream, framing: Framing, line: &str) -> bool {
    let write = async {
        match framing {
            Framing::Lines => {
                s.write_all(line.as_bytes()).await?;
                s.write_all(b"\n").await
            }
            Framing::WebSocket => s.write_all(&websocket::text_frame(line)).await,
        }
    };
    matches!(tokio::time::timeout(WRITE_TIMEOUT, write).await, Ok(Ok(())))
}

/// Tells a WebSocket reader from a plain one, and completes the WebSocket handshake; `None`
/// when the handshake was refused (the refusal is sent) or failed.
async fn negotiate(s: &mut TcpStream) -> Option<Framing> {
    let mut first = [0u8; 4];
    match tokio::time::timeout(SNIFF, s.peek(&mut first)).await {
        Ok(Ok(4)) if &first == b"GET " => {}
        Ok(Ok(n)) if n > 0 && b"GET "[..n] == first[..n] => {
            // A handshake still arriving: read it below.
        }
        Ok(Ok(0)) => return None, // closed
        Ok(Ok(_)) | Err(_) => return Some(Framing::Lines),
        Ok(Err(_)) => return None,
    }
    let mut head = Vec::with_capacity(1024);
    let read = async {
        let mut buf = [0u8; 1024];
        while !websocket::head_complete(&head) && head.len() <= websocket::MAX_REQUEST_BYTES {
            let n = s.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Some(())
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, read).await.ok()??;
    let reply = match websocket::parse_upgrade(&head) {
        Ok(up) if websocket::origin_allowed(up.origin.as_deref()) => {
            Ok(websocket::accept_response(&up))
        }
        Ok(_) => Err(websocket::refusal(
            "403 Forbidden",
            "the trace stream is only for pages served from this machine",
        )),
        Err(why) => Err(websocket::refusal("400 Bad Request", why)),
    };
    let (bytes, framing) = match &reply {
        Ok(r) => (r.as_bytes(), Some(Framing::WebSocket)),
        Err(r) => (r.as_bytes(), None),
    };
    let sent = tokio::time::timeout(WRITE_TIMEOUT, s.write_all(bytes)).await;
    matches!(sent, Ok(Ok(()))).then_some(framing).flatten()
}

/// One reader: the header, a status record, then every record, a `Skipped` record where it
/// fell behind.
async fn stream_to(mut s: TcpStream, mut rx: broadcast::Receiver<Line>, header: String, node: Sid) {
    let Some(framing) = negotiate(&mut s).await else {
        return;
    };
    if !write_line(&mut s, framing, &header).await {
        return;
    }
    let first_status_by = tokio::time::Instant::now() + FIRST_STATUS_WAIT;
    let mut pictured = false;
    let mut skipped = 0u64;
    loop {
        let (time, status, line) = match rx.recv().await {
            Ok(l) => l,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                skipped = skipped.saturating_add(n);
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if !pictured {
            // Records before the first status are in its picture; a server whose runtime
            // never answers still streams after the wait.
            pictured = status || tokio::time::Instant::now() >= first_status_by;
            if !pictured {
                continue;
            }
            skipped = 0;
        }
        if skipped > 0 {
            // Stamped with the first record after the gap: the gap ended then.
            let gap = TraceRecord {
                time,
                node,
                event: HostEvent::Skipped { records: skipped },
            };
            let Ok(gap) = serde_json::to_string(&gap) else {
                return;
            };
            if !write_line(&mut s, framing, &gap).await {
                return;
            }
            skipped = 0;
        }
        if !write_line(&mut s, framing, &line).await {
            return;
        }
    }
}
