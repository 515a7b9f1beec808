//! TLS against real servers: a 3-server `zablab cluster --tls` (throwaway CA,
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
use zablab_node::tools::zkclient::{ConnectOptions, ZkClient};

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
    zablab_node::codec::wire::encode_quorum::<DataTree>(
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
        &zablab_node::codec::wire::election_handshake(1, "127.0.0.1:1"),
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

    // 4. A TLS client that never reads: the same byte budget and write timeout as on the
    //    plain port (node/tests/hostile_clients.rs), so the server closes it, bounded.
    slow_tls_reader(&cluster, followers[0], &plain[leader], &tls_dir);
    assert_eq!(cluster.leader(), leader, "the leader stayed");

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

/// A store that cannot be used stops the start-up with its path, before any port listens.
#[test]
fn a_missing_or_foreign_store_stops_the_server_with_its_path() {
    let dir = common::TempDir::new("tls-bad-store");
    let base = common::free_base_port(1);
    let certs = ca::write_ensemble(&dir.0.join("tls"), &[1], "bad store test").expect("certs");
    let cases = [
        // The key store does not exist.
        (dir.0.join("nope.pem"), certs.ca.clone(), "nope.pem"),
        // A trust store is no key store: no private key in it.
        (certs.ca.clone(), certs.ca.clone(), "no private key"),
    ];
    for (key_store, trust_store, want) in cases {
        let cfg = dir.0.join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "dataDir={}\nclientPort={base}\nclientPortAddress=127.0.0.1\nsecureClientPort={}\n\
                 secureClientPortAddress=127.0.0.1\nssl.keyStore.location={}\nssl.trustStore.location={}\n",
                dir.0.join("data").display(),
                base + 100,
                key_store.display(),
                trust_store.display()
            ),
        )
        .expect("zoo.cfg");
        let out = Command::new("timeout")
            .args(["20", common::BIN, "server"])
            .arg(&cfg)
            .output()
            .expect("run zablab server");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "exit status; stderr:\n{stderr}");
        assert!(stderr.contains(want), "{want:?} in:\n{stderr}");
        assert!(
            TcpStream::connect(("127.0.0.1", base)).is_err(),
            "nothing listens after a failed start"
        );
    }
}

const MB: usize = 1_000_000;

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// Sends up to 300 getData of a 1 MB node over TLS and never reads; the server must stop
/// reading, close the connection on its own within the write timeout (twice the 4 s session
/// timeout) and keep its peak memory far below 300 MB.
fn slow_tls_reader(cluster: &ZablabCluster, i: usize, writer: &str, tls_dir: &Path) {
    use zablab_core::tree::ReadRequest;
    use zablab_node::codec::proto::{
        encode_request, ClientRequest, ConnectRequest, ConnectResponse,
    };
    let rt = runtime();
    rt.block_on(async {
        let (w, _) = ZkClient::connect(ConnectOptions::new(writer))
            .await
            .expect("session");
        w.create(
            "/tls-big",
            Some(&vec![7u8; MB]),
            &open_acl_unsafe(),
            CreateMode::Persistent,
        )
        .await
        .expect("create a 1 MB node");
    });
    let pid = cluster.servers[i].1;
    let hwm_before = vm_hwm_kib(pid);
    let client = X509Settings {
        key_store_location: Some(tls_dir.join("client.pem")),
        trust_store_location: Some(tls_dir.join("ca.pem")),
        client_auth: ClientAuth::Need,
    };
    let cfg = tls::client_config(&client, "slow reader").expect("client TLS config");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let conn = rustls::ClientConnection::new(cfg, name).expect("TLS client");
    let tcp = TcpStream::connect(&cluster.secure[i]).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let mut out = Vec::new();
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: 4000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: Some(false),
    }
    .encode(&mut out);
    s.write_all(&out).expect("send ConnectRequest");
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("ConnectResponse length");
    let n = i32::from_be_bytes(len);
    assert!((1..=1024).contains(&n), "ConnectResponse length {n}");
    let mut body = vec![0u8; n as usize];
    s.read_exact(&mut body).expect("ConnectResponse");
    let resp = ConnectResponse::decode(&body).expect("decodes");
    assert!(resp.session_id != 0, "a session over TLS");
    s.sock
        .set_write_timeout(Some(Duration::from_secs(1)))
        .expect("write timeout");
    let get = ClientRequest::Read(ReadRequest::GetData {
        path: "/tls-big".into(),
        watch: false,
    });
    let mut sent = 0;
    for xid in 1..=300 {
        let mut out = Vec::new();
        encode_request(&mut out, xid, &get);
        if s.write_all(&out).and_then(|_| s.flush()).is_err() {
            break;
        }
        sent += 1;
    }
    // Past the write timeout (8 s) the server closes the connection by itself.
    std::thread::sleep(Duration::from_secs(12));
    s.sock
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let start = std::time::Instant::now();
    let mut buf = vec![0u8; 256 * 1024];
    let mut received = 0usize;
    let closed = loop {
        if start.elapsed() > Duration::from_secs(20) {
            break false;
        }
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => received += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break true,
        }
    };
    let grew_mib = vm_hwm_kib(pid).saturating_sub(hwm_before) / 1024;
    eprintln!(
        "slow TLS reader: sent {sent} getData of 1 MB, {received} bytes buffered, closed by the server: {closed}, peak RSS grew {grew_mib} MiB"
    );
    assert!(
        closed,
        "the server closed the TLS client that does not read"
    );
    assert!(
        received < 64 * MB,
        "the server did not send all {sent} replies"
    );
    assert!(
        grew_mib < 64,
        "peak RSS grew {grew_mib} MiB for {sent} queued 1 MB replies"
    );
    assert!(
        common::mode(&cluster.addrs()[i]).is_some(),
        "the server still serves"
    );
}
