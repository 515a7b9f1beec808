//! Text for what the page shows: message fields, votes, transactions, the vote box's "why" and
//! the leader's "why DIFF/TRUNC/SNAP". Pure formatting of core types; no protocol decisions.

use zablab_core::election::ReceivedVote;
use zablab_core::message::Forwarded;
use zablab_core::trace::{SyncMode, SyncReason, VoteDecision};
use zablab_core::tree::{op_code, Request, Txn, TxnBody, WriteOp};
use zablab_core::zab::leader::SyncRecord;
use zablab_core::{LogEntry, Message, Notification, Vote, Zxid};

use crate::lab::Machine;

pub type LabMessage = zablab_core::peer::PeerMessage<Machine>;

/// `(vote_id, vote_zxid)` as the server box shows it.
pub fn vote_short(v: &Vote) -> String {
    format!("({}, {})", v.vote_id, v.vote_zxid)
}

/// The (peer_epoch, zxid, sid) triple FastLeaderElection compares.
pub fn vote_triple(v: &Vote) -> String {
    format!(
        "(epoch {}, zxid {}, sid {})",
        v.peer_epoch, v.vote_zxid, v.vote_id
    )
}

pub fn write_op(op: &WriteOp) -> String {
    let data = |d: &Option<Vec<u8>>| match d {
        Some(d) => format!("\"{}\"", String::from_utf8_lossy(d)),
        None => "null".into(),
    };
    match op {
        WriteOp::Create(r) | WriteOp::Create2(r) | WriteOp::CreateContainer(r) => {
            format!("create {} {}", r.path, data(&r.data))
        }
        WriteOp::CreateTtl(r) => format!("createTTL {} {}", r.path, data(&r.data)),
        WriteOp::Delete(r) => format!("delete {}", r.path),
        WriteOp::SetData(r) => format!("setData {} {}", r.path, data(&r.data)),
        WriteOp::SetAcl(r) => format!("setACL {}", r.path),
        WriteOp::Check(r) => format!("check {}", r.path),
        WriteOp::Multi(ops) => format!(
            "multi [{}]",
            ops.iter().map(write_op).collect::<Vec<_>>().join("; ")
        ),
        WriteOp::CreateSession { timeout_ms } => format!("createSession ({timeout_ms} ms)"),
        WriteOp::CloseSession => "closeSession".into(),
        WriteOp::DeleteContainer { path } => format!("deleteContainer {path}"),
    }
}

/// A client's write request, e.g. `create /a "x" [session 0x.., cxid 3]`.
pub fn request(r: &Request) -> String {
    format!(
        "{} [session 0x{:x}, cxid {}]",
        write_op(&r.op),
        r.session_id,
        r.cxid
    )
}

/// A prepped transaction by ZooKeeper's record names, e.g. `CreateTxn /q/n-0000000001 "x"`
/// or `ErrorTxn NoNode (-101)`.
pub fn txn_body(txn_type: i32, b: &TxnBody) -> String {
    let data = |d: &Option<Vec<u8>>| match d {
        Some(d) => format!("\"{}\"", String::from_utf8_lossy(d)),
        None => "null".into(),
    };
    match b {
        TxnBody::Create(c) => format!("CreateTxn {} {}", c.path, data(&c.data)),
        TxnBody::CreateContainer(c) => format!("CreateContainerTxn {} {}", c.path, data(&c.data)),
        TxnBody::CreateTtl(c) => format!("CreateTTLTxn {} {}", c.path, data(&c.data)),
        TxnBody::Delete(d) if txn_type == op_code::DELETE_CONTAINER => {
            format!("DeleteTxn (deleteContainer) {}", d.path)
        }
        TxnBody::Delete(d) => format!("DeleteTxn {}", d.path),
        TxnBody::SetData(s) => format!("SetDataTxn {} {} v{}", s.path, data(&s.data), s.version),
        TxnBody::SetAcl(s) => format!("SetACLTxn {} v{}", s.path, s.version),
        TxnBody::CheckVersion(c) => format!("CheckVersionTxn {}", c.path),
        TxnBody::CreateSession(c) => format!("CreateSessionTxn ({} ms)", c.time_out),
        TxnBody::CloseSession(c) => {
            format!("CloseSessionTxn ({} ephemerals)", c.paths2_delete.len())
        }
        TxnBody::Error(e) => format!("ErrorTxn {}", e.err),
        TxnBody::Multi(m) => format!(
            "MultiTxn [{}]",
            m.txns
                .iter()
                .map(|t| txn_body(t.txn_type, &t.body))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

pub fn txn(t: &Txn) -> String {
    format!(
        "{} [session 0x{:x}, cxid {}]",
        txn_body(t.txn_type, &t.body),
        t.client_id,
        t.cxid
    )
}

pub fn entry(e: &LogEntry<Txn>) -> String {
    format!("{}  {}", e.zxid, txn_body(e.txn.txn_type, &e.txn.body))
}

fn notification(n: &Notification) -> Vec<(String, String)> {
    vec![
        ("state".into(), n.state.name().into()),
        ("sender (sid)".into(), n.sender.to_string()),
        ("vote_id (leader)".into(), n.vote_id.to_string()),
        ("vote_zxid".into(), n.vote_zxid.to_string()),
        ("peer_epoch".into(), n.peer_epoch.to_string()),
        (
            "logicclock (electionEpoch)".into(),
            n.logicclock.to_string(),
        ),
    ]
}

fn kv(k: &str, v: impl ToString) -> (String, String) {
    (k.into(), v.to_string())
}

fn zx(z: Zxid) -> String {
    format!("{z}  (0x{:x})", z.0)
}

/// Every field of a message, in ZooKeeper's names.
pub fn message_fields(m: &LabMessage) -> Vec<(String, String)> {
    let mut f = vec![
        kv("type", m.kind()),
        kv("packet type code", m.packet_type()),
    ];
    match m {
        Message::Notification(n) => f.extend(notification(n)),
        Message::FollowerInfo { accepted_epoch } | Message::ObserverInfo { accepted_epoch } => {
            f.push(kv("accepted_epoch", accepted_epoch));
            f.push(kv("zxid on the wire", Zxid::epoch_start(*accepted_epoch)));
        }
        Message::LeaderInfo { new_epoch } => {
            f.push(kv("new_epoch", new_epoch));
            f.push(kv("zxid on the wire", Zxid::epoch_start(*new_epoch)));
        }
        Message::AckEpoch {
            last_logged_zxid,
            current_epoch,
        } => {
            f.push(kv("last_logged_zxid", zx(*last_logged_zxid)));
            f.push(kv(
                "current_epoch",
                current_epoch
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "-1 (already accepted)".into()),
            ));
        }
        Message::Diff { zxid } | Message::Trunc { zxid } | Message::NewLeader { zxid } => {
            f.push(kv("zxid", zx(*zxid)))
        }
        Message::Snap { zxid, snapshot } => {
            f.push(kv("zxid", zx(*zxid)));
            f.push(kv("snapshot znodes", snapshot.nodes.len()));
            f.push(kv("snapshot sessions", snapshot.sessions.len()));
        }
        Message::UpToDate => {}
        Message::Proposal(e) | Message::Inform(e) => {
            f.push(kv("zxid", zx(e.zxid)));
            f.push(kv("time_ms", e.time_ms));
            f.push(kv(
                "origin",
                e.origin
                    .map(|(s, t)| format!("server {s}, request {t}"))
                    .unwrap_or_else(|| "-".into()),
            ));
            f.push(kv("txn", txn(&e.txn)));
        }
        Message::Ack { zxid } | Message::Commit { zxid } => f.push(kv("zxid", zx(*zxid))),
        Message::Ping { zxid, touches } => {
            f.push(kv("zxid", zx(*zxid)));
            f.push(kv("session touches", touches.len()));
        }
        Message::Request { tag, body } => {
            f.push(kv("request tag", tag));
            f.push(kv(
                "body",
                match body {
                    Forwarded::Write(r) => request(r),
                    Forwarded::Sync => "sync".into(),
                    Forwarded::Reconfig(r) => format!(
                        "reconfig (joining {:?}, leaving {:?})",
                        r.joining.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
                        r.leaving
                    ),
                },
            ));
        }
        Message::Sync { tag } => f.push(kv("request tag", tag)),
        Message::Config { version, members } => {
            f.push(kv("version", zx(*version)));
            f.push(kv(
                "voters",
                format!("{:?}", members.voters().collect::<Vec<_>>()),
            ));
        }
    }
    f
}

/// The vote box's "why": how a notification compared with the proposal it met.
pub fn decision(d: VoteDecision, theirs: &Vote, proposal_after: &Vote) -> String {
    let them = vote_triple(theirs);
    match d {
        VoteDecision::NewRound { adopted: true } => {
            format!("higher logicclock: box cleared, round adopted; {them} is newer than my own vote, so adopted")
        }
        VoteDecision::NewRound { adopted: false } => {
            format!(
                "higher logicclock: box cleared, round adopted; kept my own vote {}",
                vote_triple(proposal_after)
            )
        }
        VoteDecision::StaleRound => "lower logicclock: ignored (answered with my vote)".into(),
        VoteDecision::Adopted => format!("{them} > my proposal: changed my vote"),
        VoteDecision::Kept => format!(
            "{them} ≤ my proposal {}: kept my vote",
            vote_triple(proposal_after)
        ),
        VoteDecision::Established => {
            "from a FOLLOWING/LEADING server: recorded in outofelection".into()
        }
        VoteDecision::Ignored => "not counted (observer or non-voter)".into(),
    }
}

pub fn received(v: &ReceivedVote) -> String {
    format!(
        "{} round {} {}",
        vote_triple(&v.vote),
        v.logicclock,
        v.state.name()
    )
}

/// The leader's "why DIFF/TRUNC/SNAP" for one learner: which branch of ZooKeeper's
/// `syncFollower` applied.
pub fn sync_reason(s: &SyncRecord) -> String {
    let window = format!("committed log [{} .. {}]", s.min_committed, s.max_committed);
    let last = s.peer_last_zxid;
    let why = s.reason.describe();
    match (s.mode, s.reason) {
        (SyncMode::Diff, SyncReason::InSync) => {
            format!("DIFF (empty): its last zxid {last} = my last processed ({why}); {window}")
        }
        (SyncMode::Diff, _) => format!(
            "DIFF: its last zxid {last} is {why}; {window}: sent {} proposal(s) up to {}",
            s.proposals, s.target
        ),
        (SyncMode::Trunc, _) => format!(
            "TRUNC to {}: its last zxid {last}: {why}; {window}",
            s.target
        ),
        (SyncMode::Snap, _) => format!(
            "SNAP at {}: its last zxid {last}: {why}; {window}",
            s.target
        ),
    }
}
