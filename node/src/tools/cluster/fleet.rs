//! The server processes a `zablab cluster` owns: one slot per sid with its plan, its child (when
//! running) and its pid, and what the live lab does to them: kill -9, restart with the same
//! flags (appending to the same `server.log`), and wipe of a killed server's data directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Child;
use tokio::sync::Mutex;

use super::{spawn_server_with, Planned};

/// Why a fleet action was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum FleetError {
    /// No server has this sid.
    NoSuchServer(u64),
    /// The action needs a killed server and this one runs.
    Running(u64),
    /// The action needs a running server and this one does not run.
    NotRunning(u64),
    /// Spawning, killing or removing files failed.
    Io(String),
}

impl std::fmt::Display for FleetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FleetError::NoSuchServer(s) => write!(f, "no server {s}"),
            FleetError::Running(s) => write!(f, "server {s} is running: kill it first"),
            FleetError::NotRunning(s) => write!(f, "server {s} is not running"),
            FleetError::Io(why) => write!(f, "{why}"),
        }
    }
}

struct Slot {
    planned: Planned,
    child: Option<Child>,
    pid: Option<u32>,
}

/// What `GET /api/cluster` shows of one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerView {
    pub sid: u64,
    pub client: String,
    pub trace: Option<String>,
    pub fault: Option<String>,
    pub running: bool,
    pub pid: Option<u32>,
}

/// The children of the cluster process, by sid.
pub struct Fleet {
    exe: PathBuf,
    dir: PathBuf,
    slots: Mutex<BTreeMap<u64, Slot>>,
}

/// The flags of `zablab server` beyond its zoo.cfg: `--trace-addr` and `--fault-addr` under
/// `--live`.
pub fn server_flags(p: &Planned) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(t) = &p.trace_addr {
        v.extend(["--trace-addr".to_string(), t.clone()]);
    }
    if let Some(f) = &p.fault_addr {
        v.extend(["--fault-addr".to_string(), f.clone()]);
    }
    v
}

/// Removes everything in `data` except `myid`.
pub fn wipe_data_dir(data: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(data)? {
        let e = e?;
        if e.file_name() == "myid" {
            continue;
        }
        let p = e.path();
        if e.file_type()?.is_dir() {
            std::fs::remove_dir_all(&p)?;
        } else {
            std::fs::remove_file(&p)?;
        }
    }
    Ok(())
}

impl Fleet {
    /// A fleet of `planned` under `dir` (logs in `dir/SID/server.log`), none started yet.
    pub fn new(exe: PathBuf, dir: PathBuf, planned: &[Planned]) -> Fleet {
        let slots = planned
            .iter()
            .map(|p| {
                (
                    p.sid,
                    Slot {
                        planned: p.clone(),
                        child: None,
                        pid: None,
                    },
                )
            })
            .collect();
        Fleet {
            exe,
            dir,
            slots: Mutex::new(slots),
        }
    }

    fn log(&self, sid: u64) -> PathBuf {
        self.dir.join(sid.to_string()).join("server.log")
    }

    fn spawn(&self, slot: &mut Slot) -> Result<(), FleetError> {
        let p = &slot.planned;
        let child = spawn_server_with(&self.exe, &p.config, &server_flags(p), &self.log(p.sid))
            .map_err(|e| FleetError::Io(format!("cannot start server {}: {e}", p.sid)))?;
        slot.pid = child.id();
        slot.child = Some(child);
        Ok(())
    }

    /// Starts every server that is not running.
    pub async fn start_all(&self) -> Result<(), FleetError> {
        let mut slots = self.slots.lock().await;
        for slot in slots.values_mut() {
            if slot.child.is_none() {
                self.spawn(slot)?;
            }
        }
        Ok(())
    }

    /// Every server, in sid order; a child that exited on its own is reaped and shown stopped.
    pub async fn view(&self) -> Vec<ServerView> {
        let mut slots = self.slots.lock().await;
        slots
            .values_mut()
            .map(|s| {
                if let Some(c) = &mut s.child {
                    if !matches!(c.try_wait(), Ok(None)) {
                        s.child = None;
                        s.pid = None;
                    }
                }
                ServerView {
                    sid: s.planned.sid,
                    client: s.planned.client_addr.clone(),
                    trace: s.planned.trace_addr.clone(),
                    fault: s.planned.fault_addr.clone(),
                    running: s.child.is_some(),
                    pid: s.pid,
                }
            })
            .collect()
    }

    /// The plan of server `sid`.
    pub async fn planned(&self, sid: u64) -> Result<Planned, FleetError> {
        let slots = self.slots.lock().await;
        slots
            .get(&sid)
            .map(|s| s.planned.clone())
            .ok_or(FleetError::NoSuchServer(sid))
    }

    /// kill -9 server `sid` and reap it.
    pub async fn kill(&self, sid: u64) -> Result<(), FleetError> {
        let mut slots = self.slots.lock().await;
        let slot = slots.get_mut(&sid).ok_or(FleetError::NoSuchServer(sid))?;
        let mut child = slot.child.take().ok_or(FleetError::NotRunning(sid))?;
        slot.pid = None;
        let _ = child.start_kill();
        match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
            Ok(_) => Ok(()),
            Err(_) => Err(FleetError::Io(format!(
                "server {sid} did not exit after SIGKILL"
            ))),
        }
    }

    /// Starts killed server `sid` again with the same config and flags.
    pub async fn restart(&self, sid: u64) -> Result<(), FleetError> {
        let mut slots = self.slots.lock().await;
        let slot = slots.get_mut(&sid).ok_or(FleetError::NoSuchServer(sid))?;
        if let Some(c) = &mut slot.child {
            if matches!(c.try_wait(), Ok(None)) {
                return Err(FleetError::Running(sid));
            }
            slot.child = None;
        }
        self.spawn(slot)
    }

    /// Empties killed server `sid`'s data directory but for `myid`: it restarts as a new
    /// server with the same id, with no log and no snapshot.
    pub async fn wipe(&self, sid: u64) -> Result<(), FleetError> {
        let mut slots = self.slots.lock().await;
        let slot = slots.get_mut(&sid).ok_or(FleetError::NoSuchServer(sid))?;
        if let Some(c) = &mut slot.child {
            if matches!(c.try_wait(), Ok(None)) {
                return Err(FleetError::Running(sid));
            }
            slot.child = None;
            slot.pid = None;
        }
        let data = self.dir.join(sid.to_string()).join("data");
        wipe_data_dir(&data)
            .map_err(|e| FleetError::Io(format!("cannot wipe {}: {e}", data.display())))
    }

    /// Kills every running server and waits (5 s at most each) for it to exit.
    pub async fn stop_all(&self) {
        let mut slots = self.slots.lock().await;
        for s in slots.values_mut() {
            if let Some(c) = &mut s.child {
                let _ = c.start_kill();
            }
        }
        for s in slots.values_mut() {
            if let Some(mut c) = s.child.take() {
                let _ = tokio::time::timeout(Duration::from_secs(5), c.wait()).await;
            }
            s.pid = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipe_keeps_only_myid() {
        let d = std::env::temp_dir().join(format!("zablab-wipe-{}", std::process::id()));
        std::fs::create_dir_all(d.join("version-2")).expect("mkdir");
        std::fs::write(d.join("myid"), "2").expect("myid");
        std::fs::write(d.join("version-2").join("log.100000001"), "x").expect("log");
        std::fs::write(d.join("snapshot.0"), "y").expect("snap");
        wipe_data_dir(&d).expect("wipe");
        let left: Vec<String> = std::fs::read_dir(&d)
            .expect("read")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec!["myid".to_string()]);
        assert_eq!(std::fs::read_to_string(d.join("myid")).expect("myid"), "2");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn live_flags_follow_the_plan() {
        let p = Planned {
            sid: 1,
            config: PathBuf::from("/x/zoo.cfg"),
            client_addr: "127.0.0.1:2181".into(),
            metrics_addr: String::new(),
            admin_addr: String::new(),
            secure_addr: None,
            trace_addr: Some("127.0.0.1:5181".into()),
            fault_addr: Some("127.0.0.1:5281".into()),
        };
        assert_eq!(
            server_flags(&p),
            [
                "--trace-addr",
                "127.0.0.1:5181",
                "--fault-addr",
                "127.0.0.1:5281"
            ]
        );
        let plain = Planned {
            trace_addr: None,
            fault_addr: None,
            ..p
        };
        assert!(server_flags(&plain).is_empty());
    }
}
