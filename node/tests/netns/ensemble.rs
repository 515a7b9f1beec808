//! One ZabLab ensemble in network namespaces ([`super::Net`]): a zoo.cfg per "machine" on
//! ZooKeeper's ports, servers started/killed/stopped by PID, `zablab status` from the client
//! namespace, and kazoo writer sessions whose acknowledged creates are collected (with the
//! instant each acknowledgement was read) so a test can check that none is lost.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{addr, Net};
use crate::common::{wait_for, TempDir, BIN};

/// The test ensembles' timing: a fast tick so a run is short; syncLimit and initLimit as
/// ZooKeeper's sample config.
pub const TICK_MS: u64 = 200;
pub const SYNC_LIMIT: u64 = 5;
/// Bound on any convergence (an election, a rejoin after a restart or a heal).
pub const CONVERGE: Duration = Duration::from_secs(40);

pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/netns/kazoo_load.py")
}

/// One server's role as `zablab status` run in the client namespace reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    pub mode: Option<String>,
    pub epoch: Option<u64>,
}

/// A kazoo writer session, its acknowledged paths collected by a reader thread.
pub struct Writer {
    pid: u32,
    stdin: Option<ChildStdin>,
    reader: Option<JoinHandle<()>>,
}

#[derive(Default)]
pub struct Tally {
    pub acked: Vec<String>,
    pub errors: u64,
    /// A fresh path that already existed: a write applied twice or ghost state.
    pub anomalies: Vec<String>,
    /// When each acknowledgement was read, and by which writer (its preferred server's sid).
    pub times: Vec<(Instant, usize)>,
}

pub struct Run {
    pub net: Net,
    pub dir: TempDir,
    pub n: usize,
    pub hostnames: bool,
    /// The server PIDs by sid (index sid-1), `None` while it is down.
    pub pids: Vec<Option<u32>>,
    pub writers: Vec<Writer>,
    pub tally: Arc<Mutex<Tally>>,
    pub elections: BTreeSet<u64>,
    pub partitions: u32,
    pub restarts: u32,
    pub tick_ms: u64,
}

impl Run {
    pub fn new(n: usize, hostnames: bool) -> Run {
        Run::with_tick(n, hostnames, TICK_MS)
    }

    /// As [`Run::new`] with this tickTime (ms).
    pub fn with_tick(n: usize, hostnames: bool, tick_ms: u64) -> Run {
        let net = Net::new(n, hostnames);
        let dir = TempDir::new(&format!("multihost{n}"));
        let r = Run {
            net,
            dir,
            n,
            hostnames,
            pids: vec![None; n],
            writers: Vec::new(),
            tally: Arc::default(),
            elections: BTreeSet::new(),
            partitions: 0,
            restarts: 0,
            tick_ms,
        };
        for sid in 1..=n {
            r.write_config(sid);
        }
        r.check_connectivity();
        r
    }

    pub fn host(&self, sid: usize) -> String {
        if self.hostnames {
            format!("zk{sid}")
        } else {
            addr(sid)
        }
    }

    pub fn client_addr(&self, sid: usize) -> String {
        format!("{}:2181", self.host(sid))
    }

    pub fn config_path(&self, sid: usize) -> PathBuf {
        self.dir.0.join(format!("s{sid}")).join("zoo.cfg")
    }

    pub fn log_path(&self, sid: usize) -> PathBuf {
        self.dir.0.join(format!("s{sid}")).join("server.log")
    }

    /// The zoo.cfg a real machine would have: the same on every server, ZooKeeper's ports.
    pub fn write_config(&self, sid: usize) {
        let d = self.dir.0.join(format!("s{sid}"));
        let data = d.join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        std::fs::write(data.join("myid"), format!("{sid}\n")).expect("myid");
        let mut cfg = format!(
            "tickTime={}\ninitLimit=10\nsyncLimit={SYNC_LIMIT}\ndataDir={}\nclientPort=2181\n4lw.commands.whitelist=*\n",
            self.tick_ms,
            data.display()
        );
        for s in 1..=self.n {
            cfg.push_str(&format!("server.{s}={}:2888:3888\n", self.host(s)));
        }
        std::fs::write(self.config_path(sid), cfg).expect("zoo.cfg");
    }

    /// The client namespace reaches every server's address over the bridge: a TCP connect
    /// to a closed port must be refused (an RST came back), not time out.
    pub fn check_connectivity(&self) {
        const PROBE: &str = "import socket,sys\ns=socket.socket()\ns.settimeout(3)\ntry:\n    s.connect((sys.argv[1], 1))\nexcept ConnectionRefusedError:\n    pass\n";
        for sid in 1..=self.n {
            let r = self
                .net
                .exec(&self.net.client, &["python3", "-c", PROBE, &addr(sid)]);
            if let Err(e) = r {
                panic!(
                    "the client namespace cannot reach server {sid} over bridge {} (a host \
                     firewall dropping bridged traffic, e.g. br_netfilter with FORWARD DROP?): {e}",
                    self.net.tag
                );
            }
        }
    }

    pub fn start(&mut self, sid: usize) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(sid))
            .expect("log");
        let err = log.try_clone().expect("log");
        let cfg = self.config_path(sid);
        let ns = self.net.servers[sid - 1].clone();
        let pid = self.net.spawn(
            &ns,
            &[BIN, "server", &cfg.to_string_lossy()],
            Stdio::null(),
            log.into(),
            err.into(),
        );
        self.pids[sid - 1] = Some(pid);
    }

    pub fn kill9(&mut self, sid: usize) {
        if let Some(pid) = self.pids[sid - 1].take() {
            self.net.kill(pid);
        }
    }

    /// SIGTERM to server `sid` (as `systemctl stop`), waiting up to `limit` for its exit.
    pub fn terminate(&mut self, sid: usize, limit: Duration) -> Option<std::process::ExitStatus> {
        let pid = self.pids[sid - 1].take()?;
        let mut child = self.net.take(pid)?;
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill -TERM {pid}");
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// Every acknowledged create (and `extra`) checked on every server after a sync: the
    /// number expected and, per server, the number missing (with the log's tail printed).
    pub fn lost(&self, extra: &[String]) -> (usize, usize) {
        let (acked, anomalies) = {
            let t = self.tally.lock().expect("tally");
            (t.acked.clone(), t.anomalies.clone())
        };
        assert!(
            anomalies.is_empty(),
            "fresh paths that already existed: {anomalies:?}"
        );
        let mut expected: BTreeSet<String> = acked.iter().cloned().collect();
        assert_eq!(expected.len(), acked.len(), "each path acknowledged once");
        expected.extend(extra.iter().cloned());
        let mut lost_total = 0;
        for sid in 1..=self.n {
            let have = self.children(sid);
            let lost: Vec<&String> = expected.difference(&have).collect();
            if !lost.is_empty() {
                eprintln!(
                    "server {sid} lacks {} acknowledged creates, e.g. {:?}\n{}",
                    lost.len(),
                    &lost[..lost.len().min(5)],
                    self.log_tail(sid)
                );
            }
            lost_total += lost.len();
        }
        (expected.len(), lost_total)
    }

    /// `zablab status` over all servers, from the client namespace.
    pub fn roles(&self) -> Vec<Role> {
        let hosts: Vec<String> = (1..=self.n).map(|s| self.client_addr(s)).collect();
        // Exit status 1 when a server is down: the other lines still count.
        let out = self
            .net
            .exec_output(&self.net.client, &[BIN, "status", &hosts.join(",")]);
        let mut roles = vec![
            Role {
                mode: None,
                epoch: None
            };
            self.n
        ];
        for line in out.lines() {
            let mut f = line.split('\t');
            let Some(h) = f.next() else { continue };
            let Some(i) = hosts.iter().position(|x| x == h) else {
                continue;
            };
            for kv in f {
                if let Some(m) = kv.strip_prefix("mode=") {
                    roles[i].mode = Some(m.to_string());
                }
                if let Some(e) = kv.strip_prefix("epoch=") {
                    roles[i].epoch = e.parse().ok();
                }
            }
        }
        roles
    }

    /// Waits until exactly one server leads and every server in `members` (sids) is leader or
    /// follower; returns the leader's sid. Records the leader's epoch as an election.
    pub fn converge(&mut self, members: &[usize], what: &str) -> usize {
        let (leader, epoch) = wait_for(CONVERGE, what, || {
            let r = self.roles();
            let leaders: Vec<usize> = (1..=self.n)
                .filter(|s| r[s - 1].mode.as_deref() == Some("leader"))
                .collect();
            let ok = members
                .iter()
                .all(|s| matches!(r[s - 1].mode.as_deref(), Some("leader") | Some("follower")));
            (leaders.len() == 1 && ok && members.contains(&leaders[0]))
                .then(|| (leaders[0], r[leaders[0] - 1].epoch.unwrap_or(0)))
        });
        self.elections.insert(epoch);
        leader
    }

    pub fn all(&self) -> Vec<usize> {
        (1..=self.n).collect()
    }

    pub fn start_writer(&mut self, first: usize) {
        let mut hosts = vec![self.client_addr(first)];
        hosts.extend(
            (1..=self.n)
                .filter(|s| *s != first)
                .map(|s| self.client_addr(s)),
        );
        let name = format!("w{first}");
        let err = std::fs::File::create(self.dir.0.join(format!("{name}.stderr"))).expect("log");
        let script = script();
        let client = self.net.client.clone();
        let pid = self.net.spawn(
            &client,
            &[
                "python3",
                &script.to_string_lossy(),
                "writer",
                &hosts.join(","),
                &name,
                "20",
            ],
            Stdio::piped(),
            Stdio::piped(),
            err.into(),
        );
        let child = self
            .net
            .children
            .iter_mut()
            .find(|c| c.id() == pid)
            .expect("writer");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("writer stdout");
        let tally = self.tally.clone();
        let who = first;
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Ok(mut t) = tally.lock() else { return };
                if let Some(p) = line.strip_prefix("ack ") {
                    t.acked.push(p.trim_start_matches("/mh/").to_string());
                    t.times.push((Instant::now(), who));
                } else if let Some(p) = line.strip_prefix("err NodeExists ") {
                    t.anomalies.push(p.to_string());
                } else if line.starts_with("err ") {
                    t.errors += 1;
                }
            }
        });
        self.writers.push(Writer {
            pid,
            stdin,
            reader: Some(reader),
        });
    }

    /// Closes each writer's stdin (it finishes its current create and exits), bounded.
    pub fn stop_writers(&mut self) {
        for w in &mut self.writers {
            drop(w.stdin.take());
        }
        for w in &mut self.writers {
            if let Some(mut c) = self.net.take(w.pid) {
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(20) {
                    if matches!(c.try_wait(), Ok(Some(_))) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = c.kill();
                let _ = c.wait();
            }
            if let Some(r) = w.reader.take() {
                let _ = r.join();
            }
        }
    }

    pub fn acked(&self) -> usize {
        self.tally.lock().map(|t| t.acked.len()).unwrap_or(0)
    }

    /// Waits until the writers acknowledged `more` creates beyond now: the ensemble serves.
    pub fn writes_progress(&self, more: usize, what: &str) {
        let base = self.acked();
        wait_for(CONVERGE, what, || {
            (self.acked() >= base + more).then_some(())
        });
    }

    /// One create through server `sid` alone; true if acknowledged.
    pub fn write_once(&self, sid: usize, path: &str) -> bool {
        let out = self
            .net
            .exec(
                &self.net.client,
                &[
                    "python3",
                    &script().to_string_lossy(),
                    "once",
                    &self.client_addr(sid),
                    path,
                ],
            )
            .unwrap_or_default();
        out.lines().any(|l| l == format!("ack {path}"))
    }

    /// The children of /mh on server `sid` alone, after a sync.
    pub fn children(&self, sid: usize) -> BTreeSet<String> {
        let out = self
            .net
            .exec(
                &self.net.client,
                &[
                    "python3",
                    &script().to_string_lossy(),
                    "ls",
                    &self.client_addr(sid),
                ],
            )
            .unwrap_or_else(|e| panic!("listing /mh on server {sid}: {e}"));
        let mut lines: Vec<&str> = out.lines().collect();
        let end = lines.pop().unwrap_or_default();
        let n: usize = end
            .strip_prefix("end ")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("listing /mh on server {sid} ended with `{end}`"));
        assert_eq!(n, lines.len(), "listing of server {sid} is complete");
        lines.into_iter().map(str::to_string).collect()
    }

    pub fn log_tail(&self, sid: usize) -> String {
        let t = std::fs::read_to_string(self.log_path(sid)).unwrap_or_default();
        let lines: Vec<&str> = t.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}
