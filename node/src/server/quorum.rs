//! The quorum port (docs/protocol.md §3.2): the leader listens, learners connect; each message is a
//! jute QuorumPacket written straight onto the stream ([`wire::encode_quorum`]).
//!
//! * Accepted side: the first packet must be FOLLOWERINFO or OBSERVERINFO; its LearnerInfo
//!   names the learner's sid. The runtime keeps the connection only while its peer is LEADING
//!   (ZooKeeper's leader listens only while leading); otherwise it is closed and the learner
//!   retries.
//! * Dialing side (learner): connects to the leader's quorum port and sends FOLLOWERINFO; until
//!   the leader's first packet arrives, a refused or closed connection is retried
//!   ([`DIAL_ATTEMPTS`] times, [`DIAL_RETRY`] apart, like ZooKeeper's 5 tries 100 ms apart).
//! * Once established, EOF, a reset or a malformed packet ends the connection and becomes a
//!   [`QuorumEvent::Closed`] (the runtime's `Input::PeerDisconnected`). Decoders never panic.
//! * Bytes buffered are bounded by what the protocol expects next: a stranger on the quorum
//!   port gets [`MAX_UNIDENTIFIED_PACKET_BYTES`] for its LEARNERINFO (and one of
//!   [`crate::server::admission`]'s handshake slots for its address), an identified learner sends
//!   nothing larger than a REQUEST or PING (`2 × jute.maxbuffer`), and only the leader a
//!   learner dialed may send a SNAP ([`MAX_SNAPSHOT_BYTES`]) after its LEADERINFO.
//! * With `sslQuorum=true` ([`crate::tls`]) every connection is mutual TLS: the acceptor's
//!   handshake (in the stranger's handshake slot, within the first-packet timeout) must succeed
//!   before a byte of LEARNERINFO is read, and the dialer checks the leader's certificate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::{sleep, timeout};
use zablab_core::zxid::Sid;

use crate::codec::jute::{JuteError, Reader};
use crate::codec::machine::NodeMachine;
use crate::codec::wire::{self, Decoded, NodeMessage};
use crate::server::admission::HandshakeSlots;
use crate::tls::{self, BoxStream, QuorumTls};

pub const DIAL_ATTEMPTS: u32 = 20;
pub const DIAL_RETRY: Duration = Duration::from_millis(25);
/// The largest snapshot accepted from a leader.
const MAX_SNAPSHOT_BYTES: usize = 1 << 30;
/// The most bytes read from a connection before its first packet decodes: FOLLOWERINFO or
/// OBSERVERINFO (accepted side), LEADERINFO (dialing side) take about 40 bytes.
pub const MAX_UNIDENTIFIED_PACKET_BYTES: usize = 4096;
/// Slack over the largest buffer for the packet's own fields.
const PACKET_SLACK_BYTES: usize = 64 * 1024;

static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);

/// One quorum connection; dropping it closes the socket.
pub struct QuorumConn {
    pub id: u64,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    tasks: Vec<AbortHandle>,
}

impl QuorumConn {
    /// Queues encoded packet bytes.
    pub fn send(&self, bytes: Vec<u8>) {
        let _ = self.tx.send(bytes);
    }
}

impl Drop for QuorumConn {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Reads whole packets from a stream, buffering partial ones, never more than
/// `max_buffered_bytes` at a time.
struct PacketReader {
    rd: ReadHalf<BoxStream>,
    buf: Vec<u8>,
    max_len: usize,
    max_buffered_bytes: usize,
    last_fail_len: usize,
}

impl PacketReader {
    fn new(rd: ReadHalf<BoxStream>, max_len: usize, max_buffered_bytes: usize) -> PacketReader {
        PacketReader {
            rd,
            buf: Vec::new(),
            max_len,
            max_buffered_bytes,
            last_fail_len: 0,
        }
    }

    async fn next<M: NodeMachine>(&mut self) -> Result<Decoded<M>, String> {
        let mut try_decode = !self.buf.is_empty();
        loop {
            if try_decode {
                let mut r = Reader::with_max_len(&self.buf, self.max_len);
                match wire::decode_quorum::<M>(&mut r) {
                    Ok(d) => {
                        let n = r.position();
                        self.buf.drain(..n);
                        self.last_fail_len = 0;
                        return Ok(d);
                    }
                    Err(JuteError::Eof) => self.last_fail_len = self.buf.len(),
                    Err(JuteError::Malformed(m)) => return Err(format!("malformed packet: {m}")),
                }
            }
            if self.buf.len() > self.max_buffered_bytes {
                return Err(format!(
                    "packet larger than {} bytes where none is expected",
                    self.max_buffered_bytes
                ));
            }
            // Read at most one byte past the bound, so the check above fires before more.
            let spare = (self.max_buffered_bytes + 1 - self.buf.len()).min(64 * 1024);
            self.buf.reserve(spare);
            let n = (&mut self.rd)
                .take(spare as u64)
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| format!("read error: {e}"))?;
            if n == 0 {
                return Err("connection closed".into());
            }
            // Re-parse when the stream paused or the buffer doubled (a SNAP can be large).
            try_decode = n < spare || self.buf.len() >= 2 * self.last_fail_len;
        }
    }
}

async fn write_loop(wr: WriteHalf<BoxStream>, mut rx: mpsc::UnboundedReceiver<Vec<u8>>) {
    let mut w = BufWriter::with_capacity(64 * 1024, wr);
    while let Some(b) = rx.recv().await {
        if w.write_all(&b).await.is_err() {
            return;
        }
        while let Ok(b) = rx.try_recv() {
            if w.write_all(&b).await.is_err() {
                return;
            }
        }
        if w.flush().await.is_err() {
            return;
        }
    }
    let _ = w.shutdown().await;
}

/// What the quorum port tells the peer task ([`super::runtime`] wraps it in its own event type).
pub enum QuorumEvent<M: NodeMachine> {
    /// A learner connected to our quorum port; `msg` is its FOLLOWERINFO/OBSERVERINFO.
    Accepted {
        sid: Sid,
        conn: QuorumConn,
        msg: NodeMessage<M>,
    },
    Packet {
        sid: Sid,
        conn_id: u64,
        msg: NodeMessage<M>,
    },
    /// The connection ended (EOF, reset, a malformed packet, or the dialer gave up).
    Closed { sid: Sid, conn_id: u64, why: String },
}

/// Accepts learners on the quorum port; each becomes a [`QuorumEvent::Accepted`].
pub fn spawn_listener<M: NodeMachine, E: From<QuorumEvent<M>> + Send + 'static>(
    listener: TcpListener,
    events: mpsc::UnboundedSender<E>,
    max_len: usize,
    first_packet_timeout: Duration,
    tls: Option<QuorumTls>,
) {
    let slots = HandshakeSlots::new();
    tokio::spawn(async move {
        loop {
            let (stream, from) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("zablab: quorum accept failed: {e}");
                    sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Some(slot) = slots.admit(from.ip()) else {
                eprintln!(
                    "zablab: quorum connection from {from}: too many handshakes from its address, closing"
                );
                continue;
            };
            let events = events.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let stream =
                    match timeout(first_packet_timeout, tls::accept_peer(tls.as_ref(), stream))
                        .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            eprintln!("zablab: quorum connection from {from} refused: {e}");
                            return;
                        }
                        Err(_) => {
                            eprintln!(
                                "zablab: quorum connection from {from}: no TLS handshake in time"
                            );
                            return;
                        }
                    };
                let (rd, wr) = tokio::io::split(stream);
                let mut reader = PacketReader::new(rd, max_len, MAX_UNIDENTIFIED_PACKET_BYTES);
                let first = match timeout(first_packet_timeout, reader.next::<M>()).await {
                    Ok(Ok(d)) => d,
                    Ok(Err(e)) => {
                        eprintln!("zablab: quorum connection from {from}: {e}");
                        return;
                    }
                    Err(_) => {
                        eprintln!("zablab: quorum connection from {from}: no LEARNERINFO in time");
                        return;
                    }
                };
                let Some(sid) = first.learner_sid else {
                    eprintln!("zablab: quorum connection from {from} did not start with FOLLOWERINFO/OBSERVERINFO");
                    return;
                };
                // Identified: a learner's largest packet is a REQUEST or a PING.
                drop(slot);
                reader.max_buffered_bytes = max_len + PACKET_SLACK_BYTES;
                let id = NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed);
                let (tx, rx) = mpsc::unbounded_channel();
                let writer = tokio::spawn(write_loop(wr, rx)).abort_handle();
                let ev2 = events.clone();
                let read = tokio::spawn(async move {
                    loop {
                        match reader.next::<M>().await {
                            Ok(d) => {
                                if ev2
                                    .send(
                                        QuorumEvent::Packet {
                                            sid,
                                            conn_id: id,
                                            msg: d.msg,
                                        }
                                        .into(),
                                    )
                                    .is_err()
                                {
                                    return;
                                }
                            }
                            Err(why) => {
                                let _ = ev2.send(
                                    QuorumEvent::Closed {
                                        sid,
                                        conn_id: id,
                                        why,
                                    }
                                    .into(),
                                );
                                return;
                            }
                        }
                    }
                })
                .abort_handle();
                let conn = QuorumConn {
                    id,
                    tx,
                    tasks: vec![writer, read],
                };
                let _ = events.send(
                    QuorumEvent::Accepted {
                        sid,
                        conn,
                        msg: first.msg,
                    }
                    .into(),
                );
            });
        }
    });
}

/// Connects to the leader `sid` at `addr` and sends `first` (FOLLOWERINFO/OBSERVERINFO).
pub fn dial<M: NodeMachine, E: From<QuorumEvent<M>> + Send + 'static>(
    sid: Sid,
    addr: String,
    first: Vec<u8>,
    events: mpsc::UnboundedSender<E>,
    max_len: usize,
    tls: Option<QuorumTls>,
) -> QuorumConn {
    let id = NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let task = tokio::spawn(async move {
        let mut attempt = 0;
        let why = 'outer: loop {
            attempt += 1;
            let stream = match timeout(Duration::from_secs(5), TcpStream::connect(&addr)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) if attempt < DIAL_ATTEMPTS => {
                    let _ = e;
                    sleep(DIAL_RETRY).await;
                    continue;
                }
                Ok(Err(e)) => break format!("cannot connect to {addr}: {e}"),
                Err(_) => break format!("connect to {addr} timed out"),
            };
            let _ = stream.set_nodelay(true);
            let stream = match timeout(
                Duration::from_secs(5),
                tls::connect_peer(tls.as_ref(), &addr, stream),
            )
            .await
            {
                Ok(Ok(s)) => s,
                // A leader whose handshake slots are full closes at once: retry as a refused
                // connect is retried. A certificate the trust store refuses fails every time.
                Ok(Err(_)) | Err(_) if attempt < DIAL_ATTEMPTS => {
                    sleep(DIAL_RETRY).await;
                    continue;
                }
                Ok(Err(e)) => break format!("cannot connect to {addr}: {e}"),
                Err(_) => break format!("TLS handshake with {addr} timed out"),
            };
            let (rd, mut wr) = tokio::io::split(stream);
            let mut reader = PacketReader::new(rd, max_len, MAX_UNIDENTIFIED_PACKET_BYTES);
            if tls::write_all_flush(&mut wr, &first).await.is_err() {
                sleep(DIAL_RETRY).await;
                continue;
            }
            let mut established = false;
            loop {
                tokio::select! {
                    d = reader.next::<M>() => match d {
                        Ok(d) => {
                            // After LEADERINFO the leader syncs us: a SNAP may follow.
                            established = true;
                            reader.max_buffered_bytes = MAX_SNAPSHOT_BYTES;
                            if events.send(QuorumEvent::Packet { sid, conn_id: id, msg: d.msg }.into()).is_err() {
                                return;
                            }
                        }
                        Err(why) if !established && attempt < DIAL_ATTEMPTS => {
                            let _ = why;
                            sleep(DIAL_RETRY).await;
                            continue 'outer;
                        }
                        Err(why) => break 'outer why,
                    },
                    b = rx.recv() => match b {
                        Some(b) => {
                            if let Err(e) = tls::write_all_flush(&mut wr, &b).await {
                                break 'outer format!("write error: {e}");
                            }
                        }
                        None => return,
                    },
                }
            }
        };
        let _ = events.send(
            QuorumEvent::Closed {
                sid,
                conn_id: id,
                why,
            }
            .into(),
        );
    });
    QuorumConn {
        id,
        tx,
        tasks: vec![task.abort_handle()],
    }
}
