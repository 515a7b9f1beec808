//! The four-letter words that print the watch tables, the sessions and the connections:
//! `wchs wchc wchp dump cons`, in ZooKeeper 3.8's formats (`WatchManager.toString` and
//! `dumpWatches`, `DumpCommand`, `ExpiryQueue.dump`, `ServerCnxn.dumpConnectionInfo`).
//! Like ZooKeeper's, the watch words print the data-watch table only.

use std::collections::BTreeMap;

use crate::codec::java_text::java_date;
use crate::server::connections::ConnInfo;
use crate::server::sessions::{expiry_bucket, Inspection};

/// `zookeeper.nio.sessionlessCnxnTimeout`'s default: the timeout of a connection without a
/// session, and the width of the connections' expiry buckets.
const SESSIONLESS_CNXN_TIMEOUT_MS: u64 = 10_000;

/// `wchs`: "N connections watching M paths\nTotal watches:K\n".
pub fn wchs(i: &Inspection) -> String {
    let paths: std::collections::BTreeSet<&String> =
        i.watches.iter().flat_map(|(_, p)| p.iter()).collect();
    let total: usize = i.watches.iter().map(|(_, p)| p.len()).sum();
    format!(
        "{} connections watching {} paths\nTotal watches:{total}\n",
        i.watches.len(),
        paths.len()
    )
}

/// `wchc`: by session, "0x<sid>\n" then "\t<path>\n" per watch; a blank line at the end.
pub fn wchc(i: &Inspection) -> String {
    let mut o = String::new();
    for (sid, paths) in &i.watches {
        o.push_str(&format!("0x{sid:x}\n"));
        for p in paths {
            o.push_str(&format!("\t{p}\n"));
        }
    }
    o.push('\n');
    o
}

/// `wchp`: by path, "<path>\n" then "\t0x<sid>\n" per watching session; a blank line at the end.
pub fn wchp(i: &Inspection) -> String {
    let mut by_path: BTreeMap<&String, Vec<i64>> = BTreeMap::new();
    for (sid, paths) in &i.watches {
        for p in paths {
            by_path.entry(p).or_default().push(*sid);
        }
    }
    let mut o = String::new();
    for (p, sids) in by_path {
        o.push_str(p);
        o.push('\n');
        for s in sids {
            o.push_str(&format!("\t0x{s:x}\n"));
        }
    }
    o.push('\n');
    o
}

/// `cons`: one `dumpConnectionInfo` line per connection, then an empty line.
pub fn cons(conns: &[ConnInfo]) -> String {
    let mut o = String::new();
    for c in conns {
        o.push_str(&c.dump(false));
        o.push('\n');
    }
    o.push('\n');
    o
}

/// `dump`. A leader or standalone server prints its session expiry queue
/// ("Session Sets (buckets)/(sessions):"), a learner its global sessions with their timeouts;
/// then the sessions with ephemerals, then the connections' expiry queue.
/// ZabLab's expiry queue lives in the core's tree; what this server knows of it are the
/// buckets of the sessions whose clients are connected here (the same rounding as the core).
pub fn dump(i: &Inspection, leads: bool, conns: &[ConnInfo]) -> String {
    let mut o = String::from("SessionTracker dump:\n");
    if leads {
        o.push_str("Session ");
        let sets: Vec<(u64, Vec<String>)> = i
            .buckets
            .iter()
            .map(|(at, sids)| (*at, sids.iter().map(|s| format!("0x{s:x}")).collect()))
            .collect();
        expiry_queue(&mut o, &sets);
    } else {
        o.push_str(&format!("Global Sessions({}):\n", i.local_sessions.len()));
        for (sid, to) in &i.local_sessions {
            o.push_str(&format!("0x{sid:x}\t{to}ms\n"));
        }
    }
    o.push_str("ephemeral nodes dump:\n");
    o.push_str(&format!(
        "Sessions with Ephemerals ({}):\n",
        i.ephemerals.len()
    ));
    for (sid, paths) in &i.ephemerals {
        o.push_str(&format!("0x{sid:x}:\n"));
        for p in paths {
            o.push_str(&format!("\t{p}\n"));
        }
    }
    o.push_str("Connections dump:\nConnections ");
    // A connection expires its session timeout (without a session: the sessionless timeout)
    // after its last packet, in buckets as wide as the sessionless timeout
    // (NIOServerCnxnFactory); every connection is listed, this word's own (0x0) included.
    let mut buckets: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for c in conns {
        let timeout_ms = match c.timeout_ms {
            t if c.session_id != 0 && t > 0 => t as u64,
            _ => SESSIONLESS_CNXN_TIMEOUT_MS,
        };
        let at = expiry_bucket(c.last_recv_ms + timeout_ms, SESSIONLESS_CNXN_TIMEOUT_MS);
        buckets.entry(at).or_default().push(format!(
            "ip: /{}:{} sessionId: 0x{:x}",
            c.remote.ip(),
            c.remote.port(),
            c.session_id
        ));
    }
    expiry_queue(&mut o, &buckets.into_iter().collect::<Vec<_>>());
    o
}

/// `ExpiryQueue.dump`: "Sets (B)/(N):" then per bucket "<n> expire at <date>:" and its elements.
fn expiry_queue(o: &mut String, sets: &[(u64, Vec<String>)]) {
    let n: usize = sets.iter().map(|(_, e)| e.len()).sum();
    o.push_str(&format!("Sets ({})/({n}):\n", sets.len()));
    for (at, elems) in sets {
        o.push_str(&format!(
            "{} expire at {}:\n",
            elems.len(),
            java_date(i64::try_from(*at).unwrap_or(i64::MAX))
        ));
        for e in elems {
            o.push_str(&format!("\t{e}\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::connections::ConnStats;

    fn sample() -> Inspection {
        Inspection {
            watches: vec![
                (0x10, vec!["/a".into(), "/b".into()]),
                (0x11, vec!["/a".into()]),
            ],
            ephemerals: vec![(0x10, vec!["/e1".into(), "/e2".into()])],
            local_sessions: vec![(0x10, 30000), (0x11, 4000)],
            buckets: vec![(1_764_600_000_000, vec![0x10, 0x11])],
        }
    }

    #[test]
    fn wchs_counts_connections_paths_and_watches() {
        assert_eq!(
            wchs(&sample()),
            "2 connections watching 2 paths\nTotal watches:3\n"
        );
        assert_eq!(
            wchs(&Inspection::default()),
            "0 connections watching 0 paths\nTotal watches:0\n"
        );
    }

    #[test]
    fn wchc_is_by_session_and_wchp_by_path() {
        assert_eq!(wchc(&sample()), "0x10\n\t/a\n\t/b\n0x11\n\t/a\n\n");
        assert_eq!(wchp(&sample()), "/a\n\t0x10\n\t0x11\n/b\n\t0x10\n\n");
        assert_eq!(wchc(&Inspection::default()), "\n");
    }

    #[test]
    fn dump_prints_the_session_queue_on_a_leader_and_global_sessions_on_a_learner() {
        let c = ConnStats::new("127.0.0.1:6000".parse().unwrap());
        c.established(0x10, 30000);
        let conns = vec![c.info()];
        let d = dump(&sample(), true, &conns);
        let lines: Vec<&str> = d.lines().collect();
        assert_eq!(lines[0], "SessionTracker dump:");
        assert_eq!(lines[1], "Session Sets (1)/(2):");
        assert!(
            lines[2].starts_with("2 expire at ") && lines[2].ends_with(':'),
            "{d}"
        );
        assert_eq!(&lines[3..5], ["\t0x10", "\t0x11"]);
        assert_eq!(
            &lines[5..10],
            [
                "ephemeral nodes dump:",
                "Sessions with Ephemerals (1):",
                "0x10:",
                "\t/e1",
                "\t/e2"
            ]
        );
        assert_eq!(
            &lines[10..12],
            ["Connections dump:", "Connections Sets (1)/(1):"]
        );
        assert_eq!(lines[13], "\tip: /127.0.0.1:6000 sessionId: 0x10");
        let f = dump(&sample(), false, &[]);
        assert!(
            f.starts_with(
                "SessionTracker dump:\nGlobal Sessions(2):\n0x10\t30000ms\n0x11\t4000ms\n"
            ),
            "{f}"
        );
        assert!(
            f.ends_with("Connections dump:\nConnections Sets (0)/(0):\n"),
            "{f}"
        );
    }

    #[test]
    fn cons_ends_with_a_blank_line() {
        let c = ConnStats::new("127.0.0.1:6000".parse().unwrap());
        let out = cons(&[c.info()]);
        assert_eq!(out, " /127.0.0.1:6000[1](queued=0,recved=0,sent=0)\n\n");
    }
}
