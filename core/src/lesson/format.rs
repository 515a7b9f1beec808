//! The lesson file format: what a teacher writes in `lessons/*.json` (documented, with
//! examples, in `docs/lesson-format.md`). Plain data; [`super::LessonRun`] gives it meaning and
//! [`Lesson::validate`] rejects references to servers, clients or steps that do not exist.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::zxid::{Epoch, Sid};

use super::LessonError;

/// A text in both languages of the lab.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Text {
    pub en: String,
    pub zh: String,
}

/// The language a lesson is shown in.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    /// `"en"` or `"zh"` (anything else is `None`).
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }
}

impl Text {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Zh => &self.zh,
        }
    }
}

/// One lesson.
#[derive(Clone, PartialEq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Lesson {
    /// The file name without `.json`, e.g. `01-startup-election`.
    pub name: String,
    pub title: Text,
    /// Everything random in the run (latencies, jitter) comes from this seed.
    pub seed: u64,
    pub cluster: ClusterSpec,
    pub steps: Vec<Step>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub exercises: Vec<Exercise>,
}

/// The ensemble a lesson runs on.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct ClusterSpec {
    /// Voting servers, ids `1..=servers`.
    pub servers: u64,
    /// Observers, ids after the voters.
    #[cfg_attr(feature = "serde", serde(default))]
    pub observers: u64,
    /// Start every server at time 0 (otherwise steps start them).
    #[cfg_attr(feature = "serde", serde(default))]
    pub start_all: bool,
    /// ZooKeeper's `commitLogCount`: how far back the leader can still DIFF.
    #[cfg_attr(feature = "serde", serde(default))]
    pub commit_log_count: Option<usize>,
    /// ZooKeeper's `snapCount`: a snapshot after this many logged transactions.
    #[cfg_attr(feature = "serde", serde(default))]
    pub snap_count: Option<u64>,
    /// Initial disks: server id → its epochs and last zxid before the lesson begins.
    #[cfg_attr(feature = "serde", serde(default))]
    pub disks: BTreeMap<Sid, DiskSpec>,
}

/// A server's disk before the lesson begins: transactions `epoch:1 ..= epoch:last` (the
/// same history on every server, so shorter disks are prefixes of longer ones) and its
/// `acceptedEpoch`/`currentEpoch` (default: `epoch`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct DiskSpec {
    pub epoch: Epoch,
    pub last: u32,
    #[cfg_attr(feature = "serde", serde(default))]
    pub accepted_epoch: Option<Epoch>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub current_epoch: Option<Epoch>,
}

/// One step: narration, what happens, what must then hold, and maybe a question.
#[derive(Clone, PartialEq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Step {
    pub en: String,
    pub zh: String,
    /// Done in order when the step is played.
    #[cfg_attr(feature = "serde", serde(default, rename = "do"))]
    pub actions: Vec<StepAction>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub check: Checkpoint,
    #[cfg_attr(feature = "serde", serde(default))]
    pub question: Option<Question>,
    /// What the step points at: the lab marks these servers, message types and zxids in the
    /// diagram and in the narration while the step is shown.
    #[cfg_attr(feature = "serde", serde(default))]
    pub highlight: Highlight,
}

/// What a step points at (all optional). A teacher names what the narration is about, so the
/// class looks at the right box or message while the step plays.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Highlight {
    /// Server ids.
    pub servers: Vec<Sid>,
    /// Packet names (`TRUNC`, `NOTIFICATION`, …), as in [`MessageCheck::kind`].
    pub messages: Vec<String>,
    /// Zxids, `"epoch:counter"`.
    pub zxids: Vec<String>,
}

impl Highlight {
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.messages.is_empty() && self.zxids.is_empty()
    }
}

impl Step {
    pub fn narration(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Zh => &self.zh,
        }
    }
}

/// A client write or read: which client, which path, what data.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct ClientOp {
    pub client: String,
    pub path: String,
    #[cfg_attr(feature = "serde", serde(default))]
    pub data: Option<String>,
    /// create: an ephemeral node (deleted with its session).
    #[cfg_attr(feature = "serde", serde(default))]
    pub ephemeral: bool,
    /// create: a sequential node (the server appends a 10-digit counter).
    #[cfg_attr(feature = "serde", serde(default))]
    pub sequential: bool,
    /// read: leave a one-shot watch.
    #[cfg_attr(feature = "serde", serde(default))]
    pub watch: bool,
    /// write: send and go on without waiting for the reply (default: wait up to 5 s).
    #[cfg_attr(feature = "serde", serde(default))]
    pub no_wait: bool,
    /// setData / delete / setACL: the version (setACL: aversion) the node must be at, else
    /// BadVersion (default -1: any).
    #[cfg_attr(feature = "serde", serde(default))]
    pub version: Option<i32>,
    /// create / setACL: the ACL, entries `scheme:id:perms` with perms from `crwda`, e.g.
    /// `world:anyone:r`, `digest:alice:<base64 sha1>:crwda`, `auth::crwda`, `ip:10.0.0.7:r`
    /// (default for create: `world:anyone:crwda`, OPEN_ACL_UNSAFE).
    #[cfg_attr(feature = "serde", serde(default))]
    pub acl: Option<Vec<String>>,
    /// create: a container node (createContainer; the leader deletes it once it has had a
    /// child and has none left).
    #[cfg_attr(feature = "serde", serde(default))]
    pub container: bool,
    /// create: a TTL node (createTTL) that the leader deletes once it has no children and was
    /// not modified for this long.
    #[cfg_attr(feature = "serde", serde(default))]
    pub ttl_ms: Option<i64>,
    /// create / set: data of this many bytes (`x`), instead of `data`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub data_bytes: Option<usize>,
}

/// A link between two servers (one way unless `both`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct LinkSpec {
    pub from: Sid,
    pub to: Sid,
    #[cfg_attr(feature = "serde", serde(default))]
    pub both: bool,
    /// `slow` only: extra one-way latency.
    #[cfg_attr(feature = "serde", serde(default))]
    pub extra_ms: u64,
}

/// Something done in a step.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "snake_case", deny_unknown_fields)
)]
pub enum StepAction {
    /// Start a server for the first time.
    Start(Sid),
    /// Kill a server (`kill -9`): what it had not made durable is gone.
    Kill(Sid),
    /// Start a killed server again from its disk.
    Restart(Sid),
    /// Kill a server and erase its disk.
    Wipe(Sid),
    /// Cut a server off from every other server, both ways.
    Isolate(Sid),
    Cut(LinkSpec),
    Heal(LinkSpec),
    HealAll,
    /// Delay a link by `extra_ms`.
    Slow(LinkSpec),
    /// Drop the next message on a link.
    DropNext(LinkSpec),
    /// A client opens a session on a server (and waits for it).
    Connect {
        client: String,
        server: Sid,
        #[cfg_attr(feature = "serde", serde(default = "default_session_timeout_ms"))]
        timeout_ms: i32,
        /// The connect string, in the order the client tries it (it must contain `server`).
        /// With it the client runs ClientCnxn's timers and moves to the next server when its
        /// connection is lost ([`crate::sim::zk::Cnxn`]); without it the client stays on
        /// `server`.
        #[cfg_attr(feature = "serde", serde(default))]
        hosts: Vec<Sid>,
        /// The client's address: the server gives the connection the id `ip:<address>`.
        #[cfg_attr(feature = "serde", serde(default))]
        ip: Option<String>,
    },
    /// Pause a server's process (SIGSTOP) for `ms`: it answers nothing, then resumes.
    Pause {
        server: Sid,
        ms: u64,
    },
    /// `sync`: the client's server catches up with the leader before it answers (waits).
    Sync(ClientOp),
    /// `addauth`: the connection authenticates, e.g. scheme `digest`, auth `alice:secret`.
    AddAuth {
        client: String,
        scheme: String,
        auth: String,
    },
    /// setACL (with `acl` and `version`, the expected aversion).
    SetAcl(ClientOp),
    /// getACL: the node's ACL, as `read_data` (`scheme:id:perms`, comma-separated).
    GetAcl(ClientOp),
    /// A client process dies: its session expires after its timeout.
    CrashClient(String),
    /// A client closes its session (its ephemerals go at once).
    CloseClient(String),
    Create(ClientOp),
    Set(ClientOp),
    Delete(ClientOp),
    /// getData (with `watch`: a one-shot data watch).
    Get(ClientOp),
    /// exists (with `watch`: fires on create, delete and data change).
    Exists(ClientOp),
    /// getChildren (with `watch`: a one-shot child watch).
    Children(ClientOp),
    /// Let virtual time pass.
    RunFor(u64),
    /// Run until the checkpoint holds (checked after every event) or `limit_ms` passed.
    RunUntil {
        until: alloc::boxed::Box<Checkpoint>,
        #[cfg_attr(feature = "serde", serde(default = "default_limit_ms"))]
        limit_ms: u64,
    },
}

#[cfg(feature = "serde")]
fn default_session_timeout_ms() -> i32 {
    2000
}
#[cfg(feature = "serde")]
fn default_limit_ms() -> u64 {
    10_000
}

/// A count expected of messages: exactly `n` (a number) or a comparison (`">=1"`, `"<3"`).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(untagged))]
pub enum CountSpec {
    Exactly(u64),
    Compare(String),
}

impl CountSpec {
    /// Whether `n` satisfies the spec; `Err` for a malformed comparison.
    pub fn holds(&self, n: u64) -> Result<bool, LessonError> {
        match self {
            CountSpec::Exactly(e) => Ok(n == *e),
            CountSpec::Compare(s) => {
                let s = s.trim();
                let (op, rest) = [">=", "<=", "==", ">", "<", "="]
                    .iter()
                    .find_map(|op| s.strip_prefix(op).map(|r| (*op, r)))
                    .unwrap_or(("==", s));
                let v: u64 = rest
                    .trim()
                    .parse()
                    .map_err(|_| LessonError::Invalid(alloc::format!("bad count {s:?}")))?;
                Ok(match op {
                    ">=" => n >= v,
                    "<=" => n <= v,
                    ">" => n > v,
                    "<" => n < v,
                    _ => n == v,
                })
            }
        }
    }
}

/// Messages of one kind (optionally between two servers) and how many are expected.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct MessageCheck {
    /// ZooKeeper's packet name: `NOTIFICATION`, `FOLLOWERINFO`, `DIFF`, `TRUNC`, `PROPOSAL`, …
    pub kind: String,
    #[cfg_attr(feature = "serde", serde(default))]
    pub from: Option<Sid>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub to: Option<Sid>,
    /// Sent during this step (default) or, with `since_start`, since the lesson began.
    #[cfg_attr(feature = "serde", serde(default))]
    pub sent: Option<CountSpec>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub delivered: Option<CountSpec>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub dropped: Option<CountSpec>,
    /// On the wire right now.
    #[cfg_attr(feature = "serde", serde(default))]
    pub in_flight: Option<CountSpec>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub since_start: bool,
}

/// An expected vote: the proposed leader and, optionally, its zxid and epoch.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct VoteSpec {
    pub id: Sid,
    /// `"epoch:counter"`, e.g. `"1:124"`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub zxid: Option<String>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub epoch: Option<Epoch>,
}

/// A leader's choice of DIFF/TRUNC/SNAP for a learner, made during this step.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct SyncCheck {
    #[cfg_attr(feature = "serde", serde(default))]
    pub leader: Option<Sid>,
    pub learner: Sid,
    /// `DIFF`, `TRUNC` or `SNAP`.
    pub mode: String,
    #[cfg_attr(feature = "serde", serde(default))]
    pub peer_last_zxid: Option<String>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub target: Option<String>,
    /// The oldest proposal in the leader's in-memory committed log (`minCommittedLog`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub min_committed: Option<String>,
    /// Which branch of `syncFollower` applied: a [`crate::trace::SyncReason`] name.
    #[cfg_attr(feature = "serde", serde(default))]
    pub reason: Option<String>,
}

/// A znode as seen by some servers.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct ZnodeCheck {
    pub path: String,
    /// Default true; false: the node must be absent.
    #[cfg_attr(feature = "serde", serde(default))]
    pub exists: Option<bool>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub data: Option<String>,
    /// Its children's names, sorted.
    #[cfg_attr(feature = "serde", serde(default))]
    pub children: Option<Vec<String>>,
    /// The client whose session owns this ephemeral node.
    #[cfg_attr(feature = "serde", serde(default))]
    pub owner: Option<String>,
    /// The zxid of the transaction that created it, `"epoch:counter"` (a fencing token).
    #[cfg_attr(feature = "serde", serde(default))]
    pub czxid: Option<String>,
    /// Its stat's `version` (dataVersion): 0 at create, +1 per setData.
    #[cfg_attr(feature = "serde", serde(default))]
    pub version: Option<i32>,
    /// Its stat's `cversion`: +1 per child created or deleted.
    #[cfg_attr(feature = "serde", serde(default))]
    pub cversion: Option<i32>,
    /// Its stat's `aversion`: +1 per setACL.
    #[cfg_attr(feature = "serde", serde(default))]
    pub aversion: Option<i32>,
    /// Its ACL, entries `scheme:id:perms` (perms in `crwda` order).
    #[cfg_attr(feature = "serde", serde(default))]
    pub acl: Option<Vec<String>>,
    /// The servers to look at (default: every running server).
    #[cfg_attr(feature = "serde", serde(default))]
    pub on: Option<Vec<Sid>>,
}

/// What must hold after a step. Every field is optional; an empty checkpoint holds (apart
/// from the simulator's invariants, which are always checked).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Checkpoint {
    /// Server → `LOOKING`, `FOLLOWING`, `LEADING`, `OBSERVING` or `DOWN`.
    pub states: BTreeMap<Sid, String>,
    /// Server → `ELECTION`, `DISCOVERY`, `SYNC` or `BROADCAST`.
    pub phases: BTreeMap<Sid, String>,
    /// The established leader (in broadcast).
    pub leader: Option<Sid>,
    /// True: no server is an established leader.
    pub no_leader: bool,
    /// One leader in broadcast and every running server following it.
    pub stable: Option<bool>,
    /// Server → the leader it follows (or is).
    pub following: BTreeMap<Sid, Sid>,
    /// Server → the vote it reports.
    pub votes: BTreeMap<Sid, VoteSpec>,
    /// Server → its election round.
    pub logicclock: BTreeMap<Sid, u64>,
    /// Server → its vote box (`recvset`): voter → the id it voted for, exactly.
    pub vote_box: BTreeMap<Sid, BTreeMap<Sid, Sid>>,
    /// Server → its `lastLoggedZxid`.
    pub last_logged: BTreeMap<Sid, String>,
    /// Server → its `lastProcessedZxid` (applied, i.e. committed here).
    pub last_committed: BTreeMap<Sid, String>,
    pub accepted_epoch: BTreeMap<Sid, Epoch>,
    pub current_epoch: BTreeMap<Sid, Epoch>,
    pub messages: Vec<MessageCheck>,
    pub sync: Vec<SyncCheck>,
    pub znodes: Vec<ZnodeCheck>,
    /// Client → the result of its last request: `ok` or an error code name (`NodeExists`).
    pub results: BTreeMap<String, String>,
    /// Client → the data its last read returned.
    pub read_data: BTreeMap<String, String>,
    /// Client → the stat version its last getData returned.
    pub read_version: BTreeMap<String, i32>,
    /// Client → the watch events it received during this step, e.g. `NodeDeleted /master`.
    pub events: BTreeMap<String, Vec<String>>,
    /// Client → whether its session is still open on the leader.
    pub session_open: BTreeMap<String, bool>,
    /// Client → its session's timeout as the leader holds it (negotiated: between 2 and 20
    /// ticks).
    pub session_timeout_ms: BTreeMap<String, i32>,
    /// Client (with a connect string) → `CONNECTED`, `CONNECTING` or `CLOSED`.
    pub client_state: BTreeMap<String, String>,
    /// Client → the server it is connected to (or was last).
    pub connected_to: BTreeMap<String, Sid>,
    /// Client → the connection events its watcher received in this step, in order:
    /// `Disconnected`, `SyncConnected`, `Expired`.
    pub session_events: BTreeMap<String, Vec<String>>,
    /// Client → the servers that refused its session in this step because they were behind
    /// the last zxid it had seen, in order.
    pub refused_by: BTreeMap<String, Vec<Sid>>,
    /// Client → how many pings it sent in this step.
    pub pings: BTreeMap<String, CountSpec>,
}

impl Checkpoint {
    pub fn is_empty(&self) -> bool {
        *self == Checkpoint::default()
    }
}

/// What a question's answer is computed from (at the moment the step's checkpoint is checked).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "snake_case", deny_unknown_fields)
)]
pub enum AnswerFrom {
    /// The established leader's id.
    Leader,
    /// A server's state, e.g. `FOLLOWING`.
    StateOf(Sid),
    /// The id a server votes for.
    VoteOf(Sid),
    LogicclockOf(Sid),
    LastLoggedOf(Sid),
    LastCommittedOf(Sid),
    /// The sync mode last chosen for a learner.
    SyncModeFor(Sid),
    /// A znode's data on the leader (`absent` if there is none).
    DataOf(String),
    /// How many running servers hold a znode.
    HoldersOf(String),
    /// What a client's last getData or getChildren returned (what it believes).
    ReadBy(String),
    /// How many watch events a client received during the step.
    EventsOf(String),
    /// A znode's stat version on the leader (`absent` if there is none).
    VersionOf(String),
    /// The result of a client's last request: `ok`, `pending` or an error code name.
    ResultOf(String),
    /// A client's connection state: `CONNECTED`, `CONNECTING` or `CLOSED`.
    ClientStateOf(String),
    /// The server a client is connected to.
    ServerOf(String),
    /// The connection events a client's watcher received in the step, comma-separated
    /// (`none` if there were none).
    SessionEventsOf(String),
    /// How many pings a client (with a connect string) sent during the step.
    PingsOf(String),
    /// A fixed answer (for conceptual questions).
    Fixed(String),
}

/// A question asked after a step; the answer is computed from the run.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Question {
    pub en: String,
    pub zh: String,
    pub answer: AnswerFrom,
    /// The answer the author expects; the tests check the run computes it.
    pub expect: String,
    /// Answers to offer (optional; any text is accepted otherwise).
    #[cfg_attr(feature = "serde", serde(default))]
    pub choices: Vec<String>,
}

impl Question {
    /// The question's text in `lang`.
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Zh => &self.zh,
        }
    }
}

/// What an exercise asks the student to bring about.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "snake_case", deny_unknown_fields)
)]
pub enum Goal {
    /// This server is the established leader and the ensemble is stable.
    LeaderIs(Sid),
    /// A leader chose this sync mode (`DIFF`, `TRUNC`, `SNAP`) for some learner.
    SyncMode(String),
    /// A proposal was made, never committed, and is now on no server's disk, while a leader of
    /// a later epoch serves.
    LoseUncommittedProposal,
    /// The leader's tree holds this znode with this data.
    Znode { path: String, data: String },
    /// No leader was established for the last 3 s although at least `running` servers run.
    NoLeaderWith { running: u64 },
    /// `leader` is the stable leader, `over` follows it, and during free play `over` gave up
    /// its own initial vote for `leader`'s because of `field` (`epoch`, `zxid` or `id`: the
    /// first of (peer epoch, zxid, server id) in which the two votes differ).
    WinsOn {
        leader: Sid,
        over: Sid,
        field: String,
    },
    /// A proposal made during free play that its leader never committed (it sent no COMMIT)
    /// is committed by the stable leader of a later epoch: it was logged by a quorum.
    CommittedByNextLeader,
    /// The client received this watch event during free play, e.g. `NodeDeleted /lock/n-0000000000`.
    Notified { client: String, event: String },
    /// The client's last read returned a value that `path` no longer holds on its server,
    /// while it holds a watch on `path`: it is waiting to be told of a change that already
    /// happened (an update lost between the read and the re-arm).
    MissedUpdate { client: String, path: String },
    /// The client's last request, sent during free play, failed with this error code (e.g.
    /// `BadVersion`: a conditional write that lost the race).
    Rejected { client: String, code: String },
    /// The client's last read during free play returned what the leader holds for `path`.
    ReadLatest { client: String, path: String },
    /// During free play the client lost its connection, reconnected to another server, and
    /// its session is still open.
    MovedSession { client: String },
    /// During free play this server, while leading, went back to LOOKING without being
    /// stopped (it lost its quorum).
    LeaderBackToLooking(Sid),
}

/// A free-play task checked from the trace (see [`super::check_exercise`]).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Exercise {
    pub id: String,
    pub title: Text,
    pub goal: Goal,
    /// Shown after a try that did not reach the goal.
    pub hint: Text,
    /// Free play starts after this many steps of the lesson have been played (0: the cluster
    /// as the lesson's `cluster` section sets it up).
    #[cfg_attr(feature = "serde", serde(default))]
    pub start_after_step: usize,
    /// A scripted solution (the tests play it and expect the goal to be reached).
    pub solution: Vec<StepAction>,
    /// A scripted try that does not reach the goal (the tests expect a failure and a hint).
    #[cfg_attr(feature = "serde", serde(default))]
    pub non_solution: Vec<StepAction>,
}

/// Parses `"epoch:counter"` (or a plain number) into a zxid.
pub fn parse_zxid(s: &str) -> Result<crate::zxid::Zxid, LessonError> {
    let bad = || LessonError::Invalid(alloc::format!("bad zxid {s:?} (want \"epoch:counter\")"));
    match s.split_once(':') {
        Some((e, c)) => Ok(crate::zxid::Zxid::new(
            e.trim().parse().map_err(|_| bad())?,
            c.trim().parse().map_err(|_| bad())?,
        )),
        None => Ok(crate::zxid::Zxid(s.trim().parse().map_err(|_| bad())?)),
    }
}
