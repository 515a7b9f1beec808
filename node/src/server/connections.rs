//! The open client connections ([`Connections`]: `maxClientCnxns` per address, the lists
//! `cons` and `stat` print) and the per-connection and server-wide request statistics, as
//! ZooKeeper keeps them in `ServerCnxn` and `ServerStats`: what `cons`, `stat`, `srvr` and `mntr` print, what `crst` and `srst`
//! reset. The connection task updates them (it sees every request and reply); the four-letter
//! words read them. No protocol decision depends on them.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

const REL: Ordering = Ordering::Relaxed;

/// Request latency in ms: last, min, max, and the sum and count for the average.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Latency {
    pub last_ms: u64,
    pub min_ms: Option<u64>,
    pub max_ms: u64,
    pub total_ms: u64,
    pub count: u64,
}

impl Latency {
    pub fn record(&mut self, ms: u64) {
        self.last_ms = ms;
        self.min_ms = Some(self.min_ms.map_or(ms, |m| m.min(ms)));
        self.max_ms = self.max_ms.max(ms);
        self.total_ms = self.total_ms.saturating_add(ms);
        self.count += 1;
    }
    /// ZooKeeper prints 0 as the minimum before the first request.
    pub fn min(&self) -> u64 {
        self.min_ms.unwrap_or(0)
    }
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total_ms as f64 / self.count as f64
        }
    }
}

/// The server's statistics (`ServerStats`): latency over every client request answered, and
/// the sizes of the replies (`ClientResponseStats`).
#[derive(Default)]
pub struct ServerStats {
    latency: Mutex<Latency>,
    pub response_sizes: crate::server::metrics::BufferStats,
}

impl ServerStats {
    pub fn record(&self, ms: u64) {
        if let Ok(mut l) = self.latency.lock() {
            l.record(ms);
        }
    }
    pub fn latency(&self) -> Latency {
        self.latency.lock().map(|l| *l).unwrap_or_default()
    }
    /// `srst`: the latency and the reply sizes start over.
    pub fn reset(&self) {
        if let Ok(mut l) = self.latency.lock() {
            *l = Latency::default();
        }
        self.response_sizes.reset();
    }
}

/// Bounds the requests whose start time is remembered for latency: at most this many in
/// flight per connection are timed (the budget already bounds what is in flight).
const MAX_TIMED_REQUESTS: usize = 10_000;

/// One client connection's statistics (`ServerCnxn`).
pub struct ConnStats {
    pub remote: SocketAddr,
    recved: AtomicU64,
    sent: AtomicU64,
    session_id: AtomicI64,
    timeout_ms: AtomicI64,
    established_ms: AtomicU64,
    last_cxid: AtomicI64,
    last_zxid: AtomicI64,
    last_response_ms: AtomicU64,
    /// Wall ms of the last packet received: the connection's expiry bucket in `dump`.
    last_recv_ms: AtomicU64,
    /// A four-letter-word connection: it no longer reads (ZooKeeper's interest ops 0).
    four_letter: AtomicBool,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    last_op: &'static str,
    latency: Latency,
    /// Requests read and not yet answered, by xid, with when they were read.
    pending: HashMap<i32, (Instant, &'static str)>,
}

/// A snapshot of a connection's statistics, for formatting.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnInfo {
    pub remote: SocketAddr,
    /// ZooKeeper's interest ops: 1 (reading) for a client, 0 for a four-letter word.
    pub interest_ops: u8,
    pub queued: u64,
    pub recved: u64,
    pub sent: u64,
    pub session_id: i64,
    pub last_op: &'static str,
    pub established_ms: u64,
    pub timeout_ms: i64,
    pub last_cxid: i64,
    pub last_zxid: i64,
    pub last_response_ms: u64,
    pub last_recv_ms: u64,
    pub latency: Latency,
}

pub fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl ConnStats {
    pub fn new(remote: SocketAddr) -> ConnStats {
        ConnStats {
            remote,
            recved: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            session_id: AtomicI64::new(0),
            timeout_ms: AtomicI64::new(0),
            established_ms: AtomicU64::new(wall_ms()),
            last_cxid: AtomicI64::new(-1),
            last_zxid: AtomicI64::new(-1),
            last_response_ms: AtomicU64::new(0),
            last_recv_ms: AtomicU64::new(wall_ms()),
            four_letter: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                last_op: "NA",
                ..Inner::default()
            }),
        }
    }

    /// A packet arrived (the ConnectRequest included).
    pub fn packet_received(&self) {
        self.recved.fetch_add(1, REL);
        self.last_recv_ms.store(wall_ms(), REL);
    }

    /// The connection turned out to carry a four-letter word.
    pub fn four_letter(&self) {
        self.four_letter.store(true, REL);
    }

    /// A request with this xid and opcode was read; its reply is timed.
    pub fn request_read(&self, xid: i32, opcode: i32) {
        if let Ok(mut i) = self.inner.lock() {
            if i.pending.len() < MAX_TIMED_REQUESTS {
                i.pending.insert(xid, (Instant::now(), op_name(opcode)));
            }
        }
    }

    /// The session was established (created or moved here).
    pub fn established(&self, session_id: i64, timeout_ms: i32) {
        self.session_id.store(session_id, REL);
        self.timeout_ms.store(timeout_ms as i64, REL);
        self.established_ms.store(wall_ms(), REL);
        self.packet_sent();
        if let Ok(mut i) = self.inner.lock() {
            i.last_op = "SESS";
        }
    }

    /// A watch event went out.
    pub fn packet_sent(&self) {
        self.sent.fetch_add(1, REL);
    }

    /// A reply to `xid` went out: returns its latency in ms if the request was timed.
    pub fn replied(&self, xid: i32, zxid: i64) -> Option<u64> {
        self.packet_sent();
        let now = wall_ms();
        let (start, op) = self.inner.lock().ok()?.pending.remove(&xid)?;
        let ms = start.elapsed().as_millis() as u64;
        if xid >= 0 {
            self.last_cxid.store(xid as i64, REL);
        }
        self.last_zxid.store(zxid, REL);
        self.last_response_ms.store(now, REL);
        if let Ok(mut i) = self.inner.lock() {
            i.last_op = op;
            i.latency.record(ms);
        }
        Some(ms)
    }

    /// `crst`: counters and latency start over (ZooKeeper's `resetStats`).
    pub fn reset(&self) {
        self.recved.store(0, REL);
        self.sent.store(0, REL);
        self.last_cxid.store(-1, REL);
        self.last_zxid.store(-1, REL);
        self.last_response_ms.store(0, REL);
        if let Ok(mut i) = self.inner.lock() {
            i.last_op = "NA";
            i.latency = Latency::default();
        }
    }

    pub fn info(&self) -> ConnInfo {
        let (last_op, latency, queued) = self
            .inner
            .lock()
            .map(|i| (i.last_op, i.latency, i.pending.len() as u64))
            .unwrap_or(("NA", Latency::default(), 0));
        ConnInfo {
            remote: self.remote,
            interest_ops: u8::from(!self.four_letter.load(REL)),
            queued,
            recved: self.recved.load(REL),
            sent: self.sent.load(REL),
            session_id: self.session_id.load(REL),
            last_op,
            established_ms: self.established_ms.load(REL),
            timeout_ms: self.timeout_ms.load(REL),
            last_cxid: self.last_cxid.load(REL),
            last_zxid: self.last_zxid.load(REL),
            last_response_ms: self.last_response_ms.load(REL),
            last_recv_ms: self.last_recv_ms.load(REL),
            latency,
        }
    }
}

/// ZooKeeper's `lastOp` name of an opcode (FinalRequestProcessor).
pub fn op_name(opcode: i32) -> &'static str {
    match opcode {
        11 => "PING",
        14 => "MULT",
        22 => "MLTR",
        1 | 15 | 19 | 21 => "CREA",
        2 | 20 => "DELE",
        5 => "SETD",
        16 => "RECO",
        7 => "SETA",
        -11 => "CLOS",
        9 => "SYNC",
        13 => "CHEC",
        3 => "EXIS",
        4 => "GETD",
        101 => "SETW",
        105 => "STW2",
        106 => "ADDW",
        6 => "GETA",
        8 | 12 => "GETC",
        104 => "GETACN",
        17 => "CHKW",
        18 => "REMW",
        107 => "HOMI",
        103 => "GETE",
        _ => "NA",
    }
}

impl ConnInfo {
    /// One line of `cons` (`brief = false`) or of `stat`'s client list (`brief = true`),
    /// as `ServerCnxn.dumpConnectionInfo` prints it.
    pub fn dump(&self, brief: bool) -> String {
        let mut o = format!(
            " /{}:{}[{}](queued={},recved={},sent={}",
            self.remote.ip(),
            self.remote.port(),
            self.interest_ops,
            self.queued,
            self.recved,
            self.sent
        );
        if !brief && self.session_id != 0 {
            o.push_str(&format!(
                ",sid=0x{:x},lop={},est={},to={}",
                self.session_id, self.last_op, self.established_ms, self.timeout_ms
            ));
            if self.last_cxid >= 0 {
                o.push_str(&format!(",lcxid=0x{:x}", self.last_cxid));
            }
            o.push_str(&format!(
                ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
                self.last_zxid,
                self.last_response_ms,
                self.latency.last_ms,
                self.latency.min(),
                self.latency.avg() as u64,
                self.latency.max_ms
            ));
        }
        o.push(')');
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_tracks_min_avg_max_and_resets() {
        let s = ServerStats::default();
        assert_eq!(s.latency().min(), 0);
        s.record(4);
        s.record(2);
        s.record(9);
        let l = s.latency();
        assert_eq!((l.min(), l.max_ms, l.count, l.last_ms), (2, 9, 3, 9));
        assert!((l.avg() - 5.0).abs() < 1e-9);
        s.reset();
        assert_eq!(s.latency(), Latency::default());
    }

    #[test]
    fn cons_line_has_zookeepers_fields_in_order_and_crst_resets_them() {
        let c = ConnStats::new("127.0.0.1:5000".parse().unwrap());
        c.packet_received();
        c.established(0x1234, 30000);
        assert_eq!(
            c.info().dump(true),
            " /127.0.0.1:5000[1](queued=0,recved=1,sent=1)"
        );
        c.packet_received();
        c.request_read(7, 4);
        assert_eq!(c.info().queued, 1);
        assert!(c.replied(7, 0x2a).is_some());
        let i = c.info();
        let line = i.dump(false);
        let want = format!(
            " /127.0.0.1:5000[1](queued=0,recved=2,sent=2,sid=0x1234,lop=GETD,est={},to=30000,\
             lcxid=0x7,lzxid=0x2a,lresp={},llat=",
            i.established_ms, i.last_response_ms
        );
        assert!(line.starts_with(&want), "{line}\n{want}");
        assert!(line.contains(",minlat=") && line.contains(",avglat=") && line.ends_with(')'));
        c.reset();
        let i = c.info();
        assert_eq!((i.recved, i.sent, i.last_cxid, i.last_op), (0, 0, -1, "NA"));
        assert!(!i.dump(false).contains("lcxid"), "no lcxid before a reply");
        c.four_letter();
        assert!(c
            .info()
            .dump(true)
            .starts_with(" /127.0.0.1:5000[0](queued=0,"));
        // A reply nobody timed (a watch event's xid -1) counts as sent only.
        assert_eq!(c.replied(-1, 5), None);
        assert_eq!(c.info().sent, 1);
    }
}

/// Open client connections, for `Connections:`, `stat`'s client list and maxClientCnxns.
#[derive(Default)]
pub struct Connections {
    total: AtomicU64,
    per_ip: Mutex<HashMap<IpAddr, u32>>,
    list: Mutex<HashMap<SocketAddr, Arc<ConnStats>>>,
}

/// One admitted connection: dropping it gives its slot back.
pub(crate) struct Guard {
    conns: Arc<Connections>,
    peer: SocketAddr,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.conns.total.fetch_sub(1, Ordering::Relaxed);
        if let Ok(mut m) = self.conns.per_ip.lock() {
            if let Some(n) = m.get_mut(&self.peer.ip()) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.remove(&self.peer.ip());
                }
            }
        }
        if let Ok(mut l) = self.conns.list.lock() {
            l.remove(&self.peer);
        }
    }
}

impl Connections {
    pub(crate) fn admit(
        self: &Arc<Self>,
        peer: SocketAddr,
        max_per_ip: u32,
    ) -> Option<(Guard, Arc<ConnStats>)> {
        let mut m = self.per_ip.lock().ok()?;
        let n = m.entry(peer.ip()).or_insert(0);
        if max_per_ip != 0 && *n >= max_per_ip {
            return None;
        }
        *n += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        let stats = Arc::new(ConnStats::new(peer));
        if let Ok(mut l) = self.list.lock() {
            l.insert(peer, stats.clone());
        }
        let guard = Guard {
            conns: self.clone(),
            peer,
        };
        Some((guard, stats))
    }

    /// Every open connection's statistics, by remote address (the four-letter word's own
    /// connection included, as in ZooKeeper).
    pub fn infos(&self) -> Vec<ConnInfo> {
        let mut v: Vec<ConnInfo> = match self.list.lock() {
            Ok(l) => l.values().map(|c| c.info()).collect(),
            Err(_) => return Vec::new(),
        };
        v.sort_by_key(|i| i.remote);
        v
    }

    /// `crst`.
    pub fn reset_stats(&self) {
        if let Ok(l) = self.list.lock() {
            l.values().for_each(|c| c.reset());
        }
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}
