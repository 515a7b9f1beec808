//! The bug museum: historical ways to get ZAB wrong, each a seeded mutation of
//! the core (`zablab_core::mutation`) and a short scripted scenario that breaks it. A student
//! picks an exhibit, replays the scenario with the bug switched on, and the invariant monitor
//! stops the run at the violation and points at the servers and zxids; with the fix (the
//! mutation off) the same scenario reaches its end with every invariant intact.
//!
//! The exhibits are data and ship in both modules (the lab page lists them); the mutated runs
//! only exist in the museum module (`--features museum`, which turns on the core's
//! `mutations` feature), loaded by `index.html` for `?museum=NAME`.

use zablab_core::lesson::Lang;
use zablab_core::mutation::{Mutation, Mutations};
use zablab_core::sim::{Action, Scenario, ScheduledAction};
use zablab_core::tree::acl::open_acl_unsafe;
use zablab_core::tree::{CreateRequest, Request, WriteOp};
use zablab_core::{Instant, Sid};

use crate::lab::{lab_config, LabScenario};

/// One exhibit: the bug, its story in English and Chinese, and the scenario that breaks it.
/// (The lab page reads only the names and titles.)
#[cfg_attr(not(feature = "museum"), allow(dead_code))]
pub struct Exhibit {
    /// The name in `?museum=NAME` (the mutation's name).
    pub mutation: Mutation,
    pub title: (&'static str, &'static str),
    /// What went wrong in history, and what the seeded bug does.
    pub story: (&'static str, &'static str),
    /// What the scenario does and what to watch.
    pub watch: (&'static str, &'static str),
    /// The invariant the bug breaks in this scenario.
    pub invariant: &'static str,
    /// The scenario ends here (the fixed run is safe up to this time).
    pub end_ms: u64,
    build: fn() -> (u64, u64, Vec<ScheduledAction<Request>>),
}

impl Exhibit {
    pub fn name(&self) -> &'static str {
        self.mutation.name()
    }

    pub fn title(&self, lang: Lang) -> &'static str {
        pick(lang, self.title)
    }

    /// The scenario, with the bug switched on or (`fixed`) off. The seed and script are the
    /// same either way.
    pub fn scenario(&self, fixed: bool) -> LabScenario {
        let (servers, seed, actions) = (self.build)();
        let mut config = lab_config(servers, 0);
        config.mutations = if fixed {
            Mutations::NONE
        } else {
            Mutations::only(self.mutation)
        };
        Scenario {
            config,
            seed,
            actions,
        }
    }
}

#[cfg_attr(not(feature = "museum"), allow(dead_code))]
pub fn pick(lang: Lang, text: (&'static str, &'static str)) -> &'static str {
    match lang {
        Lang::En => text.0,
        Lang::Zh => text.1,
    }
}

/// The session a scenario's client uses on `server`: ZooKeeper's `(sid << 56) | n` shape.
fn session(server: Sid) -> i64 {
    ((server as i64) << 56) | 1
}

fn at(ms: u64, action: Action<Request>) -> ScheduledAction<Request> {
    ScheduledAction {
        at: Instant(ms),
        action,
    }
}

/// A client on `server` opens its session at `from_ms`, then creates `/museum-1 ..= n`, one
/// every `every_ms`.
fn writes(
    server: Sid,
    from_ms: u64,
    first: u32,
    n: u32,
    every_ms: u64,
) -> Vec<ScheduledAction<Request>> {
    let mut v = Vec::new();
    if first == 1 {
        v.push(at(
            from_ms,
            Action::Write {
                server,
                txn: Request::new(
                    session(server),
                    1,
                    Vec::new(),
                    WriteOp::CreateSession {
                        timeout_ms: crate::page_client::SESSION_TIMEOUT_MS,
                    },
                ),
            },
        ));
    }
    for k in 0..n {
        let i = first + k;
        let op = WriteOp::Create(CreateRequest {
            path: format!("/museum-{i}"),
            data: Some(format!("w{i}").into_bytes()),
            acl: open_acl_unsafe(),
            flags: 0,
        });
        v.push(at(
            from_ms + (k as u64 + 1) * every_ms,
            Action::Write {
                server,
                txn: Request::new(session(server), i as i32 + 1, Vec::new(), op),
            },
        ));
    }
    v
}

/// Three servers elect S3; a client writes to it.
fn ack_before_durable() -> (u64, u64, Vec<ScheduledAction<Request>>) {
    (3, 1, writes(3, 3_000, 1, 2, 150))
}

/// Three servers; S1 misses three writes while down and comes back: the leader DIFFs it.
fn current_epoch_before_sync_logged() -> (u64, u64, Vec<ScheduledAction<Request>>) {
    let mut v = writes(3, 2_500, 1, 1, 100);
    v.push(at(2_900, Action::Crash(1)));
    v.extend(writes(3, 3_000, 2, 3, 100));
    v.push(at(3_600, Action::Restart(1)));
    v.sort_by_key(|a| a.at);
    (3, 1, v)
}

/// Five servers, S5 leads. The leader's links to S2, S3, S4 are slow; S1 ACKs a proposal fast,
/// crashes, restarts and is TRUNCated below it; S2's late ACK then completes a "quorum".
fn stale_ack_after_trunc() -> (u64, u64, Vec<ScheduledAction<Request>>) {
    let mut v = writes(5, 2_500, 1, 0, 100);
    for (to, extra_ms) in [(2, 300), (3, 900), (4, 900)] {
        v.push(at(
            2_900,
            Action::SetLink {
                from: 5,
                to,
                extra_ms,
                drop_per_million: 0,
            },
        ));
    }
    v.extend(writes(5, 2_900, 1, 1, 100).into_iter().skip(1));
    v.push(at(3_080, Action::Crash(1)));
    v.push(at(3_081, Action::Restart(1)));
    // S1's TRUNC is durable at 3247 ms and its re-logged proposal would be at 3255 ms.
    v.push(at(STALE_ACK_SECOND_CRASH_MS, Action::Crash(1)));
    v.push(at(4_500, Action::Restart(1)));
    v.sort_by_key(|a| a.at);
    (5, 1, v)
}

/// When S1 crashes the second time: after its TRUNC is on disk and before the proposal the
/// leader re-sent is (the test `every_mutated_run_breaks_its_invariant` pins it).
const STALE_ACK_SECOND_CRASH_MS: u64 = 3_250;

/// Three servers elect S3; a client writes to it.
fn commit_with_minority() -> (u64, u64, Vec<ScheduledAction<Request>>) {
    (3, 1, writes(3, 3_000, 1, 2, 150))
}

pub const EXHIBITS: &[Exhibit] = &[
    Exhibit {
        mutation: Mutation::CurrentEpochBeforeSyncLogged,
        title: (
            "currentEpoch written before the synced log (ZOOKEEPER-4643 / 4646)",
            "同步的日志落盘之前就写了 currentEpoch（ZOOKEEPER-4643 / 4646）",
        ),
        story: (
            "In ZooKeeper 3.8 a follower that received NEWLEADER wrote its new currentEpoch and answered ACK as soon as that one file was on disk, while the transactions the sync had just sent it were still only in memory. A crash then left a server that claims the new epoch but lacks its history — and the leader counted its ACK.",
            "在 ZooKeeper 3.8 中，Follower 收到 NEWLEADER 后先写新的 currentEpoch，这一个文件落盘就回复 ACK，而同步刚发来的事务还只在内存里。此时崩溃，服务器自称处于新纪元却缺少历史——而 Leader 已经把它的 ACK 算进了法定人数。",
        ),
        watch: (
            "S1 crashes, misses three writes and restarts; the leader S3 sends it a DIFF. Watch S1's column in the logs view: the DIFF's transactions are pending (not on disk) when S1 acknowledges NEWLEADER.",
            "S1 崩溃，错过三次写入后重启；Leader S3 给它发送 DIFF。请看日志视图中 S1 一列：S1 确认 NEWLEADER 时，DIFF 带来的事务还在等待落盘。",
        ),
        invariant: "DurableAcknowledgement",
        end_ms: 6_000,
        build: current_epoch_before_sync_logged,
    },
    Exhibit {
        mutation: Mutation::AckBeforeDurable,
        title: ("ACK before fsync", "fsync 之前就回复 ACK"),
        story: (
            "ZAB's broadcast is safe because a follower ACKs a proposal only once it is in its transaction log on disk. A follower that ACKs on arrival lets the leader commit a write that a power cut on a quorum could erase.",
            "ZAB 的广播之所以安全，是因为 Follower 只有在提案写入磁盘上的事务日志之后才回复 ACK。提案一到就回复 ACK 的 Follower，会让 Leader 提交一个在过半服务器断电后可能消失的写入。",
        ),
        watch: (
            "The client writes to the leader S3. The monitor stops at the first ACK sent for a proposal that is only in the follower's memory (dashed cell in the logs view).",
            "客户端向 Leader S3 写入。监视器会在第一个针对只存在于 Follower 内存中的提案（日志视图中的虚线格子）发出的 ACK 处停下。",
        ),
        invariant: "DurableAcknowledgement",
        end_ms: 5_000,
        build: ack_before_durable,
    },
    Exhibit {
        mutation: Mutation::StaleAckAfterTrunc,
        title: ("The stale ACK after TRUNC", "TRUNC 之后过期的 ACK"),
        story: (
            "ZooKeeper 3.8's Leader.processAck keeps the ACKs a learner sent on a connection that has since closed. If the learner reconnects and is TRUNCated below the proposal, its old ACK still counts although its disk no longer holds the proposal.",
            "ZooKeeper 3.8 的 Leader.processAck 会保留 Learner 在一条已关闭连接上发出的 ACK。如果该 Learner 重新连接并被 TRUNC 到该提案之前，它的旧 ACK 仍然被计数，尽管它的磁盘上已经没有这个提案。",
        ),
        watch: (
            "Five servers, S5 leads; its links to S2 (300 ms) and S3, S4 (900 ms) are slow. S1 logs and ACKs the proposal 1:2, crashes and restarts at once; S5 TRUNCates it to the last commit 1:1, and S1 crashes again before it logs the proposal anew. When S2's ACK arrives, S5 commits counting S1's stale ACK: only S5 and S2 hold 1:2 on disk.",
            "五台服务器，S5 是 Leader；它到 S2（300 毫秒）以及 S3、S4（900 毫秒）的链路很慢。S1 记录并确认了提案 1:2，随即崩溃并马上重启；S5 把它 TRUNC 到最后一次提交 1:1，S1 在重新记录该提案之前再次崩溃。S2 的 ACK 到达时，S5 把 S1 过期的 ACK 也算上并提交：磁盘上只有 S5 和 S2 持有 1:2。",
        ),
        invariant: "CommittedDurably",
        end_ms: 6_000,
        build: stale_ack_after_trunc,
    },
    Exhibit {
        mutation: Mutation::CommitWithMinority,
        title: ("Commit with a minority", "少数派就提交"),
        story: (
            "Two quorums always share a server, so a commit by a majority survives any election. A leader that commits with one ACK fewer than a majority commits what the next leader may never have seen.",
            "任意两个过半集合总有一台共同的服务器，所以过半提交的事务能在任何选举之后存活。少一个 ACK 就提交的 Leader，提交的可能是下一任 Leader 从未见过的事务。",
        ),
        watch: (
            "The client writes to the leader S3, which commits as soon as its own log holds the proposal: one disk of three.",
            "客户端向 Leader S3 写入；Leader 自己的日志一写好就提交：三块磁盘中只有一块持有它。",
        ),
        invariant: "CommittedDurably",
        end_ms: 5_000,
        build: commit_with_minority,
    },
];

pub fn find(name: &str) -> Option<usize> {
    EXHIBITS.iter().position(|e| e.name() == name)
}

/// The museum's request in the address: `?museum=NAME[&fix=1]`.
pub fn from_search(search: &str) -> Option<Result<(usize, bool), String>> {
    let mut name = None;
    let mut fixed = false;
    for p in search.trim_start_matches('?').split('&') {
        match p.split_once('=').unwrap_or((p, "")) {
            ("museum", v) => name = Some(v.to_string()),
            ("fix", v) => fixed = v != "0",
            _ => {}
        }
    }
    let name = name?;
    Some(
        find(&name)
            .map(|i| (i, fixed))
            .ok_or_else(|| format!("no museum exhibit `{name}`")),
    )
}

/// The exhibit shown and how its run stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MuseumRun {
    pub exhibit: usize,
    /// The fix is on: the mutation is off.
    pub fixed: bool,
}

/// Where an exhibit's run stands.
#[cfg_attr(not(feature = "museum"), allow(dead_code))]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    Running,
    Violated,
    /// The scenario's end was reached with every invariant intact.
    Safe,
}

#[cfg_attr(not(feature = "museum"), allow(dead_code))]
impl Outcome {
    pub fn of(run: MuseumRun, cluster: &crate::lab::LabCluster) -> Outcome {
        if cluster.violation().is_some() {
            Outcome::Violated
        } else if cluster.now().0 >= EXHIBITS[run.exhibit].end_ms {
            Outcome::Safe
        } else {
            Outcome::Running
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Violated => "violated",
            Outcome::Safe => "safe",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::Lab;

    fn run(e: &Exhibit, fixed: bool) -> Lab {
        let mut lab = Lab::new(e.scenario(fixed));
        lab.run_to(e.end_ms);
        lab
    }

    #[test]
    fn exhibits_have_distinct_names_and_parse_from_the_address() {
        for (i, e) in EXHIBITS.iter().enumerate() {
            assert_eq!(find(e.name()), Some(i));
            assert_eq!(
                from_search(&format!("?museum={}&fix=1", e.name())),
                Some(Ok((i, true)))
            );
        }
        assert!(matches!(from_search("?museum=nope"), Some(Err(_))));
        assert_eq!(from_search("?lesson=01"), None);
    }

    /// Without the bug every exhibit's scenario keeps every invariant to its end, and the
    /// leader commits what the script wrote.
    #[test]
    fn every_fixed_run_reaches_its_end_safely() {
        for e in EXHIBITS {
            let lab = run(e, true);
            let c = lab.cluster();
            assert!(c.violation().is_none(), "{}: {:?}", e.name(), c.violation());
            assert!(c.leader().is_some(), "{}: a leader at the end", e.name());
            let writes = e
                .scenario(true)
                .actions
                .iter()
                .filter(|a| matches!(a.action, Action::Write { .. }))
                .count();
            let replied = c
                .requests()
                .filter(|(_, _, _, r)| matches!(r, zablab_core::sim::ClientResult::Replied { .. }))
                .count();
            assert_eq!(replied, writes, "{}: every write committed", e.name());
        }
    }

    /// With the bug, the scenario breaks the exhibit's invariant, at a server and zxid the
    /// museum can point at.
    #[cfg(feature = "museum")]
    #[test]
    fn every_mutated_run_breaks_its_invariant() {
        for e in EXHIBITS {
            let lab = run(e, false);
            let v = lab
                .cluster()
                .violation()
                .unwrap_or_else(|| panic!("{}: no violation", e.name()));
            assert_eq!(v.invariant, e.invariant, "{}: {v}", e.name());
            assert!(!v.nodes.is_empty(), "{}: names a server", e.name());
            assert!(!v.zxids.is_empty(), "{}: names a zxid: {v}", e.name());
            assert!(v.time.0 < e.end_ms);
        }
    }
}
