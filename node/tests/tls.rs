//! TLS against real servers (issue 10 item 7): a 3-server `zablab cluster --tls` (throwaway CA,
//! secure client ports with `ssl.clientAuth=need`, `sslQuorum=true`) elects a leader and
//! replicates over mutual-TLS quorum links; strangers are refused before a ZAB byte is read:
//! a plain-TCP FOLLOWERINFO posing as server 1, a TLS peer whose certificate comes from
//! another CA (quorum and election ports), and a client without TLS on a secure client port;
//! the cluster keeps its leader and keeps serving. Then kazoo (`use_ssl=True`) and zkCli.sh
//! (Netty socket, PEM stores) create and read through the secure ports; they skip when not
//! installed, unless ZABLAB_REQUIRE_CLIENTS=1.

mod common;
mod realclients;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use realclients::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zablab_core::message::Message;
use zablab_core::tree::acl::open_acl_unsafe;
use zablab_core::tree::{CreateMode, DataTree};
use zablab_node::config::NodeConfig;
use zablab_node::tls::{self, ca, ClientAuth, X509Settings};
use zablab_node::zkclient::{ConnectOptions, ZkClient};

const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The parsed zoo.cfg of server `sid` of the cluster in `dir`.
fn config(dir: &Path, sid: u64) -> NodeConfig {
    let text = std::fs::read_to_string(dir.join(sid.to_string()).join("zoo.cfg")).expect("zoo.cfg");
    NodeConfig::parse(&text).expect("zoo.cfg parses")
}

fn log_of(dir: &Path, sid: u64) -> String {
    std::fs::read_to_string(dir.join(sid.to_string()).join("server.log")).unwrap_or_default()
}

/// Waits (bounded) until server `sid`'s log has `n` lines containing every one of `parts`.
fn wait_log(dir: &Path, sid: u64, parts: &[&str], n: usize) {
    let start = std::time::Instant::now();
    while count_log(dir, sid, parts) < n {
        if start.elapsed() > Duration::from_secs(10) {
            panic!(
                "gave up waiting for {n} lines with {parts:?} in server {sid}'s log:\n{}",
                log_of(dir, sid)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count_log(dir: &Path, sid: u64, parts: &[&str]) -> usize {
    log_of(dir, sid)
        .lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .count()
}

/// Sends `bytes` on plain TCP and reads until the server closes (bounded): what it answered.
/// The server must close the connection, not leave it hanging.
fn plain_exchange(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    s.write_all(bytes).expect("write");
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => {}
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            panic!("{addr} did not close the connection within 15 s")
        }
        Err(_) => {} // reset: closed too
    }
    out
}

/// A stranger with a certificate from another CA: a TLS client that trusts the ensemble's CA
/// (so it accepts the server) and presents its own certificate. Connects to `addr`, writes
/// `first`, and returns what it read before the connection ended (bounded), or the error.
async fn stranger_exchange(
    stranger: &X509Settings,
    addr: &str,
    first: &[u8],
) -> Result<Vec<u8>, String> {
    let cfg = tls::client_config(stranger, "stranger").expect("stranger's TLS config");
    let connector = tokio_rustls::TlsConnector::from(cfg);
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let work = async {
        let mut s = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(first).await.map_err(|e| e.to_string())?;
        s.flush().await.map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.map_err(|e| e.to_string())?;
        Ok(out)
    };
    tokio::time::timeout(Duration::from_secs(15), work)
        .await
        .map_err(|_| "timed out".to_string())?
}

fn follower_info_posing_as(sid: u64, accepted_epoch: u32) -> Vec<u8> {
    let mut w = Vec::new();
    zablab_node::wire::encode_quorum::<DataTree>(
        &Message::FollowerInfo { accepted_epoch },
        sid,
        "",
        &mut w,
    );
    w
}

/// Writes through `write_addr`'s plain port, reads through `read_addr` after sync.
async fn replicate(write_addr: &str, read_addr: &str, path: &str, data: &[u8]) {
    let (w, _) = ZkClient::connect(ConnectOptions::new(write_addr))
        .await
        .expect("session on the writer");
    w.create(path, Some(data), &open_acl_unsafe(), CreateMode::Persistent)
        .await
        .expect("create");
    let (r, _) = ZkClient::connect(ConnectOptions::new(read_addr))
        .await
        .expect("session on the reader");
    r.sync(path).await.expect("sync");
    let (got, stat) = r.get_data(path, false).await.expect("get");
    assert_eq!(
        got.as_deref(),
        Some(data),
        "{path} replicated to {read_addr}"
    );
    assert_eq!(stat.version, 0);
}

#[test]
fn a_tls_ensemble_serves_over_tls_and_refuses_strangers() {
    let cluster = ZablabCluster::start_with("tls", &["--tls"]);
    let dir = cluster.dir.0.clone();
    let tls_dir = dir.join("tls");
    assert_eq!(cluster.secure.len(), 3, "three secure client ports listed");
    let leader = cluster.leader();
    let leader_sid = leader as u64 + 1;
    let plain = cluster.addrs();
    let followers: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    for sid in 1..=3 {
        let log = log_of(&dir, sid);
        assert!(
            log.contains("(TLS)") && log.contains("(sslQuorum)"),
            "server {sid}:\n{log}"
        );
        let c = config(&dir, sid);
        assert!(c.ssl_quorum && c.secure_client_port != 0);
    }
    let rt = runtime();

    // Elected and replicating: every quorum and election byte went over mutual TLS.
    rt.block_on(replicate(
        &plain[followers[0]],
        &plain[followers[1]],
        "/tls-before",
        b"one",
    ));

    let leader_cfg = config(&dir, leader_sid);
    let me = leader_cfg.servers[&leader_sid].clone();
    let epoch_before = leader_epoch(&plain[leader]);

    // 1. A stranger without TLS poses as follower 1 on the leader's quorum port.
    let before = count_log(
        &dir,
        leader_sid,
        &["quorum connection from", "refused: TLS"],
    );
    let answer = plain_exchange(
        &me.quorum_addr(),
        &follower_info_posing_as(1, epoch_before + 1),
    );
    assert!(
        answer.is_empty() || answer[0] == 0x15,
        "a plain FOLLOWERINFO got no ZAB answer, at most a TLS alert: {answer:?}"
    );
    wait_log(
        &dir,
        leader_sid,
        &["quorum connection from", "refused: TLS"],
        before + 1,
    );

    // 2. A stranger whose certificate comes from another CA, on the quorum and election ports.
    let other = ca::write_ensemble(&dir.join("other-ca"), &[1], "another CA").expect("other CA");
    let stranger = X509Settings {
        key_store_location: Some(other.servers[0].1.clone()),
        trust_store_location: Some(tls_dir.join("ca.pem")),
        client_auth: ClientAuth::Need,
    };
    let before = count_log(
        &dir,
        leader_sid,
        &["quorum connection from", "refused: TLS"],
    );
    let got = rt.block_on(stranger_exchange(
        &stranger,
        &me.quorum_addr(),
        &follower_info_posing_as(1, epoch_before + 1),
    ));
    assert!(
        got.as_ref().map_or(true, |b| b.is_empty()),
        "the quorum port answered a stranger's certificate: {got:?}"
    );
    wait_log(
        &dir,
        leader_sid,
        &["quorum connection from", "refused: TLS"],
        before + 1,
    );
    let before = count_log(&dir, leader_sid, &["bad election handshake", "TLS"]);
    let got = rt.block_on(stranger_exchange(
        &stranger,
        &me.election_addr(),
        &zablab_node::wire::election_handshake(1, "127.0.0.1:1"),
    ));
    assert!(
        got.as_ref().map_or(true, |b| b.is_empty()),
        "the election port answered a stranger's certificate: {got:?}"
    );
    wait_log(
        &dir,
        leader_sid,
        &["bad election handshake", "TLS"],
        before + 1,
    );

    // 3. A client without TLS on a secure client port: no four-letter word, no session.
    let secure = &cluster.secure[followers[0]];
    let f_sid = followers[0] as u64 + 1;
    let before = count_log(&dir, f_sid, &["TLS handshake failed"]);
    let answer = plain_exchange(secure, b"srvr");
    assert!(
        !String::from_utf8_lossy(&answer).contains("Mode:"),
        "srvr answered in clear on the secure port"
    );
    let mut connect = Vec::new();
    connect.extend_from_slice(&44i32.to_be_bytes());
    connect.extend_from_slice(&[0u8; 12]); // protocolVersion 0, lastZxidSeen 0
    connect.extend_from_slice(&30_000i32.to_be_bytes());
    connect.extend_from_slice(&[0u8; 8]); // sessionId 0
    connect.extend_from_slice(&16i32.to_be_bytes());
    connect.extend_from_slice(&[0u8; 16]);
    let answer = plain_exchange(secure, &connect);
    assert!(
        answer.is_empty() || answer[0] == 0x15,
        "a plain ConnectRequest got no ConnectResponse, at most a TLS alert: {answer:?}"
    );
    wait_log(&dir, f_sid, &["TLS handshake failed"], before + 2);

    // The cluster kept its leader and its epoch, and serves.
    assert_eq!(cluster.leader(), leader, "the leader stayed");
    assert_eq!(leader_epoch(&plain[leader]), epoch_before, "no new epoch");
    rt.block_on(replicate(
        &plain[followers[1]],
        &plain[leader],
        "/tls-after",
        b"two",
    ));

    // kazoo through the secure ports.
    let kazoo = Command::new("python3")
        .args(["-c", "import kazoo"])
        .status()
        .is_ok_and(|s| s.success());
    if available("kazoo (python3 -m pip)", kazoo, "pip install kazoo") {
        let out = Command::new("timeout")
            .args(["120", "python3"])
            .arg(repo_root().join("tests/clients/kazoo_tls.py"))
            .arg(tls_dir.join("ca.pem"))
            .arg(tls_dir.join("client.pem"))
            .args([
                &cluster.secure[followers[0]],
                &cluster.secure[leader],
                &plain[leader],
            ])
            .output()
            .expect("run python3");
        let stdout = String::from_utf8_lossy(&out.stdout);
        eprintln!("--- kazoo tls:\n{stdout}");
        assert!(
            out.status.success() && stdout.contains("kazoo tls: all checks passed"),
            "kazoo over TLS failed ({:?}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // zkCli.sh through a secure port.
    if available(
        "zkCli.sh",
        Path::new(ZKCLI).exists(),
        "apt-get install -y zookeeper",
    ) {
        zkcli_over_tls(&cluster.secure[followers[1]], &tls_dir);
    }
}

/// The leader's current epoch, from the high 32 bits of `srvr`'s Zxid.
fn leader_epoch(addr: &str) -> u32 {
    let srvr = common::four_letter(addr, "srvr").expect("srvr");
    let zxid = srvr
        .lines()
        .find_map(|l| l.strip_prefix("Zxid: "))
        .expect("Zxid line");
    let z = u64::from_str_radix(zxid.trim().trim_start_matches("0x"), 16).expect("hex zxid");
    (z >> 32) as u32
}

/// The JVM flags that make zkCli.sh speak TLS with PEM stores. Debian's zookeeper.jar names
/// netty-handler in its manifest but not the netty jars that one needs (codec, resolver,
/// unix-common), so the class path is given in full.
pub fn zkcli_tls_flags(tls_dir: &Path) -> String {
    let jars = [
        "/etc/zookeeper/conf",
        "/usr/share/java/zookeeper.jar",
        "/usr/share/java/netty-codec.jar",
        "/usr/share/java/netty-resolver.jar",
        "/usr/share/java/netty-transport-native-unix-common.jar",
    ];
    let client: PathBuf = tls_dir.join("client.pem");
    let ca: PathBuf = tls_dir.join("ca.pem");
    format!(
        "-cp {} -Dzookeeper.client.secure=true \
         -Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty \
         -Dzookeeper.ssl.keyStore.location={} -Dzookeeper.ssl.keyStore.type=PEM \
         -Dzookeeper.ssl.trustStore.location={} -Dzookeeper.ssl.trustStore.type=PEM",
        jars.join(":"),
        client.display(),
        ca.display()
    )
}

fn zkcli_over_tls(server: &str, tls_dir: &Path) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("exec timeout 60 \"$0\" \"$@\" 2>&1")
        .arg(ZKCLI)
        .args(["-server", server])
        .env("CLIENT_JVMFLAGS", zkcli_tls_flags(tls_dir))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start zkCli.sh");
    let mut stdin = child.stdin.take().expect("stdin");
    // The JVM starts and connects (TLS included) before the first command is read.
    std::thread::sleep(Duration::from_millis(4000));
    for l in [
        "create /zkcli-tls secret",
        "get /zkcli-tls",
        "get /tls-after",
        "quit",
    ] {
        let _ = writeln!(stdin, "{l}");
        let _ = stdin.flush();
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(stdin);
    let out = child.wait_with_output().expect("zkCli.sh output");
    let out = String::from_utf8_lossy(&out.stdout);
    eprintln!("--- zkCli.sh over TLS via {server}:\n{out}");
    let mut at = 0;
    for want in [
        "state:SyncConnected",
        "Created /zkcli-tls\n",
        "secret\n",
        "two\n",
    ] {
        match out[at..].find(want) {
            Some(i) => at += i + want.len(),
            None => panic!("zkCli.sh over TLS: expected {want:?} (after byte {at}) in:\n{out}"),
        }
    }
}
