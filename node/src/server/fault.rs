//! The fault hook: an opt-in, loopback-only control port that cuts this server's links to
//! other servers, for chaos tests (`node/examples/chaos.rs`) and, later, the browser live lab.
//!
//! # Turning it on
//! `zablab server zoo.cfg --fault-addr 127.0.0.1:PORT`. Without the flag nothing listens and
//! the peer task only tests an `Option` that is `None`. An address that is not loopback
//! (127.0.0.0/8 or ::1) is refused at start: the hook has no authentication, so it must never
//! be reachable from another machine.
//!
//! # The line protocol
//! One command per line (at most [`MAX_LINE_BYTES`] bytes), one answer line per command:
//!
//! | command | effect | answer |
//! |---|---|---|
//! | `cut <sid> in` | drop every message from server `sid` | `ok` |
//! | `cut <sid> out` | drop every message to server `sid` | `ok` |
//! | `cut <sid> both` | both of the above | `ok` |
//! | `heal <sid>` | remove the cuts on `sid` | `ok` |
//! | `heal <sid> in\|out\|both` | remove only that direction's cut on `sid` (one-way faults in the live lab) | `ok` |
//! | `heal all` | remove every cut | `ok` |
//! | `status` | the cuts in force | `cuts: 2=both 3=in` or `cuts: none` |
//!
//! Anything else answers `error: <why>` and leaves the cuts unchanged. At most
//! [`MAX_CONNECTIONS`] control connections are served at once; more are closed at once.
//!
//! # What a cut does
//! A cut acts like a firewall DROP rule on the links between two servers, at the level of the
//! peer task, so the protocol's own timeouts (initLimit, syncLimit, election timeouts) notice it:
//! * election notifications to or from the peer are dropped (the election layer may lose
//!   messages anyway; FastLeaderElection re-sends);
//! * quorum packets (FOLLOWERINFO … PROPOSAL, ACK, COMMIT, PING) are dropped. ZAB assumes FIFO
//!   links, so a quorum connection on which one packet was dropped in one direction stays dead
//!   in that direction for its whole life, even after `heal`, as a TCP connection whose segments
//!   were dropped stalls until a timeout closes it; a new connection after the heal works;
//! * a learner whose FOLLOWERINFO is cut does not dial, and a leader that receives a cut
//!   FOLLOWERINFO keeps the socket open but ignores it, so both wait for their timeouts;
//! * a connection that the other side closes is still reported as closed (as a TCP reset would
//!   be); only data is dropped.
//!
//! A cut is not persistent: a restarted server has none.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use zablab_core::zxid::Sid;

/// The longest command line accepted; a longer one closes the control connection.
pub const MAX_LINE_BYTES: usize = 256;
/// Control connections served at once.
pub const MAX_CONNECTIONS: usize = 8;

/// Which directions of the links to one peer are cut.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cut {
    /// Messages from the peer are dropped.
    pub inbound: bool,
    /// Messages to the peer are dropped.
    pub outbound: bool,
}

impl Cut {
    fn name(self) -> &'static str {
        match (self.inbound, self.outbound) {
            (true, true) => "both",
            (true, false) => "in",
            (false, true) => "out",
            (false, false) => "none",
        }
    }
}

/// One parsed control command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Cut {
        sid: Sid,
        cut: Cut,
    },
    /// `sid: None` heals every cut; `only` heals just those directions of `sid`'s cut.
    Heal {
        sid: Option<Sid>,
        only: Option<Cut>,
    },
    Status,
}

/// Why a control line was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandError {
    Unknown(String),
    BadSid(String),
    BadDirection(String),
    Usage(&'static str),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Unknown(c) => write!(f, "unknown command `{c}` (cut, heal, status)"),
            CommandError::BadSid(s) => write!(f, "`{s}` is not a server id"),
            CommandError::BadDirection(d) => write!(f, "`{d}` is not in, out or both"),
            CommandError::Usage(u) => write!(f, "usage: {u}"),
        }
    }
}

impl Command {
    /// Parses one control line.
    pub fn parse(line: &str) -> Result<Command, CommandError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let sid = |s: &str| s.parse::<Sid>().map_err(|_| CommandError::BadSid(s.into()));
        match words.as_slice() {
            ["cut", s, dir] => Ok(Command::Cut {
                sid: sid(s)?,
                cut: direction(dir)?,
            }),
            ["cut", ..] => Err(CommandError::Usage("cut <sid> in|out|both")),
            ["heal", "all"] => Ok(Command::Heal {
                sid: None,
                only: None,
            }),
            ["heal", s] => Ok(Command::Heal {
                sid: Some(sid(s)?),
                only: None,
            }),
            ["heal", s, dir] => Ok(Command::Heal {
                sid: Some(sid(s)?),
                only: Some(direction(dir)?),
            }),
            ["heal", ..] => Err(CommandError::Usage("heal <sid> [in|out|both] | heal all")),
            ["status"] => Ok(Command::Status),
            [c, ..] => Err(CommandError::Unknown((*c).into())),
            [] => Err(CommandError::Usage(
                "cut <sid> in|out|both | heal <sid>|all | status",
            )),
        }
    }
}

/// `in`, `out` or `both` as the directions it names.
fn direction(word: &str) -> Result<Cut, CommandError> {
    let (inbound, outbound) = match word {
        "in" => (true, false),
        "out" => (false, true),
        "both" => (true, true),
        d => return Err(CommandError::BadDirection(d.into())),
    };
    Ok(Cut { inbound, outbound })
}

/// The cuts in force, shared by the control port and the peer task.
#[derive(Debug, Default)]
pub struct FaultHook {
    cuts: Mutex<BTreeMap<Sid, Cut>>,
}

impl FaultHook {
    /// Applies a command and returns the answer line (without the newline).
    pub fn apply(&self, cmd: &Command) -> String {
        let Ok(mut cuts) = self.cuts.lock() else {
            return "error: fault hook state poisoned".into();
        };
        match cmd {
            Command::Cut { sid, cut } => {
                let c = cuts.entry(*sid).or_default();
                c.inbound |= cut.inbound;
                c.outbound |= cut.outbound;
                "ok".into()
            }
            Command::Heal {
                sid: Some(sid),
                only,
            } => {
                let left = match (cuts.get(sid), only) {
                    (Some(c), Some(o)) => Cut {
                        inbound: c.inbound && !o.inbound,
                        outbound: c.outbound && !o.outbound,
                    },
                    _ => Cut::default(),
                };
                if left == Cut::default() {
                    cuts.remove(sid);
                } else {
                    cuts.insert(*sid, left);
                }
                "ok".into()
            }
            Command::Heal { sid: None, .. } => {
                cuts.clear();
                "ok".into()
            }
            Command::Status if cuts.is_empty() => "cuts: none".into(),
            Command::Status => {
                let list: Vec<String> = cuts
                    .iter()
                    .map(|(s, c)| format!("{s}={}", c.name()))
                    .collect();
                format!("cuts: {}", list.join(" "))
            }
        }
    }

    /// The cut on the links to `sid` (none when not cut).
    pub fn cut(&self, sid: Sid) -> Cut {
        self.cuts
            .lock()
            .map(|c| c.get(&sid).copied().unwrap_or_default())
            .unwrap_or_default()
    }
}

/// The peer task's side of the hook: the cuts, plus which quorum connections are dead in which
/// direction (a dropped packet kills its direction of the connection for good, to keep FIFO) and
/// the accepted learner connections that are held open but ignored. `C` is the connection type.
pub struct LinkFaults<C> {
    hook: Arc<FaultHook>,
    dead_in: BTreeSet<u64>,
    dead_out: BTreeSet<u64>,
    held: BTreeMap<Sid, C>,
}

/// Dead-connection ids kept before the ones no longer live are forgotten.
const DEAD_IDS_MAX: usize = 64;

impl<C> LinkFaults<C> {
    pub fn new(hook: Arc<FaultHook>) -> LinkFaults<C> {
        LinkFaults {
            hook,
            dead_in: BTreeSet::new(),
            dead_out: BTreeSet::new(),
            held: BTreeMap::new(),
        }
    }

    /// An election notification from `from` is dropped.
    pub fn drops_notification_from(&self, from: Sid) -> bool {
        self.hook.cut(from).inbound
    }

    /// An election notification to `to` is dropped.
    pub fn drops_notification_to(&self, to: Sid) -> bool {
        self.hook.cut(to).outbound
    }

    /// A quorum packet from `from` on connection `conn_id` is dropped (and, if it is the
    /// first, the connection's inbound direction dies).
    pub fn drops_packet_from(&mut self, from: Sid, conn_id: u64) -> bool {
        if self.dead_in.contains(&conn_id) {
            return true;
        }
        if self.hook.cut(from).inbound {
            self.dead_in.insert(conn_id);
            return true;
        }
        false
    }

    /// A quorum packet to `to` on connection `conn_id` is dropped.
    pub fn drops_packet_to(&mut self, to: Sid, conn_id: u64) -> bool {
        if self.dead_out.contains(&conn_id) {
            return true;
        }
        if self.hook.cut(to).outbound {
            self.dead_out.insert(conn_id);
            return true;
        }
        false
    }

    /// A learner dialing `to` (FOLLOWERINFO/OBSERVERINFO) does not dial.
    pub fn drops_dial_to(&self, to: Sid) -> bool {
        self.hook.cut(to).outbound
    }

    /// Keeps an accepted connection whose first packet was dropped open, and ignored.
    pub fn hold(&mut self, sid: Sid, conn: C) {
        self.held.insert(sid, conn);
    }

    /// Forgets dead ids of connections that are gone, once there are many.
    pub fn forget_gone(&mut self, live: impl Fn(u64) -> bool) {
        if self.dead_in.len() + self.dead_out.len() > DEAD_IDS_MAX {
            self.dead_in.retain(|id| live(*id));
            self.dead_out.retain(|id| live(*id));
        }
    }
}

/// Why `--fault-addr` was refused.
#[derive(Debug)]
pub enum FaultAddrError {
    Parse(String),
    NotLoopback(SocketAddr),
    Bind(SocketAddr, std::io::Error),
}

impl fmt::Display for FaultAddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultAddrError::Parse(a) => write!(f, "--fault-addr `{a}` is not an ip:port"),
            FaultAddrError::NotLoopback(a) => {
                write!(
                    f,
                    "--fault-addr {a} is not a loopback address (127.0.0.1 or ::1)"
                )
            }
            FaultAddrError::Bind(a, e) => write!(f, "cannot bind fault hook on {a}: {e}"),
        }
    }
}

/// Checks that `addr` is a loopback `ip:port` (no host names: they could resolve elsewhere).
pub fn loopback_addr(addr: &str) -> Result<SocketAddr, FaultAddrError> {
    let a: SocketAddr = addr
        .parse()
        .map_err(|_| FaultAddrError::Parse(addr.into()))?;
    if !a.ip().is_loopback() {
        return Err(FaultAddrError::NotLoopback(a));
    }
    Ok(a)
}

/// Binds the control port on a loopback address and serves it; returns the shared hook.
pub async fn serve(addr: &str) -> Result<Arc<FaultHook>, FaultAddrError> {
    let a = loopback_addr(addr)?;
    let listener = TcpListener::bind(a)
        .await
        .map_err(|e| FaultAddrError::Bind(a, e))?;
    let hook = Arc::new(FaultHook::default());
    let h = hook.clone();
    let open = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                open.fetch_sub(1, Ordering::SeqCst);
                continue; // dropping the socket closes it
            }
            let h = h.clone();
            let open = open.clone();
            tokio::spawn(async move {
                let _ = control_connection(sock, &h).await;
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Ok(hook)
}

async fn control_connection(sock: tokio::net::TcpStream, hook: &FaultHook) -> std::io::Result<()> {
    let (rd, mut wr) = sock.into_split();
    let mut rd = BufReader::new(rd);
    let mut line = Vec::new();
    loop {
        line.clear();
        // Read at most one byte past the limit, so a long line is refused without buffering it.
        let n = (&mut rd)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        if line.len() > MAX_LINE_BYTES {
            wr.write_all(b"error: line too long\n").await?;
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let answer = match Command::parse(text.trim()) {
            Ok(cmd) => hook.apply(&cmd),
            Err(e) => format!("error: {e}"),
        };
        wr.write_all(answer.as_bytes()).await?;
        wr.write_all(b"\n").await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_bad_ones_are_refused() {
        assert_eq!(
            Command::parse("cut 2 both"),
            Ok(Command::Cut {
                sid: 2,
                cut: Cut {
                    inbound: true,
                    outbound: true
                }
            })
        );
        assert_eq!(
            Command::parse(" heal   all "),
            Ok(Command::Heal {
                sid: None,
                only: None
            })
        );
        assert_eq!(
            Command::parse("heal 3"),
            Ok(Command::Heal {
                sid: Some(3),
                only: None
            })
        );
        assert!(matches!(
            Command::parse("heal 3 sideways"),
            Err(CommandError::BadDirection(_))
        ));
        assert!(matches!(
            Command::parse("heal 3 in out"),
            Err(CommandError::Usage(_))
        ));
        assert_eq!(Command::parse("status"), Ok(Command::Status));
        assert!(matches!(
            Command::parse("cut x in"),
            Err(CommandError::BadSid(_))
        ));
        assert!(matches!(
            Command::parse("cut 2 sideways"),
            Err(CommandError::BadDirection(_))
        ));
        assert!(matches!(
            Command::parse("cut 2"),
            Err(CommandError::Usage(_))
        ));
        assert!(matches!(
            Command::parse("drop 2"),
            Err(CommandError::Unknown(_))
        ));
        assert!(matches!(Command::parse(""), Err(CommandError::Usage(_))));
    }

    #[test]
    fn cuts_accumulate_per_direction_and_heal_removes_them() {
        let h = FaultHook::default();
        assert_eq!(h.apply(&Command::Status), "cuts: none");
        h.apply(&Command::parse("cut 2 in").unwrap());
        h.apply(&Command::parse("cut 2 out").unwrap());
        h.apply(&Command::parse("cut 3 in").unwrap());
        assert_eq!(h.apply(&Command::Status), "cuts: 2=both 3=in");
        assert!(h.cut(2).inbound && h.cut(2).outbound);
        assert!(h.cut(3).inbound && !h.cut(3).outbound);
        assert_eq!(h.cut(4), Cut::default());
        h.apply(&Command::parse("heal 2").unwrap());
        assert_eq!(h.apply(&Command::Status), "cuts: 3=in");
        h.apply(&Command::parse("heal all").unwrap());
        assert_eq!(h.apply(&Command::Status), "cuts: none");
    }

    #[test]
    fn healing_one_direction_leaves_the_other_cut() {
        let h = FaultHook::default();
        h.apply(&Command::parse("cut 2 both").unwrap());
        assert_eq!(h.apply(&Command::parse("heal 2 in").unwrap()), "ok");
        assert_eq!(h.apply(&Command::Status), "cuts: 2=out");
        assert!(!h.cut(2).inbound && h.cut(2).outbound);
        // Healing a direction that is not cut changes nothing; healing the last one removes
        // the entry.
        h.apply(&Command::parse("heal 2 in").unwrap());
        assert_eq!(h.apply(&Command::Status), "cuts: 2=out");
        h.apply(&Command::parse("heal 2 out").unwrap());
        assert_eq!(h.apply(&Command::Status), "cuts: none");
        h.apply(&Command::parse("cut 3 in").unwrap());
        h.apply(&Command::parse("heal 3 both").unwrap());
        assert_eq!(h.apply(&Command::Status), "cuts: none");
    }

    #[test]
    fn only_loopback_addresses_are_accepted() {
        assert!(loopback_addr("127.0.0.1:7000").is_ok());
        assert!(loopback_addr("[::1]:7000").is_ok());
        assert!(matches!(
            loopback_addr("0.0.0.0:7000"),
            Err(FaultAddrError::NotLoopback(_))
        ));
        assert!(matches!(
            loopback_addr("10.1.2.3:7000"),
            Err(FaultAddrError::NotLoopback(_))
        ));
        assert!(matches!(
            loopback_addr("localhost:7000"),
            Err(FaultAddrError::Parse(_))
        ));
    }
}
