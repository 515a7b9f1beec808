//! The lesson picker's entries, as a static list: the lab page lists the lessons without the
//! lesson engine, the lesson files or their parser, which ship in the lazily loaded lessons
//! module (`--features lessons`, see `xtask build`). A test checks the list against the
//! lesson files.

use zablab_core::lesson::Lang;

/// (name, English title, Chinese title) of every catalog lesson, in the catalog's order.
pub const LESSONS: &[(&str, &str, &str)] = &[
    (
        "01-startup-election",
        "Start-up election: three servers started one by one",
        "启动时的选举：三台服务器依次启动",
    ),
    (
        "02-votes-and-logicclock",
        "Votes and the logical clock (logicclock)",
        "选票与逻辑时钟（logicclock）",
    ),
    (
        "03-leader-crash",
        "Leader crash at run time: zxid 124 beats zxid 123",
        "运行期间 Leader 崩溃：zxid 124 胜过 zxid 123",
    ),
    (
        "04-broadcast",
        "Broadcast: two-phase commit without abort",
        "消息广播：没有中止的两阶段提交",
    ),
    (
        "05-recovery-diff",
        "Recovery with DIFF: a follower that missed a few commits",
        "通过 DIFF 恢复：错过了几次提交的 Follower",
    ),
    (
        "06-recovery-trunc",
        "Recovery with TRUNC: a proposal that only the old leader logged",
        "通过 TRUNC 恢复：只有旧 Leader 记录过的提案",
    ),
    (
        "07-recovery-snap",
        "Recovery with SNAP: a server far behind the committed window",
        "通过 SNAP 恢复：远远落后于已提交窗口的服务器",
    ),
    (
        "08-why-a-majority",
        "Why a majority: any two quorums share a server",
        "为什么要过半：任意两个过半的集合至少有一台共同的服务器",
    ),
    (
        "09-observers",
        "Observers: they serve reads and receive INFORM, but never vote or ACK proposals",
        "Observer：提供读服务并接收 INFORM，但从不投票，也从不对提案回复 ACK",
    ),
    (
        "10-sessions-ephemerals",
        "Sessions and ephemeral nodes: master election",
        "会话与临时节点：Master 选举",
    ),
    (
        "11-distributed-lock",
        "A distributed lock with sequential ephemeral nodes (no herd effect)",
        "用顺序临时节点实现分布式锁（避免羊群效应）",
    ),
    (
        "12-watches-one-shot",
        "Watches are one-shot: re-arm with the read",
        "Watcher 是一次性的：在读取的同时重新注册",
    ),
    (
        "13-quorum-logged-survives",
        "A proposal logged by more than half survives its leader's crash",
        "被过半服务器记录的提案在 Leader 崩溃后保留下来",
    ),
    (
        "14-versions-conditional-set",
        "Versions and conditional setData: compare-and-set without locks",
        "版本号与带条件的 setData：不用锁的比较并设置",
    ),
    (
        "15-guarantees-and-sync",
        "ZooKeeper's guarantees: a follower may read stale data, sync catches it up",
        "ZooKeeper 的一致性保证：Follower 可能读到旧数据，sync 让它追上",
    ),
    (
        "16-session-moves",
        "A session moves to another server: pings, readTimeout, and Disconnected versus Expired",
        "会话转移到另一台服务器：心跳、readTimeout，以及 Disconnected 与 Expired 的区别",
    ),
    (
        "17-recipes-election-herd",
        "Recipes: group membership, leader election, and the herd effect",
        "典型应用：集群成员管理、Leader 选举与羊群效应",
    ),
    (
        "18-zab-phases",
        "ZAB by name: election, discovery, synchronization, broadcast, and the modes LOOKING, FOLLOWING, LEADING, OBSERVING",
        "按名字认识 ZAB：选举、发现、同步、广播，以及 LOOKING、FOLLOWING、LEADING、OBSERVING 状态",
    ),
    (
        "19-acls",
        "ACLs: schemes, permissions, and why they are not inherited",
        "ACL：权限模式、权限位，以及为什么权限不会继承",
    ),
    (
        "20-znode-rules",
        "Znode rules: ephemeral and sequential nodes, containers and TTLs, sizes, paths and the three version counters",
        "znode 的规则：临时节点与顺序节点、容器节点与 TTL 节点、大小、路径，以及三个版本计数器",
    ),
];

/// A lesson's title in `lang`.
pub fn title(entry: &(&str, &'static str, &'static str), lang: Lang) -> &'static str {
    match lang {
        Lang::En => entry.1,
        Lang::Zh => entry.2,
    }
}

/// The catalog name of `name` or of the only lesson starting with it (`01`), as the core's
/// `lesson::find` resolves it: the lessons module fetches that lesson's file by this name.
#[cfg(any(test, feature = "lessons"))]
pub fn resolve(name: &str) -> Result<&'static str, String> {
    if let Some((n, _, _)) = LESSONS.iter().find(|(n, _, _)| *n == name) {
        return Ok(n);
    }
    let mut matches = LESSONS.iter().filter(|(n, _, _)| n.starts_with(name));
    match (matches.next(), matches.next()) {
        (Some((n, _, _)), None) if !name.is_empty() => Ok(n),
        _ => Err(format!("not found: lesson {name:?}")),
    }
}

/// Where the page fetches a lesson's file: `xtask build` copies `lessons/*.json` into
/// `dist/lessons/`, relative to the page.
pub fn file_url(name: &str) -> String {
    format!("lessons/{name}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_as_the_core_finds_them() {
        for probe in [
            "01",
            "01-startup-election",
            "1",
            "0",
            "",
            "99",
            "2",
            "20-znode-rules",
        ] {
            assert_eq!(
                resolve(probe).ok(),
                zablab_core::lesson::find(probe).ok().map(|(n, _)| n),
                "{probe:?}"
            );
        }
        assert_eq!(resolve("06"), Ok("06-recovery-trunc"));
        assert!(resolve("99").is_err());
        assert_eq!(
            file_url("06-recovery-trunc"),
            "lessons/06-recovery-trunc.json"
        );
    }

    #[test]
    fn the_picker_lists_every_lesson_file_with_its_titles() {
        let files = zablab_core::lesson::catalog();
        assert_eq!(LESSONS.len(), 20);
        assert_eq!(LESSONS.len(), files.len());
        for ((name, en, zh), (file, text)) in LESSONS.iter().zip(files) {
            let lesson = zablab_core::lesson::Lesson::from_json(text).expect(file);
            assert_eq!(
                (*name, *en, *zh),
                (*file, lesson.title.en.as_str(), lesson.title.zh.as_str())
            );
            assert_ne!(en, zh);
        }
    }
}
