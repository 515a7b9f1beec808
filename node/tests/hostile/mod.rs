//! Shared by the attack tests (hostile_clients.rs, super_digest.rs): a 3-server ensemble of
//! real `zablab server` processes on 127.0.0.1, a blocking raw client that speaks the jute
//! protocol frame by frame (so a test can send requests and choose never to read), and the
//! numbers a test checks: VmRSS/VmHWM from /proc, the leader and epoch from `srvr`.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use zablab_core::tree::{
    Acl, CreateRequest, ErrorCode, ReadRequest, SetDataRequest, WriteOp, WriteResponse,
};
use zablab_node::codec::proto::{
    decode_reply, encode_request, ClientRequest, ConnectRequest, ConnectResponse, Response,
};
use zablab_node::tools::cluster::{write_configs, ClusterOptions, Planned};

use crate::common::*;

pub const LIMIT: Duration = Duration::from_secs(40);
pub const OPEN: i32 = 31;

/// Three servers (tickTime 2000, so the shortest session is 4 s), each config extended with
/// `extra(sid)`.
pub struct Ensemble {
    pub dir: TempDir,
    pub planned: Vec<Planned>,
    pub servers: Vec<Server>,
    pub base: u16,
}

impl Ensemble {
    pub fn start(tag: &str, extra: impl Fn(u64) -> String) -> Ensemble {
        let dir = TempDir::new(tag);
        let base = free_base_port(3);
        let opts = ClusterOptions {
            base_port: base,
            dir: Some(dir.0.clone()),
            ..ClusterOptions::default()
        };
        let planned = write_configs(&dir.0, &opts).expect("configs");
        for p in &planned {
            let mut cfg = std::fs::read_to_string(&p.config).expect("cfg");
            cfg.push_str(&extra(p.sid));
            std::fs::write(&p.config, cfg).expect("write cfg");
        }
        let servers = planned
            .iter()
            .map(|p| Server::start(&p.config, &[], &Self::log_of(&dir, p.sid)))
            .collect();
        let e = Ensemble {
            dir,
            planned,
            servers,
            base,
        };
        e.leader();
        e
    }

    fn log_of(dir: &TempDir, sid: u64) -> PathBuf {
        dir.0.join(sid.to_string()).join("server.log")
    }

    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(Self::log_of(&self.dir, self.planned[i].sid)).unwrap_or_default()
    }

    pub fn addr(&self, i: usize) -> String {
        self.planned[i].client_addr.clone()
    }

    pub fn quorum_addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.base + 707 + i as u16)
    }

    pub fn election_addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.base + 1707 + i as u16)
    }

    /// Index of the leader once all three serve with exactly one leader.
    pub fn leader(&self) -> usize {
        wait_for(LIMIT, "one leader, two followers", || {
            let m: Vec<Option<String>> = (0..3).map(|i| mode(&self.addr(i))).collect();
            let leaders: Vec<usize> = (0..3)
                .filter(|i| m[*i].as_deref() == Some("leader"))
                .collect();
            let followers = m
                .iter()
                .filter(|x| x.as_deref() == Some("follower"))
                .count();
            (leaders.len() == 1 && followers == 2).then(|| leaders[0])
        })
    }

    /// The leader and the epoch of its last zxid (`srvr`): both unchanged means no election.
    pub fn leader_and_epoch(&self) -> (usize, u64) {
        let l = self.leader();
        (l, self.zxid(l) >> 32)
    }

    /// The `Zxid:` of `srvr` on server `i`: the last transaction it applied.
    pub fn zxid(&self, i: usize) -> u64 {
        four_letter(&self.addr(i), "srvr")
            .expect("srvr")
            .lines()
            .find_map(|l| l.strip_prefix("Zxid: 0x"))
            .and_then(|z| u64::from_str_radix(z.trim(), 16).ok())
            .expect("Zxid line")
    }

    /// `Connections:` of `srvr` on server `i` (the srvr connection itself included).
    pub fn connections(&self, i: usize) -> u64 {
        four_letter(&self.addr(i), "srvr")
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("Connections: "))
                    .and_then(|n| n.trim().parse().ok())
            })
            .expect("Connections line")
    }

    pub fn follower(&self) -> usize {
        let l = self.leader();
        (0..3).find(|i| *i != l).expect("a follower")
    }

    /// The server process is still running.
    pub fn alive(&mut self, i: usize) -> bool {
        self.servers[i]
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn pid(&self, i: usize) -> u32 {
        self.servers[i].child.as_ref().expect("running").id()
    }

    /// (VmRSS, VmHWM) in KiB.
    pub fn memory_kib(&self, i: usize) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid(i))).expect("status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .expect("memory field")
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

/// A blocking client that writes and reads frames itself.
pub struct Raw {
    pub s: TcpStream,
    xid: i32,
}

impl Raw {
    /// Opens a session asking for `timeout_ms`.
    pub fn connect(addr: &str, timeout_ms: i32) -> Raw {
        let mut s = wait_for(LIMIT, "connect", || TcpStream::connect(addr).ok());
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut out = Vec::new();
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(false),
        }
        .encode(&mut out);
        s.write_all(&out).expect("send ConnectRequest");
        let mut raw = Raw { s, xid: 0 };
        let body = raw.frame().expect("ConnectResponse");
        let resp = ConnectResponse::decode(&body).expect("decodes");
        assert!(resp.session_id != 0, "a session");
        raw
    }

    pub fn frame(&mut self) -> std::io::Result<Vec<u8>> {
        let mut len = [0u8; 4];
        self.s.read_exact(&mut len)?;
        let n = i32::from_be_bytes(len);
        if !(0..=64 << 20).contains(&n) {
            return Err(std::io::Error::new(ErrorKind::InvalidData, "frame length"));
        }
        let mut body = vec![0u8; n as usize];
        self.s.read_exact(&mut body)?;
        Ok(body)
    }

    /// Sends a request without waiting; returns its xid.
    pub fn send(&mut self, req: &ClientRequest) -> std::io::Result<i32> {
        self.xid += 1;
        let xid = match req {
            ClientRequest::Auth { .. } => -4,
            _ => self.xid,
        };
        let mut out = Vec::new();
        encode_request(&mut out, xid, req);
        self.s.write_all(&out)?;
        Ok(xid)
    }

    /// Sends a request and reads frames until its reply.
    pub fn call(&mut self, req: ClientRequest) -> Result<Response, ErrorCode> {
        let opcode = req.opcode();
        let xid = self.send(&req).map_err(|_| ErrorCode::ConnectionLoss)?;
        loop {
            let body = self.frame().map_err(|_| ErrorCode::ConnectionLoss)?;
            let (h, r) = decode_reply(&body, opcode).map_err(|_| ErrorCode::MarshallingError)?;
            if h.xid == xid {
                return r;
            }
        }
    }

    pub fn create(&mut self, path: &str, data: &[u8], acl: Vec<Acl>) -> Result<(), ErrorCode> {
        self.call(ClientRequest::Write(WriteOp::Create(CreateRequest {
            path: path.to_string(),
            data: Some(data.to_vec()),
            acl,
            flags: 0,
        })))
        .map(|_| ())
    }

    pub fn create_open(&mut self, path: &str, data: &[u8]) -> Result<(), ErrorCode> {
        self.create(path, data, vec![Acl::new(OPEN, "world", "anyone")])
    }

    pub fn set_data(&mut self, path: &str, data: &[u8]) -> Result<(), ErrorCode> {
        match self.call(ClientRequest::Write(WriteOp::SetData(SetDataRequest {
            path: path.to_string(),
            data: Some(data.to_vec()),
            version: -1,
        }))) {
            Ok(Response::Write(WriteResponse::SetData { .. })) => Ok(()),
            Ok(other) => panic!("setData answered {other:?}"),
            Err(e) => Err(e),
        }
    }

    pub fn get_data(&mut self, path: &str) -> Result<Option<Vec<u8>>, ErrorCode> {
        let req = ClientRequest::Read(ReadRequest::GetData {
            path: path.to_string(),
            watch: false,
        });
        match self.call(req)? {
            Response::Read(zablab_core::tree::ReadResponse::GetData { data, .. }) => Ok(data),
            other => panic!("getData answered {other:?}"),
        }
    }

    pub fn add_auth(&mut self, scheme: &str, auth: &[u8]) -> Result<(), ErrorCode> {
        self.call(ClientRequest::Auth {
            scheme: scheme.to_string(),
            auth: auth.to_vec(),
        })
        .map(|_| ())
    }

    /// True once the server has closed this connection: EOF or a reset, reading (and
    /// discarding) whatever was still buffered, within `limit`. Returns the bytes discarded.
    pub fn closed_by_server(&mut self, limit: Duration) -> Option<usize> {
        self.s
            .set_read_timeout(Some(Duration::from_millis(500)))
            .ok()?;
        let start = Instant::now();
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0usize;
        while start.elapsed() < limit {
            match self.s.read(&mut buf) {
                Ok(0) => return Some(total),
                Ok(n) => total += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return Some(total),
            }
        }
        None
    }
}

/// `n` setData writes through `c`; how many succeeded.
pub fn writes(c: &mut Raw, path: &str, n: usize) -> usize {
    (0..n)
        .filter(|i| c.set_data(path, format!("w{i}").as_bytes()).is_ok())
        .count()
}
