//! A standalone Apache ZooKeeper 3.8 (Debian's `zookeeper` package) on 127.0.0.1, on a data
//! directory the test owns, so it can be stopped and started again on the same files. Killed
//! by its own PID on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const JARS: [&str; 4] = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/slf4j-api.jar",
    "/usr/share/java/slf4j-simple.jar",
];

/// Whether Java and the jars are here; if not, says why (the caller skips, unless
/// ZABLAB_REQUIRE_CLIENTS=1 makes that a failure).
pub fn available() -> bool {
    let missing = JARS.iter().find(|j| !Path::new(j).exists());
    let why = match (missing, Command::new("java").arg("-version").output()) {
        (Some(m), _) => format!("{m} missing (apt-get install -y zookeeper)"),
        (None, Err(_)) => "no java on PATH".to_string(),
        (None, Ok(_)) => return true,
    };
    assert!(
        std::env::var("ZABLAB_REQUIRE_CLIENTS").as_deref() != Ok("1"),
        "Apache ZooKeeper is required here: {why}"
    );
    eprintln!("SKIP: {why}");
    false
}

pub struct RealZk {
    child: Child,
    pub addr: String,
    pub log: PathBuf,
}

impl RealZk {
    /// Starts ZooKeeper with `dataDir=data_dir` on `port` (Java system properties `props`,
    /// e.g. `-Dzookeeper.snapCount=2`), and waits until it serves (`srvr` says standalone).
    pub fn start(dir: &Path, data_dir: &Path, port: u16, props: &[&str]) -> RealZk {
        std::fs::create_dir_all(data_dir).expect("data dir");
        let cfg = dir.join(format!("zoo-{port}.cfg"));
        let text = format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             maxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n",
            data_dir.display()
        );
        std::fs::write(&cfg, text).expect("zoo.cfg");
        let log = dir.join(format!("zk-{port}-{}.log", unique()));
        let out = std::fs::File::create(&log).expect("log file");
        let child = Command::new("java")
            .args(props)
            .arg("-cp")
            .arg(JARS.join(":"))
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("java starts");
        let zk = RealZk {
            child,
            addr: format!("127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if super::four_letter(&zk.addr, "srvr").is_some_and(|a| a.contains("Mode: standalone"))
            {
                return zk;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "Apache ZooKeeper did not start on {}:\n{}",
            zk.addr,
            zk.log_text()
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL (ZooKeeper fsyncs each transaction before it answers, so nothing acknowledged
    /// is lost) and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RealZk {
    fn drop(&mut self) {
        self.kill();
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
