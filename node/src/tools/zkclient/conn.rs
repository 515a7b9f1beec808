//! The connection machinery behind [`super::ZkClient`]: handshake, the manager task that
//! reconnects, the writer (batches frames), the pinger, and the reader that matches replies to
//! requests by xid and routes notifications.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::{sleep, timeout};
use zablab_core::session::ReadOnlyClient;
use zablab_core::tree::{ErrorCode, SetWatches};

use super::watches::{registration, Reg};
use super::{lock, ConnectOptions, Status, WatchBook, WatchEvent, ZkError, ZkResult};
use crate::codec::proto::{
    self, encode_request, event, state, xid, ClientRequest, ConnectRequest, ConnectResponse,
    ReplyHeader, Response, WatcherEvent,
};

struct Pending {
    xid: i32,
    opcode: i32,
    reg: Reg,
    tx: Option<oneshot::Sender<ZkResult<Response>>>,
}

pub(crate) struct State {
    pub(crate) session_id: i64,
    pub(crate) passwd: Vec<u8>,
    pub(crate) timeout_ms: i32,
    pub(crate) last_zxid: i64,
    pub(crate) current_host: String,
    pub(crate) watches: WatchBook,
    host_idx: usize,
    next_xid: i32,
    generation: u64,
    pending: VecDeque<Pending>,
    auth_waiters: VecDeque<Option<oneshot::Sender<ZkResult<()>>>>,
    writer: Option<mpsc::UnboundedSender<Vec<u8>>>,
    auths: Vec<(String, Vec<u8>)>,
    closing: bool,
    /// closeSession was sent: when the connection ends, do not reconnect.
    close_sent: bool,
    expired: bool,
    move_to: Option<String>,
    /// `canBeReadOnly` and `seenRwServerBefore` (ZooKeeper's ClientCnxn): until a read-write
    /// server was seen, every (re)connect asks for a new session.
    read_only: ReadOnlyClient,
}

pub(crate) struct Inner {
    st: Mutex<State>,
    pub(crate) status: watch::Sender<Status>,
    events: mpsc::UnboundedSender<WatchEvent>,
    opts: ConnectOptions,
    kick: Notify,
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.st)
    }

    fn emit_state(&self, st: i32) {
        let _ = self.events.send(WatchEvent {
            event_type: event::NONE,
            state: st,
            path: String::new(),
        });
    }
}

/// Held by every [`super::ZkClient`] clone: the last drop ends the connection.
pub(crate) struct DropGuard(Arc<Inner>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.lock().closing = true;
        self.0.kick.notify_one();
    }
}

fn loss(why: impl std::fmt::Display) -> ZkError {
    ZkError::ConnectionLoss(why.to_string())
}

async fn read_frame<R: AsyncRead + Unpin>(rd: &mut R, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut len = [0u8; 4];
    rd.read_exact(&mut len).await?;
    let n = proto::frame_len(len)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
    buf.resize(n, 0);
    rd.read_exact(buf).await?;
    Ok(())
}

/// TCP connect + ConnectRequest/ConnectResponse with the session as the state knows it.
async fn handshake(inner: &Inner, host: &str) -> ZkResult<(TcpStream, ConnectResponse)> {
    let req = {
        let st = inner.lock();
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: st.last_zxid,
            timeout_ms: inner.opts.session_timeout_ms,
            session_id: st.read_only.session_to_send(st.session_id),
            passwd: if st.passwd.is_empty() {
                vec![0; 16]
            } else {
                st.passwd.clone()
            },
            read_only: Some(st.read_only.can_be_read_only),
        }
    };
    let work = async {
        let mut s = TcpStream::connect(host).await.map_err(loss)?;
        let _ = s.set_nodelay(true);
        let mut buf = Vec::new();
        req.encode(&mut buf);
        s.write_all(&buf).await.map_err(loss)?;
        read_frame(&mut s, &mut buf).await.map_err(loss)?;
        let resp = ConnectResponse::decode(&buf).map_err(|e| ZkError::Protocol(e.to_string()))?;
        Ok::<_, ZkError>((s, resp))
    };
    let (s, resp) = timeout(inner.opts.connect_timeout, work)
        .await
        .map_err(|_| loss(format!("{host}: handshake timed out")))??;
    if resp.is_expired() {
        return Err(ZkError::SessionExpired);
    }
    Ok((s, resp))
}

/// Opens the first connection (each host once, in order) and starts the manager.
pub(crate) async fn start(
    opts: ConnectOptions,
) -> ZkResult<(
    Arc<Inner>,
    Arc<DropGuard>,
    mpsc::UnboundedReceiver<WatchEvent>,
)> {
    if opts.hosts.is_empty() {
        return Err(loss("no hosts given"));
    }
    let (events, rx) = mpsc::unbounded_channel();
    let (session_id, passwd) = opts.session.clone().unwrap_or((0, Vec::new()));
    let read_only = ReadOnlyClient::new(opts.read_only, opts.session.is_some());
    let inner = Arc::new(Inner {
        st: Mutex::new(State {
            session_id,
            passwd,
            timeout_ms: opts.session_timeout_ms,
            last_zxid: 0,
            current_host: String::new(),
            watches: WatchBook::default(),
            host_idx: 0,
            next_xid: 1,
            generation: 0,
            pending: VecDeque::new(),
            auth_waiters: VecDeque::new(),
            writer: None,
            auths: Vec::new(),
            closing: false,
            close_sent: false,
            expired: false,
            move_to: None,
            read_only,
        }),
        status: watch::Sender::new(Status::Connecting),
        events,
        opts,
        kick: Notify::new(),
    });
    let mut errors = Vec::new();
    let mut first = None;
    for (i, host) in inner.opts.hosts.iter().enumerate() {
        match handshake(&inner, host).await {
            Ok(c) => {
                let mut st = inner.lock();
                st.host_idx = i;
                st.current_host = host.clone();
                first = Some(c);
                break;
            }
            Err(ZkError::SessionExpired) => return Err(ZkError::SessionExpired),
            Err(e) => errors.push(format!("{host}: {e}")),
        }
    }
    let Some(first) = first else {
        return Err(loss(format!("no server reachable ({})", errors.join("; "))));
    };
    {
        let mut st = inner.lock();
        st.session_id = first.1.session_id;
        st.passwd = first.1.passwd.clone();
        st.timeout_ms = first.1.timeout_ms;
    }
    let guard = Arc::new(DropGuard(inner.clone()));
    tokio::spawn(manager(inner.clone(), first));
    wait_connected(&inner).await?;
    Ok((inner, guard, rx))
}

/// The session's connection loop: run a connection until it ends, then reconnect.
async fn manager(inner: Arc<Inner>, first: (TcpStream, ConnectResponse)) {
    let mut next = Some(first);
    loop {
        let (stream, resp) = match next.take() {
            Some(c) => c,
            None => match reconnect_loop(&inner).await {
                Ok(c) => c,
                Err(e) => return finish(&inner, e),
            },
        };
        let why = run_connection(&inner, stream, &resp).await;
        let (closing, expired) = {
            let mut st = inner.lock();
            st.writer = None;
            (st.closing || st.close_sent, st.expired)
        };
        inner.status.send_replace(Status::Connecting);
        fail_pending(&inner, &loss(&why));
        if expired {
            return finish(&inner, ZkError::SessionExpired);
        }
        if closing {
            return finish(&inner, ZkError::Closed);
        }
        inner.emit_state(state::DISCONNECTED);
    }
}

fn finish(inner: &Inner, why: ZkError) {
    let (status, st_code) = match why {
        ZkError::SessionExpired => (Status::Expired, state::EXPIRED),
        _ => (Status::Closed, state::CLOSED),
    };
    {
        let mut st = inner.lock();
        st.writer = None;
        st.expired |= status == Status::Expired;
        st.closing = true;
    }
    inner.status.send_replace(status);
    fail_pending(inner, &why);
    inner.emit_state(st_code);
}

fn fail_pending(inner: &Inner, why: &ZkError) {
    let (pending, auths) = {
        let mut st = inner.lock();
        (
            std::mem::take(&mut st.pending),
            std::mem::take(&mut st.auth_waiters),
        )
    };
    for p in pending {
        if let Some(tx) = p.tx {
            let _ = tx.send(Err(why.clone()));
        }
    }
    for tx in auths.into_iter().flatten() {
        let _ = tx.send(Err(why.clone()));
    }
}

/// Tries the hosts round-robin (a requested move first) until one takes the session back.
async fn reconnect_loop(inner: &Inner) -> ZkResult<(TcpStream, ConnectResponse)> {
    let n = inner.opts.hosts.len().max(1);
    let mut attempt: u64 = 0;
    let mut tried = 0;
    loop {
        let host = {
            let mut st = inner.lock();
            if st.closing {
                return Err(ZkError::Closed);
            }
            match st.move_to.take() {
                Some(h) => h,
                None => {
                    st.host_idx = (st.host_idx + 1) % n;
                    inner.opts.hosts[st.host_idx % inner.opts.hosts.len()].clone()
                }
            }
        };
        match handshake(inner, &host).await {
            Ok(c) => {
                inner.lock().current_host = host;
                return Ok(c);
            }
            Err(ZkError::SessionExpired) => {
                inner.lock().expired = true;
                return Err(ZkError::SessionExpired);
            }
            Err(_) => {
                attempt += 1;
                tried += 1;
                if tried >= n {
                    tried = 0;
                    sleep(Duration::from_millis((50 * attempt).min(1000))).await;
                }
            }
        }
    }
}

/// Serves one established connection until it ends; returns why it ended.
async fn run_connection(inner: &Inner, stream: TcpStream, resp: &ConnectResponse) -> String {
    let (rd, wr) = stream.into_split();
    let (wtx, wrx) = mpsc::unbounded_channel::<Vec<u8>>();
    {
        let mut st = inner.lock();
        st.session_id = resp.session_id;
        st.passwd = resp.passwd.clone();
        st.timeout_ms = resp.timeout_ms;
        st.read_only.on_connected(resp.read_only == Some(true));
        st.generation += 1;
        // Before any new request: the credentials, then the watches (§5.2).
        for (scheme, auth) in st.auths.clone() {
            let mut b = Vec::new();
            let req = ClientRequest::Auth { scheme, auth };
            encode_request(&mut b, xid::AUTH, &req);
            let _ = wtx.send(b);
            st.auth_waiters.push_back(None);
        }
        let w = &st.watches;
        if !w.is_empty() {
            let sw = SetWatches {
                relative_zxid: st.last_zxid,
                data_watches: w.data.iter().cloned().collect(),
                exist_watches: w.exist.iter().cloned().collect(),
                child_watches: w.child.iter().cloned().collect(),
                persistent_watches: w.persistent.iter().cloned().collect(),
                persistent_recursive_watches: w.recursive.iter().cloned().collect(),
            };
            let req =
                if sw.persistent_watches.is_empty() && sw.persistent_recursive_watches.is_empty() {
                    ClientRequest::SetWatches(sw)
                } else {
                    ClientRequest::SetWatches2(sw)
                };
            let mut b = Vec::new();
            encode_request(&mut b, xid::SET_WATCHES, &req);
            let _ = wtx.send(b);
            st.pending.push_back(Pending {
                xid: xid::SET_WATCHES,
                opcode: req.opcode(),
                reg: Reg::None,
                tx: None,
            });
        }
        st.writer = Some(wtx.clone());
    }
    let ro = resp.read_only == Some(true);
    inner.status.send_replace(if ro {
        Status::ConnectedReadOnly
    } else {
        Status::Connected
    });
    inner.emit_state(if ro {
        state::CONNECTED_READ_ONLY
    } else {
        state::SYNC_CONNECTED
    });
    let timeout_ms = resp.timeout_ms.max(3) as u64;
    let mut writer = tokio::spawn(write_loop(wr, wrx));
    let pinger = tokio::spawn(ping_loop(wtx, Duration::from_millis(timeout_ms / 3)));
    let read_timeout = Duration::from_millis(timeout_ms * 2 / 3);
    let why = tokio::select! {
        why = read_loop(inner, rd, read_timeout) => why,
        r = &mut writer => match r {
            Ok(Err(e)) => format!("write failed: {e}"),
            _ => "writer stopped".to_string(),
        },
        why = wait_kick(inner) => why,
    };
    writer.abort();
    pinger.abort();
    why
}

async fn wait_kick(inner: &Inner) -> String {
    loop {
        inner.kick.notified().await;
        let st = inner.lock();
        if st.closing {
            return "closing".into();
        }
        if st.move_to.is_some() {
            return "moving the session".into();
        }
    }
}

async fn write_loop(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(64 * 1024);
    while let Some(f) = rx.recv().await {
        buf.clear();
        buf.extend_from_slice(&f);
        while buf.len() < 256 * 1024 {
            match rx.try_recv() {
                Ok(f) => buf.extend_from_slice(&f),
                Err(_) => break,
            }
        }
        wr.write_all(&buf).await?;
    }
    Ok(())
}

async fn ping_loop(wtx: mpsc::UnboundedSender<Vec<u8>>, every: Duration) {
    loop {
        sleep(every).await;
        let mut b = Vec::new();
        encode_request(&mut b, xid::PING, &ClientRequest::Ping);
        if wtx.send(b).is_err() {
            return;
        }
    }
}

async fn read_loop(inner: &Inner, rd: OwnedReadHalf, read_timeout: Duration) -> String {
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    let mut buf = Vec::new();
    loop {
        match timeout(read_timeout, read_frame(&mut rd, &mut buf)).await {
            Err(_) => return format!("no reply for {} ms", read_timeout.as_millis()),
            Ok(Err(e)) => return format!("connection closed ({e})"),
            Ok(Ok(())) => {}
        }
        if let Err(why) = handle_frame(inner, &buf) {
            return why;
        }
    }
}

/// One reply frame: a notification, a ping or auth answer, or the next pending request's.
fn handle_frame(inner: &Inner, body: &[u8]) -> Result<(), String> {
    let mut r = proto::reader(body);
    let h = ReplyHeader::read(&mut r).map_err(|e| format!("bad reply header: {e}"))?;
    match h.xid {
        xid::NOTIFICATION => {
            let ev = WatcherEvent::read(&mut r).map_err(|e| format!("bad notification: {e}"))?;
            inner.lock().watches.fired(&ev);
            let _ = inner.events.send(WatchEvent {
                event_type: ev.event_type,
                state: ev.state,
                path: ev.path,
            });
        }
        xid::PING => {}
        xid::AUTH => {
            let waiter = inner.lock().auth_waiters.pop_front().flatten();
            let result = match h.err {
                0 => Ok(()),
                e => Err(ZkError::Code(
                    ErrorCode::from_code(e).unwrap_or(ErrorCode::AuthFailed),
                )),
            };
            if let Some(tx) = waiter {
                let _ = tx.send(result);
            }
            if h.err == ErrorCode::AuthFailed.code() {
                inner.emit_state(state::AUTH_FAILED);
            }
        }
        _ => {
            let p = {
                let mut st = inner.lock();
                if h.zxid > 0 {
                    st.last_zxid = h.zxid;
                }
                st.pending.pop_front()
            };
            let Some(p) = p else {
                return Err(format!("reply xid {} with no request pending", h.xid));
            };
            if p.xid != h.xid {
                return Err(format!("reply xid {} but xid {} was next", h.xid, p.xid));
            }
            let result = if h.err != 0 {
                match ErrorCode::from_code(h.err) {
                    Some(c) => Err(ZkError::Code(c)),
                    None => Err(ZkError::Protocol(format!("unknown error code {}", h.err))),
                }
            } else {
                Response::read(p.opcode, &mut r).map_err(|e| ZkError::Protocol(e.to_string()))
            };
            inner.lock().watches.register(p.reg, result.is_ok(), h.err);
            if let Some(tx) = p.tx {
                let _ = tx.send(result);
            }
            if h.err == ErrorCode::SessionExpired.code() {
                inner.lock().expired = true;
                return Err("session expired".into());
            }
        }
    }
    Ok(())
}

/// Waits until the session is connected (at most one session timeout).
async fn wait_connected(inner: &Inner) -> ZkResult<()> {
    let limit = Duration::from_millis(inner.lock().timeout_ms.max(1000) as u64);
    let mut rx = inner.status.subscribe();
    let waited = timeout(limit, rx.wait_for(|s| *s != Status::Connecting)).await;
    let s = match waited {
        Err(_) => return Err(loss("not connected within the session timeout")),
        Ok(Err(_)) => return Err(ZkError::Closed),
        Ok(Ok(s)) => *s,
    };
    match s {
        Status::Closed => Err(ZkError::Closed),
        Status::Expired => Err(ZkError::SessionExpired),
        _ => Ok(()),
    }
}

/// Sends a request with the next xid and waits for its reply.
pub(crate) async fn submit(inner: &Inner, req: ClientRequest) -> ZkResult<Response> {
    let rx = loop {
        {
            let mut st = inner.lock();
            if st.expired {
                return Err(ZkError::SessionExpired);
            }
            if st.closing {
                return Err(ZkError::Closed);
            }
            if let Some(w) = st.writer.clone() {
                let x = st.next_xid;
                st.next_xid = if x >= i32::MAX - 1 { 1 } else { x + 1 };
                let mut b = Vec::with_capacity(64);
                encode_request(&mut b, x, &req);
                if w.send(b).is_ok() {
                    let (tx, rx) = oneshot::channel();
                    st.pending.push_back(Pending {
                        xid: x,
                        opcode: req.opcode(),
                        reg: registration(&req),
                        tx: Some(tx),
                    });
                    break rx;
                }
                st.writer = None;
            }
        }
        wait_connected(inner).await?;
        tokio::task::yield_now().await;
    };
    rx.await.unwrap_or_else(|_| Err(loss("connection dropped")))
}

/// auth (xid -4): waits for the answer, then remembers the credentials for reconnects.
pub(crate) async fn add_auth(inner: &Inner, scheme: &str, auth: &[u8]) -> ZkResult<()> {
    let req = ClientRequest::Auth {
        scheme: scheme.to_string(),
        auth: auth.to_vec(),
    };
    let rx = loop {
        {
            let mut st = inner.lock();
            if st.expired {
                return Err(ZkError::SessionExpired);
            }
            if st.closing {
                return Err(ZkError::Closed);
            }
            if let Some(w) = st.writer.clone() {
                let mut b = Vec::new();
                encode_request(&mut b, xid::AUTH, &req);
                if w.send(b).is_ok() {
                    let (tx, rx) = oneshot::channel();
                    st.auth_waiters.push_back(Some(tx));
                    break rx;
                }
                st.writer = None;
            }
        }
        wait_connected(inner).await?;
        tokio::task::yield_now().await;
    };
    rx.await
        .unwrap_or_else(|_| Err(loss("connection dropped")))?;
    inner.lock().auths.push((scheme.to_string(), auth.to_vec()));
    Ok(())
}

/// Moves the session to `host` (or the next host) and waits until connected there.
pub(crate) async fn reconnect(inner: &Inner, host: Option<String>) -> ZkResult<()> {
    let before = {
        let mut st = inner.lock();
        if st.closing {
            return Err(ZkError::Closed);
        }
        let n = inner.opts.hosts.len().max(1);
        let next = host.unwrap_or_else(|| {
            inner.opts.hosts[(st.host_idx + 1) % n % inner.opts.hosts.len().max(1)].clone()
        });
        st.move_to = Some(next);
        st.generation
    };
    inner.kick.notify_one();
    let limit = Duration::from_millis(2 * inner.lock().timeout_ms.max(1000) as u64);
    let mut rx = inner.status.subscribe();
    let work = async {
        loop {
            let s = *rx.borrow_and_update();
            match s {
                Status::Closed => return Err(ZkError::Closed),
                Status::Expired => return Err(ZkError::SessionExpired),
                Status::Connected | Status::ConnectedReadOnly
                    if inner.lock().generation > before =>
                {
                    return Ok(())
                }
                _ => {}
            }
            if rx.changed().await.is_err() {
                return Err(ZkError::Closed);
            }
        }
    };
    timeout(limit, work)
        .await
        .unwrap_or_else(|_| Err(loss("reconnect timed out")))
}

/// closeSession, then the connection ends and the manager stops.
pub(crate) async fn close(inner: &Inner) -> ZkResult<()> {
    let status = *inner.status.borrow();
    if matches!(status, Status::Closed | Status::Expired) {
        return Ok(());
    }
    let limit = Duration::from_secs(5);
    inner.lock().close_sent = true;
    let result = timeout(limit, submit(inner, ClientRequest::CloseSession)).await;
    inner.lock().closing = true;
    inner.kick.notify_one();
    let mut rx = inner.status.subscribe();
    let _ = timeout(
        Duration::from_secs(2),
        rx.wait_for(|s| matches!(s, Status::Closed | Status::Expired)),
    )
    .await;
    match result {
        Ok(Ok(_)) | Ok(Err(ZkError::Closed)) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(loss("closeSession timed out")),
    }
}
