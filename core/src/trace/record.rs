//! The one trace format both hosts write: a [`TraceRecord`] per thing that happened at a server,
//! whether the server is simulated or a real `zablab server` process. The simulator records them
//! in its `SimTrace`; the node streams the same records, serialized by the same serde derive, to
//! its trace readers. One type means the lab can draw a real cluster with the views it draws a
//! simulated one with (docs/trace-format.md).
//!
//! What only one host can know is optional rather than invented: a real server does not know
//! when its message will arrive (`Send::arrives`) nor the sender's number for a message it
//! receives (`Deliver::msg_id`), so a reader pairs a real delivery with the oldest unpaired send
//! of that kind on the same link (TCP keeps each quorum connection in order).

use alloc::borrow::Cow;
use alloc::boxed::Box;

use super::status::PeerStatus;
use super::TraceEvent;
use crate::durable::RequestTag;
use crate::time::Instant;
use crate::zxid::{Sid, Zxid};

/// The format's version. A stream starts with a [`TraceHeader`] naming it; a reader refuses a
/// version it does not know instead of misreading it. Raise it when a field changes meaning or
/// a variant is removed (adding a variant at the end is compatible for readers that skip
/// unknown ones).
pub const TRACE_FORMAT_VERSION: u32 = 1;

/// The name in every [`TraceHeader`], so a reader can tell a ZabLab trace from other JSON.
pub const TRACE_FORMAT_NAME: &str = "zablab-trace";

/// The first line of a trace stream or file.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TraceHeader {
    /// [`TRACE_FORMAT_NAME`].
    pub format: Cow<'static, str>,
    /// [`TRACE_FORMAT_VERSION`].
    pub version: u32,
    /// The server whose records follow (a stream of one node), or `None` for a simulated
    /// cluster's trace (every record names its node).
    pub node: Option<Sid>,
}

impl TraceHeader {
    pub fn new(node: Option<Sid>) -> TraceHeader {
        TraceHeader {
            format: Cow::Borrowed(TRACE_FORMAT_NAME),
            version: TRACE_FORMAT_VERSION,
            node,
        }
    }

    /// Whether a reader of this version can read the records after this header.
    pub fn is_readable(&self) -> bool {
        self.format == TRACE_FORMAT_NAME && self.version == TRACE_FORMAT_VERSION
    }
}

/// Something that happened at server `node` at `time` (virtual milliseconds in the simulator;
/// on a real server, wall-clock milliseconds at start-up advanced by a monotonic clock).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TraceRecord {
    pub time: Instant,
    pub node: Sid,
    pub event: HostEvent,
}

/// What a host saw happen at one server: the peer's own [`TraceEvent`]s and, around them, what
/// the host did for it (network, disk, clients, faults, the process's life).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum HostEvent {
    /// A message left for `to`. `kind` is ZooKeeper's packet name (`PROPOSAL`,
    /// `NOTIFICATION`, …), `zxid` the zxid it is about ([`crate::message::Message::zxid`]).
    /// `arrives` is when the simulated network will deliver it; `None` on a real server.
    Send {
        to: Sid,
        msg_id: u64,
        kind: Cow<'static, str>,
        arrives: Option<Instant>,
        zxid: Option<Zxid>,
    },
    /// A message arrived and was stepped into the peer. `msg_id` is its [`HostEvent::Send`]'s
    /// (`None` on a real server: see the module doc).
    Deliver {
        from: Sid,
        msg_id: Option<u64>,
        kind: Cow<'static, str>,
    },
    /// A message lost: on a cut link, to a random drop, to a closed connection, to a crash.
    /// `msg_id` is its [`HostEvent::Send`]'s when the host knows it (always in the simulator;
    /// on a real server for what it drops on sending, not for what its fault hook drops on
    /// receipt).
    Drop {
        from: Sid,
        to: Sid,
        msg_id: Option<u64>,
        kind: Cow<'static, str>,
        reason: Cow<'static, str>,
    },
    /// The peer was stepped with `Input::Tick`.
    Timer,
    /// A persist request was issued; `op` is `PersistOp::kind()`.
    Persist {
        id: u64,
        op: Cow<'static, str>,
    },
    /// The disk completed every persist request up to `id`.
    Persisted {
        id: u64,
    },
    /// The peer's own event.
    Peer(TraceEvent),
    /// A client write or sync was handed to this server's peer.
    ClientRequest {
        tag: RequestTag,
        write: bool,
    },
    ClientReply {
        tag: RequestTag,
        zxid: Zxid,
    },
    ClientSyncDone {
        tag: RequestTag,
        zxid: Zxid,
    },
    ClientFailed {
        tag: RequestTag,
    },
    /// The quorum connection with `peer` was closed or reset (`Input::PeerDisconnected`).
    Disconnected {
        peer: Sid,
    },
    Started,
    /// A crash point of the fault model fired (a `Crashed` follows).
    CrashPoint,
    /// The process was paused (SIGSTOP) until `until`.
    Paused {
        until: Instant,
    },
    Crashed,
    Restarted,
    Wiped,
    /// A fault changed the link to `to`.
    LinkChanged {
        to: Sid,
        cut: bool,
        extra_ms: u64,
        drop_per_million: u32,
    },
    /// A stream reader fell behind and `records` records were left out for it here (the
    /// server never waits for a trace reader). Never in a simulated trace.
    Skipped {
        records: u64,
    },
    /// The server's state now ([`PeerStatus`]): a real server sends one to each new stream
    /// reader right after the header, and again while its state changes, so a reader that
    /// joins late starts from the current picture. Never in a simulated trace (the simulator's
    /// readers have the peers themselves).
    Status(Box<PeerStatus>),
}
