//! `--trace-addr`: this server's trace in the one trace format both hosts write
//! (`zablab_core::trace::record`, docs/trace-format.md): a [`TraceHeader`] line, then one
//! [`TraceRecord`] per line, serde JSON, to any client connected over plain TCP. The simulator
//! keeps the same records, so a reader (the lab, a test) reads a real server as it reads a
//! simulated one.
//!
//! A slow reader loses records, and is told how many by a `Skipped` record, rather than slowing
//! the server: records go through one bounded broadcast ring ([`RING_RECORDS`] lines of at most
//! a few hundred bytes each), and a reader that does not take a line within [`WRITE_TIMEOUT`]
//! is disconnected.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use zablab_core::time::Instant;
use zablab_core::trace::{HostEvent, TraceHeader, TraceRecord};
use zablab_core::zxid::Sid;

/// Lines the ring holds for the slowest reader before it starts skipping. A record is a few
/// hundred bytes at most (the largest, `VoteReceived`, carries two votes and a notification),
/// so the ring stays within a few MB whatever the readers do.
pub const RING_RECORDS: usize = 16384;

/// How long one line may take to reach a reader's socket before the reader is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Readers at once; more are refused (closed at once), so trace readers cannot pile up tasks.
pub const MAX_READERS: usize = 16;

/// Publishes records to every connected trace reader.
#[derive(Clone)]
pub struct TracePublisher {
    tx: broadcast::Sender<(Instant, Arc<str>)>,
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
            let _ = self.tx.send((record.time, Arc::from(s)));
        }
    }

    /// Listens on `listener` and streams `node`'s records to each reader.
    pub fn serve(listener: TcpListener, node: Sid) -> TracePublisher {
        let (tx, _) = broadcast::channel::<(Instant, Arc<str>)>(RING_RECORDS);
        let publisher = TracePublisher { tx: tx.clone() };
        let header = serde_json::to_string(&TraceHeader::new(Some(node)))
            .expect("a header always serializes");
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                if tx.receiver_count() >= MAX_READERS {
                    continue; // dropped: closed
                }
                let rx = tx.subscribe();
                tokio::spawn(stream_to(s, rx, header.clone(), node));
            }
        });
        publisher
    }
}

async fn write_line(s: &mut TcpStream, line: &str) -> bool {
    let write = async {
        s.write_all(line.as_bytes()).await?;
        s.write_all(b"\n").await
    };
    matches!(tokio::time::timeout(WRITE_TIMEOUT, write).await, Ok(Ok(())))
}

/// One reader: the header, then every record, a `Skipped` record where it fell behind.
async fn stream_to(
    mut s: TcpStream,
    mut rx: broadcast::Receiver<(Instant, Arc<str>)>,
    header: String,
    node: Sid,
) {
    if !write_line(&mut s, &header).await {
        return;
    }
    let mut skipped = 0u64;
    loop {
        let (time, line) = match rx.recv().await {
            Ok(l) => l,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                skipped = skipped.saturating_add(n);
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
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
            if !write_line(&mut s, &gap).await {
                return;
            }
            skipped = 0;
        }
        if !write_line(&mut s, &line).await {
            return;
        }
    }
}
