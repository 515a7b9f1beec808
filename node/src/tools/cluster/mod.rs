//! `zablab cluster`: a pseudo-cluster of N servers on 127.0.0.1 as child processes of this
//! binary (client ports base..base+N, quorum ports base+707+i, election ports base+1707+i, so
//! 2181 gives ZooKeeper's customary 2888+i / 3888+i; Prometheus `/metrics` on
//! base+[`METRICS_PORT_OFFSET`]+i and the AdminServer on base+[`ADMIN_PORT_OFFSET`]+i, so 2181
//! gives 7000+i and 8081+i: ZooKeeper's 7000 for the first, and clear of the lab's page on
//! 8080). `zablab status`: each server's mode, epoch, last zxid and connection count, from
//! `srvr` and `mntr`.
//!
//! `--tls` makes a throwaway CA ([`crate::tls::ca`]) into `DIR/tls/` and turns on a secure
//! client port per server (base+100+i, so 2281.. for 2181) with `ssl.clientAuth=need`, and
//! `sslQuorum` on the quorum and election ports; the plain client ports stay (for `status`
//! and the four-letter words), and the cluster prints how kazoo and zkCli.sh connect.
//!
//! `--live` starts server i with `--trace-addr 127.0.0.1:(base+`[`TRACE_PORT_OFFSET`]`+i)` and
//! `--fault-addr 127.0.0.1:(base+`[`FAULT_PORT_OFFSET`]`+i)` (5181.. and 5281.. for 2181), and
//! `--control 127.0.0.1:PORT` (implies `--live`) serves the live lab's HTTP API there
//! ([`control`]) over the servers this process owns ([`fleet`]).
//!
//! | file | concern |
//! |---|---|
//! | `mod.rs` | options, configs, start and stop, `zablab status` |
//! | [`fleet`] | the child processes: kill -9, restart, wipe |
//! | [`control`] | the loopback HTTP control API of `--control` |

pub mod control;
pub mod fleet;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::tls::ca::{self, EnsembleCerts};
use crate::{four_letter_word, srvr_mode};

/// `metricsProvider.httpPort` of server i is base + this + i.
pub const METRICS_PORT_OFFSET: u16 = 4819;
/// `admin.serverPort` of server i is base + this + i.
pub const ADMIN_PORT_OFFSET: u16 = 5900;
/// Under `--live`, `--trace-addr` of server i is 127.0.0.1:(base + this + i).
pub const TRACE_PORT_OFFSET: u16 = 3000;
/// Under `--live`, `--fault-addr` of server i is 127.0.0.1:(base + this + i).
pub const FAULT_PORT_OFFSET: u16 = 3100;

#[derive(Clone, Debug)]
pub struct ClusterOptions {
    pub size: u64,
    pub observers: u64,
    pub dir: Option<PathBuf>,
    pub base_port: u16,
    pub tick_time_ms: u64,
    /// `--tls`: secure client ports and sslQuorum with a throwaway CA.
    pub tls: bool,
    /// `--stop-with-stdin`: also stop when stdin reaches its end. A parent that holds the pipe
    /// (`cargo xtask lab`) then takes the cluster with it however it ends, even by SIGKILL.
    pub stop_with_stdin: bool,
    /// `--live`: every server gets a trace stream and a fault hook.
    pub live: bool,
    /// `--control ADDR` (loopback only; implies `live`): serve the control API there.
    pub control: Option<SocketAddr>,
}

/// The secure client port's offset from the plain one under `--tls`.
pub const SECURE_PORT_OFFSET: u64 = 100;

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            size: 3,
            observers: 0,
            dir: None,
            base_port: 2181,
            tick_time_ms: 2000,
            tls: false,
            stop_with_stdin: false,
            live: false,
            control: None,
        }
    }
}

/// One server of the pseudo-cluster.
#[derive(Clone, Debug)]
pub struct Planned {
    pub sid: u64,
    pub config: PathBuf,
    pub client_addr: String,
    /// `http://ADDR/metrics`.
    pub metrics_addr: String,
    /// `http://ADDR/commands`.
    pub admin_addr: String,
    /// Under `--tls`: the secure client port's address.
    pub secure_addr: Option<String>,
    /// Under `--live`: the `--trace-addr` of this server.
    pub trace_addr: Option<String>,
    /// Under `--live`: the `--fault-addr` of this server.
    pub fault_addr: Option<String>,
}

/// The address of `--control`: an ip:port on loopback, since the API has no authentication.
pub fn control_addr(text: &str) -> Result<SocketAddr, String> {
    let a: SocketAddr = text
        .parse()
        .map_err(|_| format!("--control `{text}` is not an ip:port"))?;
    if !a.ip().is_loopback() {
        return Err(format!(
            "--control {a} is not a loopback address (127.0.0.1 or ::1): the control API \
             kills servers and has no authentication"
        ));
    }
    Ok(a)
}

/// The zoo.cfg lines of `--tls` for server `sid`.
fn tls_lines(certs: &EnsembleCerts, sid: u64, secure_port: u16) -> String {
    let key_store = certs
        .servers
        .iter()
        .find(|(s, _)| *s == sid)
        .map(|(_, p)| p.display().to_string())
        .unwrap_or_default();
    let ca = certs.ca.display();
    format!(
        "secureClientPort={secure_port}\nsecureClientPortAddress=127.0.0.1\n\
         serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
         ssl.keyStore.location={key_store}\nssl.keyStore.type=PEM\n\
         ssl.trustStore.location={ca}\nssl.trustStore.type=PEM\nssl.clientAuth=need\n\
         sslQuorum=true\n\
         ssl.quorum.keyStore.location={key_store}\nssl.quorum.keyStore.type=PEM\n\
         ssl.quorum.trustStore.location={ca}\nssl.quorum.trustStore.type=PEM\n"
    )
}

/// Writes `dir/N/zoo.cfg` and `dir/N/data/myid` for every server, and with `--tls` the
/// certificates into `dir/tls/`.
pub fn write_configs(dir: &Path, o: &ClusterOptions) -> std::io::Result<Vec<Planned>> {
    let total = o.size + o.observers;
    let port = |off: u64, i: u64| -> std::io::Result<u16> {
        u16::try_from(o.base_port as u64 + off + i).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "--base-port too high")
        })
    };
    let mut servers = String::new();
    for i in 0..total {
        let kind = if i < o.size {
            "participant"
        } else {
            "observer"
        };
        servers.push_str(&format!(
            "server.{}=127.0.0.1:{}:{}:{kind};127.0.0.1:{}\n",
            i + 1,
            port(707, i)?,
            port(1707, i)?,
            port(0, i)?
        ));
    }
    let certs = if o.tls {
        let sids: Vec<u64> = (1..=total).collect();
        let c = ca::write_ensemble(&dir.join("tls"), &sids, "zablab cluster CA")
            .map_err(std::io::Error::other)?;
        Some(c)
    } else {
        None
    };
    let mut planned = Vec::new();
    for i in 0..total {
        let sid = i + 1;
        let sdir = dir.join(sid.to_string());
        let data = sdir.join("data");
        std::fs::create_dir_all(&data)?;
        std::fs::write(data.join("myid"), sid.to_string())?;
        let mut cfg = format!(
            "# written by `zablab cluster`\ntickTime={}\ninitLimit=10\nsyncLimit=5\ndataDir={}\n\
             clientPort={}\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\n4lw.commands.whitelist=*\n\
             metricsProvider.className={}\nmetricsProvider.httpHost=127.0.0.1\n\
             metricsProvider.httpPort={}\nadmin.enableServer=true\nadmin.serverAddress=127.0.0.1\n\
             admin.serverPort={}\n{servers}",
            o.tick_time_ms,
            data.display(),
            port(0, i)?,
            crate::config::PROMETHEUS_PROVIDER_CLASS,
            port(u64::from(METRICS_PORT_OFFSET), i)?,
            port(u64::from(ADMIN_PORT_OFFSET), i)?,
        );
        let mut secure_addr = None;
        if let Some(c) = &certs {
            let secure = port(SECURE_PORT_OFFSET, i)?;
            cfg.push_str(&tls_lines(c, sid, secure));
            secure_addr = Some(format!("127.0.0.1:{secure}"));
        }
        let path = sdir.join("zoo.cfg");
        std::fs::write(&path, cfg)?;
        let live = |off: u16| -> std::io::Result<Option<String>> {
            if !(o.live || o.control.is_some()) {
                return Ok(None);
            }
            Ok(Some(format!("127.0.0.1:{}", port(u64::from(off), i)?)))
        };
        planned.push(Planned {
            sid,
            config: path,
            client_addr: format!("127.0.0.1:{}", port(0, i)?),
            metrics_addr: format!("127.0.0.1:{}", port(u64::from(METRICS_PORT_OFFSET), i)?),
            admin_addr: format!("127.0.0.1:{}", port(u64::from(ADMIN_PORT_OFFSET), i)?),
            secure_addr,
            trace_addr: live(TRACE_PORT_OFFSET)?,
            fault_addr: live(FAULT_PORT_OFFSET)?,
        });
    }
    Ok(planned)
}

/// Starts `zablab server cfg` with its output in `log`.
pub fn spawn_server(exe: &Path, cfg: &Path, log: &Path) -> std::io::Result<Child> {
    spawn_server_with(exe, cfg, &[], log)
}

/// Starts `zablab server cfg FLAGS...` with its output appended to `log`.
pub fn spawn_server_with(
    exe: &Path,
    cfg: &Path,
    flags: &[String],
    log: &Path,
) -> std::io::Result<Child> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let err = out.try_clone()?;
    Command::new(exe)
        .arg("server")
        .arg(cfg)
        .args(flags)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
}

/// The `Mode:` of each server, or None when it does not answer or is not serving.
pub async fn modes(addrs: &[String]) -> Vec<Option<String>> {
    let mut v = Vec::new();
    for a in addrs {
        let ans = four_letter_word(a, "srvr", Duration::from_millis(500))
            .await
            .ok();
        v.push(ans.as_deref().and_then(srvr_mode).map(str::to_string));
    }
    v
}

pub async fn run_cluster(o: ClusterOptions) -> Result<(), String> {
    let (dir, temporary) = match &o.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("zablab-cluster-{}", std::process::id())),
            true,
        ),
    };
    let planned = write_configs(&dir, &o)
        .map_err(|e| format!("cannot write configs in {}: {e}", dir.display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own binary: {e}"))?;
    // Bind the control port before starting anything, so a taken port fails fast.
    let control = match o.control {
        Some(a) => Some(
            tokio::net::TcpListener::bind(a)
                .await
                .map_err(|e| format!("cannot listen on --control {a}: {e}"))?,
        ),
        None => None,
    };
    let fleet = Arc::new(fleet::Fleet::new(exe, dir.clone(), &planned));
    if let Err(e) = fleet.start_all().await {
        fleet.stop_all().await;
        return Err(e.to_string());
    }
    println!(
        "cluster of {} in {} (logs: N/server.log)",
        planned.len(),
        dir.display()
    );
    let addrs: Vec<String> = planned.iter().map(|p| p.client_addr.clone()).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut last = Vec::new();
    while tokio::time::Instant::now() < deadline {
        last = modes(&addrs).await;
        let leaders = last
            .iter()
            .filter(|m| m.as_deref() == Some("leader"))
            .count();
        if leaders == 1 && last.iter().all(|m| m.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let views = fleet.view().await;
    for ((p, v), mode) in planned.iter().zip(views.iter()).zip(last.iter()) {
        let secure = p
            .secure_addr
            .as_ref()
            .map(|a| format!(", secure {a}"))
            .unwrap_or_default();
        println!(
            "server {}: pid {}, client {}{secure}, {}; metrics http://{}/metrics, admin http://{}/commands",
            p.sid,
            v.pid
                .map(|i| i.to_string())
                .unwrap_or_else(|| "?".into()),
            p.client_addr,
            mode.as_deref().unwrap_or("not serving yet"),
            p.metrics_addr,
            p.admin_addr
        );
        if let (Some(t), Some(f)) = (&p.trace_addr, &p.fault_addr) {
            println!("server {}: trace {t}, fault hook {f}", p.sid);
        }
    }
    if o.tls {
        print_tls_help(&dir.join("tls"), &planned);
    }
    if let Some(l) = control {
        let a = l.local_addr().map_err(|e| e.to_string())?;
        println!("control API on http://{a}/api/cluster (loopback only)");
        tokio::spawn(control::serve(l, fleet.clone()));
    }
    println!("ready; Ctrl-C or SIGTERM stops all servers");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
    let (stdin_closed_tx, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    if o.stop_with_stdin {
        // A plain thread: reading stdin blocks, and EOF (or an error) is the only news.
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 256];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
            let _ = stdin_closed_tx.send(());
        });
    }
    let stdin_watch = async {
        match o.stop_with_stdin {
            true => drop(stdin_closed.await),
            false => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = stdin_watch => println!("stdin closed"),
    }
    println!("stopping");
    fleet.stop_all().await;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// How a client reaches the secure client ports of a `--tls` cluster.
fn print_tls_help(tls_dir: &Path, planned: &[Planned]) {
    let ca = tls_dir.join("ca.pem");
    let client = tls_dir.join("client.pem");
    let (ca, client) = (ca.display(), client.display());
    let hosts: Vec<&str> = planned
        .iter()
        .filter_map(|p| p.secure_addr.as_deref())
        .collect();
    let hosts = hosts.join(",");
    println!(
        "tls: sslQuorum on; secure client ports need a client certificate (ssl.clientAuth=need)"
    );
    println!("tls: CA (trust store) {ca}; client key store (key + certificate) {client}");
    println!(
        "tls: kazoo: KazooClient(hosts=\"{hosts}\", use_ssl=True, ca=\"{ca}\", certfile=\"{client}\", keyfile=\"{client}\")"
    );
    println!(
        "tls: zkCli.sh: CLIENT_JVMFLAGS=\"-Dzookeeper.client.secure=true \
         -Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty \
         -Dzookeeper.ssl.keyStore.location={client} -Dzookeeper.ssl.keyStore.type=PEM \
         -Dzookeeper.ssl.trustStore.location={ca} -Dzookeeper.ssl.trustStore.type=PEM\" \
         /usr/share/zookeeper/bin/zkCli.sh -server {hosts}"
    );
}

pub async fn run_status(hosts: &[String]) -> i32 {
    let mut code = 0;
    for h in hosts {
        let srvr = four_letter_word(h, "srvr", Duration::from_secs(2)).await;
        let line = match srvr {
            Err(e) => {
                code = 1;
                format!("{h}\tdown ({e})")
            }
            Ok(a) => match srvr_mode(&a) {
                None => format!("{h}\t{}", a.trim()),
                Some(mode) => {
                    let get = |text: &str, key: &str| {
                        text.lines()
                            .find_map(|l| l.strip_prefix(key))
                            .map(|v| v.trim().to_string())
                    };
                    let zxid = get(&a, "Zxid: ").unwrap_or_default();
                    let conns = get(&a, "Connections: ").unwrap_or_default();
                    let mntr = four_letter_word(h, "mntr", Duration::from_secs(2))
                        .await
                        .unwrap_or_default();
                    let epoch = get(&mntr, "zk_current_epoch\t").unwrap_or_else(|| {
                        u64::from_str_radix(zxid.trim_start_matches("0x"), 16)
                            .map(|z| (z >> 32).to_string())
                            .unwrap_or_default()
                    });
                    format!("{h}\tmode={mode}\tepoch={epoch}\tzxid={zxid}\tconnections={conns}")
                }
            },
        };
        println!("{line}");
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_address_must_be_loopback() {
        assert_eq!(control_addr("127.0.0.1:8090").map(|a| a.port()), Ok(8090));
        assert!(control_addr("[::1]:8090").is_ok());
        let e = control_addr("0.0.0.0:8090").expect_err("not loopback");
        assert!(e.contains("not a loopback address"), "{e}");
        assert!(control_addr("10.1.2.3:1").is_err());
        assert!(control_addr("localhost").is_err());
    }

    #[test]
    fn live_configs_plan_trace_and_fault_ports() {
        let dir = std::env::temp_dir().join(format!("zablab-live-cfg-{}", std::process::id()));
        let o = ClusterOptions {
            base_port: 2181,
            live: true,
            ..ClusterOptions::default()
        };
        let p = write_configs(&dir, &o).expect("configs");
        assert_eq!(p[0].trace_addr.as_deref(), Some("127.0.0.1:5181"));
        assert_eq!(p[2].fault_addr.as_deref(), Some("127.0.0.1:5283"));
        let plain = write_configs(&dir, &ClusterOptions::default()).expect("configs");
        assert!(plain
            .iter()
            .all(|p| p.trace_addr.is_none() && p.fault_addr.is_none()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
