//! The election port (docs/protocol.md §2.1): ZooKeeper's QuorumCnxManager on tokio.
//!
//! * The connecting side sends `i64 -65536; i64 sid; i32 len; "host:port"`; the acceptor also
//!   takes the legacy form (a non-negative first long is the sid).
//! * Only a connection from the larger sid to the smaller is kept: a server dials the smaller
//!   sids itself; to reach a larger sid it "pokes" it (connects, sends the handshake) and the
//!   larger one, seeing a smaller sid, closes that socket and connects back. A newer accepted
//!   connection from the same sid replaces the old one. Each connection carries both directions.
//! * After the handshake every message is `i32 length` + a notification (§2.2); a length
//!   `<= 0` or above 512 KiB drops the connection.
//! * One send slot per peer holding only the newest message; the last message sent is sent again
//!   on a new connection. A peer that is down only delays its own task (dial with backoff).
//! * With `sslQuorum=true` ([`crate::tls`]) each connection is mutual TLS, established before
//!   the handshake above is read or written; a peer whose certificate the trust store does not
//!   vouch for never gets as far as its sid.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};
use tokio::time::{sleep, timeout, Instant};
use zablab_core::message::Notification;
use zablab_core::zxid::Sid;

use crate::codec::wire;
use crate::server::admission::HandshakeSlots;
use crate::tls::{self, BoxStream, QuorumTls};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const MIN_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_millis(1000);

/// Where received notifications go.
pub type Deliver = Arc<dyn Fn(Notification) + Send + Sync>;

struct Slot {
    /// The newest message not yet written (newest vote wins).
    outbox: Mutex<Option<Vec<u8>>>,
    notify: Notify,
    /// Accepted connections from this sid, with when their handshake was read.
    incoming: mpsc::UnboundedSender<(BoxStream, Instant)>,
}

/// Handle to the election transport.
pub struct ElectionNet {
    slots: HashMap<Sid, Arc<Slot>>,
}

impl ElectionNet {
    /// Queues a notification payload for `to`, replacing any message not yet written.
    pub fn send(&self, to: Sid, payload: Vec<u8>) {
        if let Some(slot) = self.slots.get(&to) {
            if let Ok(mut o) = slot.outbox.lock() {
                *o = Some(payload);
            }
            slot.notify.notify_one();
        }
    }
}

/// Binds the election port and starts one task per peer. `peers`: sid → `host:electionPort`.
pub async fn start(
    myid: Sid,
    my_addr: String,
    listen: TcpListener,
    peers: Vec<(Sid, String)>,
    tls: Option<QuorumTls>,
    deliver: Deliver,
) -> ElectionNet {
    let mut slots = HashMap::new();
    for (sid, addr) in peers {
        if sid == myid {
            continue;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let slot = Arc::new(Slot {
            outbox: Mutex::new(None),
            notify: Notify::new(),
            incoming: tx,
        });
        slots.insert(sid, slot.clone());
        tokio::spawn(peer_task(
            myid,
            sid,
            Dialer {
                addr,
                handshake: wire::election_handshake(myid, &my_addr),
                tls: tls.clone(),
            },
            slot,
            rx,
            deliver.clone(),
        ));
    }
    let accept_slots = slots.clone();
    let handshakes = HandshakeSlots::new();
    tokio::spawn(async move {
        loop {
            let (stream, from) = match listen.accept().await {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("zablab: election accept failed: {e}");
                    sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Some(handshake_slot) = handshakes.admit(from.ip()) else {
                eprintln!(
                    "zablab: election connection from {from}: too many handshakes from its address, closing"
                );
                continue;
            };
            let slots = accept_slots.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let handshake = timeout(CONNECT_TIMEOUT, async {
                    let stream = tls::accept_peer(tls.as_ref(), stream).await?;
                    read_handshake(stream).await
                })
                .await;
                drop(handshake_slot);
                match handshake {
                    Ok(Ok((sid, stream))) => match slots.get(&sid) {
                        Some(slot) => {
                            let _ = slot.incoming.send((stream, Instant::now()));
                        }
                        None if sid == myid => eprintln!("zablab: election connection from my own id {sid} ({from}) dropped"),
                        None => eprintln!("zablab: election connection from unknown server {sid} ({from}) dropped"),
                    },
                    Ok(Err(e)) => eprintln!("zablab: bad election handshake from {from}: {e}"),
                    Err(_) => eprintln!("zablab: election handshake from {from} timed out"),
                }
            });
        }
    });
    ElectionNet { slots }
}

/// Reads the handshake a connecting server sends and returns its sid (public, generic over the
/// stream, for the fuzz targets and their corpus replay).
#[doc(hidden)]
pub async fn read_handshake<S: AsyncRead + Unpin>(mut s: S) -> std::io::Result<(Sid, S)> {
    let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
    let first = s.read_i64().await?;
    if first >= 0 {
        return Ok((first as Sid, s)); // legacy: the sid itself
    }
    if first != wire::ELECTION_PROTOCOL_V1 && first != wire::ELECTION_PROTOCOL_V1 + 1 {
        return Err(bad(format!("unknown protocol version {first}")));
    }
    let sid = s.read_i64().await?;
    let len = s.read_i32().await?;
    if len <= 0 || len as usize > wire::MAX_HANDSHAKE_ADDR_BYTES {
        return Err(bad(format!("address length {len}")));
    }
    let mut addr = vec![0u8; len as usize];
    s.read_exact(&mut addr).await?;
    if sid < 0 {
        return Err(bad(format!("sid {sid}")));
    }
    Ok((sid as Sid, s))
}

/// How to reach one peer: its address, our handshake, TLS when `sslQuorum` is on.
#[derive(Clone)]
struct Dialer {
    addr: String,
    handshake: Vec<u8>,
    tls: Option<QuorumTls>,
}

impl Dialer {
    async fn dial(&self) -> std::io::Result<BoxStream> {
        dial(&self.addr, &self.handshake, self.tls.as_ref()).await
    }
}

async fn dial(addr: &str, handshake: &[u8], tls: Option<&QuorumTls>) -> std::io::Result<BoxStream> {
    let work = async {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        let mut s = tls::connect_peer(tls, addr, s).await?;
        tls::write_all_flush(&mut s, handshake).await?;
        Ok(s)
    };
    timeout(CONNECT_TIMEOUT, work)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
}

/// Reads notification frames from `sid` until the stream ends or sends something malformed;
/// returns why it stopped (public, generic over the stream, for the fuzz targets).
#[doc(hidden)]
pub async fn read_frames<R: AsyncRead + Unpin>(mut rd: R, sid: Sid, deliver: Deliver) -> String {
    loop {
        let len = match rd.read_i32().await {
            Ok(n) => n,
            Err(e) => return format!("closed: {e}"),
        };
        if len <= 0 || len as usize > wire::MAX_ELECTION_MESSAGE_BYTES {
            return format!("bad message length {len}");
        }
        let mut buf = vec![0u8; len as usize];
        if let Err(e) = rd.read_exact(&mut buf).await {
            return format!("closed: {e}");
        }
        match wire::decode_notification(&buf, sid) {
            Ok(Some(n)) => deliver(n),
            Ok(None) => {}
            Err(e) => return format!("bad notification: {e}"),
        }
    }
}

async fn peer_task(
    myid: Sid,
    sid: Sid,
    dialer: Dialer,
    slot: Arc<Slot>,
    mut incoming: mpsc::UnboundedReceiver<(BoxStream, Instant)>,
    deliver: Deliver,
) {
    let mut last_sent: Option<Vec<u8>> = None;
    let mut backoff = MIN_BACKOFF;
    let mut next: Option<BoxStream> = None;
    let pending = |last: &Option<Vec<u8>>| {
        last.is_some() || slot.outbox.lock().map(|o| o.is_some()).unwrap_or(false)
    };
    loop {
        // 1. Get a connection.
        let stream = if let Some(s) = next.take() {
            s
        } else if myid > sid {
            if !pending(&last_sent) {
                tokio::select! {
                    _ = slot.notify.notified() => {}
                    s = incoming.recv() => { drop(s); }
                }
                // A poke from the smaller sid means it wants a connection: dial below.
            }
            match dialer.dial().await {
                Ok(s) => s,
                Err(_) => {
                    sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        } else {
            // The larger sid keeps the connection: poke it when we have something to say.
            if pending(&last_sent) {
                let d = dialer.clone();
                tokio::spawn(async move {
                    if let Ok(mut s) = d.dial().await {
                        // The remote closes it; wait briefly so it reads the handshake first.
                        let mut b = [0u8; 1];
                        let _ = timeout(Duration::from_secs(1), s.read(&mut b)).await;
                    }
                });
            }
            tokio::select! {
                s = incoming.recv() => match s { Some((s, _)) => s, None => return },
                _ = sleep(backoff) => {
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
                _ = slot.notify.notified(), if !pending(&last_sent) => continue,
            }
        };
        backoff = MIN_BACKOFF;
        let connected_at = Instant::now();
        // 2. Use it in both directions until it breaks or is replaced.
        let (rd, mut wr) = tokio::io::split(stream);
        let (closed_tx, mut closed_rx) = tokio::sync::oneshot::channel::<String>();
        let reader = tokio::spawn({
            let deliver = deliver.clone();
            async move {
                let why = read_frames(rd, sid, deliver).await;
                let _ = closed_tx.send(why);
            }
        });
        let mut resend = slot.outbox.lock().map(|o| o.is_none()).unwrap_or(true);
        loop {
            let msg = if resend {
                resend = false;
                last_sent.clone()
            } else {
                None
            };
            let msg = match msg {
                Some(m) => Some(m),
                None => slot.outbox.lock().ok().and_then(|mut o| o.take()),
            };
            if let Some(m) = msg {
                last_sent = Some(m.clone());
                let mut frame = Vec::with_capacity(4 + m.len());
                frame.extend_from_slice(&(m.len() as i32).to_be_bytes());
                frame.extend_from_slice(&m);
                match timeout(CONNECT_TIMEOUT, tls::write_all_flush(&mut wr, &frame)).await {
                    Ok(Ok(())) => continue,
                    _ => break,
                }
            }
            tokio::select! {
                _ = &mut closed_rx => break,
                _ = slot.notify.notified() => {}
                s = incoming.recv() => match s {
                    // From a larger sid: the newer connection replaces this one.
                    Some((s, _)) if sid > myid => {
                        next = Some(s);
                        break;
                    }
                    // A poke read before this connection was made is stale: the smaller sid
                    // sent it while our connection was on its way (a TLS handshake takes
                    // longer than its poke interval). Closing for it would start the race
                    // again.
                    Some((_, poked_at)) if poked_at < connected_at => {}
                    // A poke from a smaller sid: it has no connection to us; dial again.
                    Some(_) => break,
                    None => return,
                }
            }
        }
        reader.abort();
    }
}

/// The address to bind for `host:port` (the host as given, e.g. 127.0.0.1 or 0.0.0.0).
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
