//! The servers of a chaos run: `zablab server` child processes on 127.0.0.1 with fresh data
//! dirs (configs from `zablab cluster`'s writer), each with the test-only fault hook
//! (`--fault-addr`), started, killed (-9), paused (SIGSTOP/SIGCONT) by their own PID.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use zablab_node::tools::cluster::{write_configs, ClusterOptions, Planned};
use zablab_node::{four_letter_word, srvr_mode};

/// Offset of the fault-hook ports from the client ports.
const FAULT_PORT_OFFSET: u16 = 3000;

pub struct Ensemble {
    pub dir: PathBuf,
    exe: PathBuf,
    planned: Vec<Planned>,
    children: Vec<Option<Child>>,
    paused: Vec<bool>,
    base: u16,
}

/// A base port such that the client, quorum, election, fault, metrics and admin ports of `n`
/// servers are free.
pub fn free_base_port(n: u16, seed: u64) -> Option<u16> {
    let mut s = seed | 1;
    for _ in 0..200 {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // Under Linux's ephemeral range (32768..), where a restarted server's port could be
        // taken meanwhile as the source port of an outgoing connection.
        let base = 10000 + (s >> 33) as u16 % 16000;
        let ok = (0..n).all(|i| {
            [
                0u16,
                707,
                1707,
                FAULT_PORT_OFFSET,
                zablab_node::tools::cluster::METRICS_PORT_OFFSET,
                zablab_node::tools::cluster::ADMIN_PORT_OFFSET,
            ]
            .iter()
            .all(|off| std::net::TcpListener::bind(("127.0.0.1", base + off + i)).is_ok())
        });
        if ok {
            return Some(base);
        }
    }
    None
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Ensemble {
    /// Writes configs for `n` servers in `dir` and starts them all.
    pub fn start(
        exe: &Path,
        dir: &Path,
        n: u64,
        tick_time_ms: u64,
        base: u16,
    ) -> io::Result<Ensemble> {
        let opts = ClusterOptions {
            size: n,
            base_port: base,
            dir: Some(dir.to_path_buf()),
            tick_time_ms,
            ..ClusterOptions::default()
        };
        let planned = write_configs(dir, &opts)?;
        let mut e = Ensemble {
            dir: dir.to_path_buf(),
            exe: exe.to_path_buf(),
            children: (0..planned.len()).map(|_| None).collect(),
            paused: vec![false; planned.len()],
            planned,
            base,
        };
        for i in 0..e.len() {
            e.spawn(i)?;
        }
        Ok(e)
    }

    pub fn len(&self) -> usize {
        self.planned.len()
    }

    pub fn sid(&self, i: usize) -> u64 {
        self.planned[i].sid
    }

    pub fn addr(&self, i: usize) -> &str {
        &self.planned[i].client_addr
    }

    pub fn hosts(&self) -> Vec<String> {
        self.planned.iter().map(|p| p.client_addr.clone()).collect()
    }

    fn fault_addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.base + FAULT_PORT_OFFSET + i as u16)
    }

    pub fn log_path(&self, i: usize) -> PathBuf {
        self.dir.join(self.sid(i).to_string()).join("server.log")
    }

    /// Where server `i` keeps its transaction log (`dataLogDir` = `dataDir` here).
    pub fn log_dir(&self, i: usize) -> PathBuf {
        self.dir
            .join(self.sid(i).to_string())
            .join("data")
            .join("version-2")
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.children[i].is_some()
    }

    pub fn spawn(&mut self, i: usize) -> io::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(i))?;
        let err = log.try_clone()?;
        let child = Command::new(&self.exe)
            .arg("server")
            .arg(&self.planned[i].config)
            .arg("--fault-addr")
            .arg(self.fault_addr(i))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()?;
        self.children[i] = Some(child);
        self.paused[i] = false;
        Ok(())
    }

    /// kill -9 of server `i` (by its PID), waited for.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            signal(c.id(), "-KILL");
            let _ = c.wait();
        }
        self.paused[i] = false;
    }

    pub fn pause(&mut self, i: usize) {
        if let Some(c) = &self.children[i] {
            signal(c.id(), "-STOP");
            self.paused[i] = true;
        }
    }

    pub fn resume(&mut self, i: usize) {
        if let Some(c) = &self.children[i] {
            signal(c.id(), "-CONT");
        }
        self.paused[i] = false;
    }

    /// Resumes paused servers and starts stopped ones.
    pub fn restore_all(&mut self) -> io::Result<()> {
        for i in 0..self.len() {
            if self.paused[i] {
                self.resume(i);
            }
            if !self.is_running(i) {
                self.spawn(i)?;
            }
        }
        Ok(())
    }

    /// Sends one command line to server `i`'s fault hook; returns its answer.
    pub async fn hook(&self, i: usize, line: &str) -> io::Result<String> {
        let work = async {
            let mut s = tokio::net::TcpStream::connect(self.fault_addr(i)).await?;
            s.write_all(format!("{line}\n").as_bytes()).await?;
            let mut answer = String::new();
            BufReader::new(s).read_line(&mut answer).await?;
            Ok::<_, io::Error>(answer.trim().to_string())
        };
        tokio::time::timeout(Duration::from_secs(2), work)
            .await
            .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "hook timed out")))
    }

    /// `heal all` on every running, unpaused server.
    pub async fn heal_all(&self) {
        for i in 0..self.len() {
            if self.is_running(i) && !self.paused[i] {
                let _ = self.hook(i, "heal all").await;
            }
        }
    }

    /// Each server's `srvr` mode and zxid (None when down or not serving).
    pub async fn modes(&self) -> Vec<Option<(String, u64)>> {
        let mut v = Vec::new();
        for i in 0..self.len() {
            if !self.is_running(i) || self.paused[i] {
                v.push(None);
                continue;
            }
            let a = four_letter_word(self.addr(i), "srvr", Duration::from_millis(500))
                .await
                .ok();
            v.push(a.and_then(|a| {
                let mode = srvr_mode(&a)?.to_string();
                let zxid = a
                    .lines()
                    .find_map(|l| l.strip_prefix("Zxid: "))
                    .and_then(|z| {
                        u64::from_str_radix(z.trim().trim_start_matches("0x"), 16).ok()
                    })?;
                Some((mode, zxid))
            }));
        }
        v
    }

    /// The index of the serving leader, if exactly one.
    pub async fn leader(&self) -> Option<usize> {
        let m = self.modes().await;
        let l: Vec<usize> = (0..m.len())
            .filter(|&i| m[i].as_ref().is_some_and(|(mode, _)| mode == "leader"))
            .collect();
        (l.len() == 1).then(|| l[0])
    }

    /// Waits (at most `limit`) until every server serves, with one leader, and every follower
    /// has caught up to the leader's zxid as it was when all first served (srvr's `Zxid:`).
    pub async fn wait_recovered(&self, limit: Duration) -> bool {
        let until = tokio::time::Instant::now() + limit;
        let mut target: Option<u64> = None;
        while tokio::time::Instant::now() < until {
            let m = self.modes().await;
            let leaders: Vec<u64> = m
                .iter()
                .flatten()
                .filter(|(mode, _)| mode == "leader")
                .map(|(_, z)| *z)
                .collect();
            if m.iter().all(Option::is_some) && leaders.len() == 1 {
                let t = *target.get_or_insert(leaders[0]);
                // A leader with no transaction in its epoch yet reports the epoch's zxid 0,
                // which its followers' last logged zxid is below: nothing to catch up then.
                if t & 0xffff_ffff == 0 || m.iter().flatten().all(|(_, z)| *z >= t) {
                    return true;
                }
            } else {
                target = None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for i in 0..self.len() {
            if self.paused[i] {
                self.resume(i);
            }
            self.kill9(i);
        }
    }
}
