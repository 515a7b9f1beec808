//! The page's ZooKeeper client in the free lab: one session per server, through the core's
//! session layer ([`ClientSessions`], the same one the native node and the simulator's
//! clients run). The first write the form sends to a server opens the session (one
//! createSession through ZAB); that write and every later one go out once the session is
//! open, with increasing cxids, answered in order.
//!
//! The lab replays a run from its recorded actions (rewind, branches, shared links), so only
//! what the layer sends into the peer as a client request becomes an action (`Action::Write`).
//! Session touches are not replayable actions: the page's sessions have a timeout long
//! enough for a lab run ([`SESSION_TIMEOUT_MS`]) and touch nothing. When the lab moves back
//! in time or to another branch, the page's connections start over.

use std::collections::BTreeMap;

use zablab_core::durable::RequestTag;
use zablab_core::peer::Input;
use zablab_core::session::{ClientOp, ClientReply, ClientSessions, ConnectRequest, SessionLimits};
use zablab_core::sim::{Action, ClientResult};
use zablab_core::tree::{session_password, AuthConfig, ConnId, DataTree, WriteOp, WriteOutcome};
use zablab_core::Sid;

use crate::lab::Lab;

/// A client session's timeout for writes from the page (virtual ms).
pub const SESSION_TIMEOUT_MS: i32 = 600_000;
/// Writes typed while a session opens, at most (per server).
const MAX_WAITING_WRITES: usize = 64;
/// The page holds one connection per server.
const CONN: ConnId = 1;

#[derive(Clone, Copy, PartialEq, Debug)]
enum State {
    Idle,
    Connecting,
    Connected,
}

/// The page's session on one server.
struct PageSession {
    layer: ClientSessions<DataTree>,
    state: State,
    /// The session, once created (a reconnect resumes it).
    session_id: Option<i64>,
    cxid: i32,
    /// The cluster's request tag → the layer's.
    sent: BTreeMap<RequestTag, RequestTag>,
    /// Writes typed before the session was open.
    waiting: Vec<WriteOp>,
}

impl PageSession {
    fn new() -> PageSession {
        let limits = SessionLimits {
            max_buffer_bytes: usize::MAX,
            txn_bytes: |_| 0,
        };
        PageSession {
            layer: ClientSessions::new(limits, AuthConfig::default()),
            state: State::Idle,
            session_id: None,
            cxid: 0,
            sent: BTreeMap::new(),
            waiting: Vec::new(),
        }
    }

    /// What the layer's replies to the page's connection say about the session.
    fn on_replies(&mut self, replies: Vec<(ConnId, ClientReply)>) {
        for (_, reply) in replies {
            match reply {
                ClientReply::Connected { session_id, .. } => {
                    self.state = State::Connected;
                    self.session_id = Some(session_id);
                }
                ClientReply::Close(_) => self.state = State::Idle,
                ClientReply::Expired => {
                    self.state = State::Idle;
                    self.session_id = None;
                }
                _ => {}
            }
        }
    }
}

/// The page's sessions, one per server, and where in the lab they were last pumped.
#[derive(Default)]
pub struct PageClients {
    servers: BTreeMap<Sid, PageSession>,
    at: (usize, u64),
}

impl PageClients {
    /// A write from the form to `server`: sent now if the page's session there is open,
    /// else after it opens (the first write opens it).
    pub fn write(&mut self, lab: &mut Lab, server: Sid, op: WriteOp) -> Result<(), String> {
        self.follow(lab);
        let s = self.servers.entry(server).or_insert_with(PageSession::new);
        if s.waiting.len() >= MAX_WAITING_WRITES {
            return Err(format!("S{server}: the page's session is not open yet"));
        }
        s.waiting.push(op);
        self.pump(lab);
        Ok(())
    }

    /// Forgets the page's connections when the lab went back in time or changed branch: the
    /// layer's view of them no longer matches the cluster on screen.
    fn follow(&mut self, lab: &Lab) {
        let at = (lab.current, lab.steps());
        if at.0 != self.at.0 || at.1 < self.at.1 {
            self.servers.clear();
        }
        self.at = at;
    }

    /// After the lab ran: request results into the layers, replies out, sessions opened,
    /// waiting writes sent.
    pub fn pump(&mut self, lab: &mut Lab) {
        self.follow(lab);
        let sids: Vec<Sid> = self.servers.keys().copied().collect();
        for sid in sids {
            self.pump_one(lab, sid);
        }
        self.at = (lab.current, lab.steps());
    }

    fn pump_one(&mut self, lab: &mut Lab, sid: Sid) {
        let Some(s) = self.servers.get_mut(&sid) else {
            return;
        };
        let mut out: Vec<(ConnId, ClientReply)> = Vec::new();
        let results: Vec<(RequestTag, RequestTag, Option<ClientResult<WriteOutcome>>)> = s
            .sent
            .iter()
            .filter_map(|(c, l)| match lab.cluster().request(*c) {
                Some(ClientResult::Pending) => None,
                r => Some((*c, *l, r.cloned())),
            })
            .collect();
        let now = lab.cluster().now();
        let Some(peer) = lab.peer_mut(sid) else {
            s.layer.forget_all(&mut out, "the server is down");
            s.sent.clear();
            s.state = State::Idle;
            return;
        };
        for (c, l, r) in results {
            s.sent.remove(&c);
            match r {
                Some(ClientResult::Replied { zxid, outcome }) => {
                    s.layer.on_reply(peer, &mut out, l, zxid, &outcome)
                }
                Some(ClientResult::Synced { zxid }) => {
                    s.layer.on_sync_done(peer, &mut out, l, zxid)
                }
                _ => s.layer.on_failed(peer, &mut out, l),
            }
        }
        let _ = s.layer.take_fired(peer);
        s.layer.after_step(peer, &mut out);
        s.on_replies(out);
        let mut inputs = Vec::new();
        match s.state {
            State::Idle if !s.waiting.is_empty() && peer.is_serving() => {
                let id = s.session_id.unwrap_or(0);
                let req = ConnectRequest {
                    last_zxid_seen: 0,
                    timeout_ms: SESSION_TIMEOUT_MS,
                    session_id: id,
                    password: if id == 0 {
                        Vec::new()
                    } else {
                        session_password(id).to_vec()
                    },
                    auth: Vec::new(),
                    read_only: false,
                };
                let mut replies = Vec::new();
                inputs = s.layer.connect(peer, &mut replies, now, CONN, req);
                s.state = State::Connecting;
                s.on_replies(replies);
            }
            _ => {}
        }
        if s.state == State::Connected {
            for op in std::mem::take(&mut s.waiting) {
                s.cxid += 1;
                let mut replies = Vec::new();
                let more = s.layer.request(
                    peer,
                    &mut replies,
                    now,
                    CONN,
                    s.cxid,
                    ClientOp::Write(op),
                    0,
                );
                inputs.extend(more);
            }
        }
        for input in inputs {
            // Only client requests are replayable actions (see the module comment).
            if let Input::ClientWrite { tag, request } = input {
                lab.act(Action::Write {
                    server: sid,
                    txn: request,
                });
                if let (Some(t), Some(s)) = (lab.last_request(), self.servers.get_mut(&sid)) {
                    s.sent.insert(t, tag);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::lab_config;
    use zablab_core::sim::Scenario;
    use zablab_core::tree::{CreateRequest, Request};

    fn create(path: &str) -> WriteOp {
        WriteOp::Create(CreateRequest {
            path: path.into(),
            data: Some(b"x".to_vec()),
            acl: zablab_core::tree::acl::open_acl_unsafe(),
            flags: 0,
        })
    }

    fn writes(lab: &Lab) -> Vec<(Sid, Request)> {
        lab.scenario()
            .actions
            .iter()
            .filter_map(|a| match &a.action {
                Action::Write { server, txn } => Some((*server, txn.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn page_writes_to_a_server_share_one_session_with_increasing_cxids() {
        let mut lab = Lab::new(Scenario {
            config: lab_config(3, 0),
            seed: 1,
            actions: Vec::new(),
        });
        lab.run_to(3_000);
        let mut page = PageClients::default();
        for p in ["/a", "/b", "/c"] {
            page.write(&mut lab, 1, create(p)).expect("queued");
            for _ in 0..50 {
                let t = lab.now_ms() + 20;
                lab.run_to(t);
                page.pump(&mut lab);
            }
        }
        let w = writes(&lab);
        let opens = w
            .iter()
            .filter(|(_, t)| matches!(t.op, WriteOp::CreateSession { .. }))
            .count();
        assert_eq!(opens, 1, "one createSession for three writes: {w:?}");
        let session = w[0].1.session_id;
        let cxids: Vec<i32> = w[1..].iter().map(|(_, t)| t.cxid).collect();
        assert_eq!(cxids, vec![1, 2, 3]);
        assert!(w.iter().all(|(s, t)| *s == 1 && t.session_id == session));
        let tree = lab.cluster().peer(1).expect("up").machine();
        for p in ["/a", "/b", "/c"] {
            assert!(tree.exists(&[], p).is_ok(), "{p} written");
        }
    }
}
