//! Attacks on a real 3-server ensemble: each test runs one against `zablab server`
//! processes on 127.0.0.1 and checks that the attacked server stays up, keeps its memory
//! bounded (VmHWM from /proc), keeps serving a normal client's writes, and keeps its leader
//! (same leader and epoch from `srvr` before and after). Each prints its figures.

mod common;
mod hostile;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use hostile::*;
use zablab_core::tree::{ErrorCode, ReadRequest, ReadResponse};
use zablab_node::codec::proto::{ClientRequest, Response};

const MB: usize = 1_000_000;

fn big_node(c: &mut Raw, path: &str) {
    c.create_open(path, &vec![7u8; MB])
        .expect("create a 1 MB node");
}

fn report(what: &str, e: &mut Ensemble, i: usize, hwm_before: u64, writes_ok: usize, of: usize) {
    let (rss, hwm) = e.memory_kib(i);
    eprintln!(
        "{what}: alive={} VmRSS={} MiB VmHWM={} MiB (peak grew {} MiB) writes served {writes_ok}/{of}",
        e.alive(i),
        rss / 1024,
        hwm / 1024,
        hwm.saturating_sub(hwm_before) / 1024
    );
}

/// Item 1: 300 getData of a 1 MB node, never read. Without a byte budget the server holds
/// every reply (~300 MB) and a blocked write keeps the socket open forever.
#[test]
fn a_client_that_never_reads_holds_a_bounded_budget_and_is_closed() {
    let mut e = Ensemble::start("slow-reader", |_| String::new());
    let (leader, epoch) = e.leader_and_epoch();
    let addr = e.addr(leader);
    let mut normal = Raw::connect(&addr, 30_000);
    big_node(&mut normal, "/big");
    normal.create_open("/w", b"").expect("create /w");
    let (_, hwm_before) = e.memory_kib(leader);
    let connections_before = e.connections(leader);

    // The shortest session (4 s): the server gives up on writes after 8 s without progress.
    let mut attacker = Raw::connect(&addr, 4000);
    attacker
        .s
        .set_write_timeout(Some(Duration::from_secs(1)))
        .expect("write timeout");
    let get = ClientRequest::Read(ReadRequest::GetData {
        path: "/big".into(),
        watch: false,
    });
    let sent = (0..300).take_while(|_| attacker.send(&get).is_ok()).count();
    let of = 30;
    let writes_ok = writes(&mut normal, "/w", of);
    let (_, hwm_during) = e.memory_kib(leader);
    report(
        "slow reader (during)",
        &mut e,
        leader,
        hwm_before,
        writes_ok,
        of,
    );
    eprintln!("attacker sent {sent} getData of 1 MB before the server stopped reading");

    // Nothing read for longer than the write timeout: the server must have closed it on its
    // own (before, a writer blocked in write_all kept it open as long as the client did not
    // read), and then the client sees the end of the stream.
    std::thread::sleep(Duration::from_secs(12));
    let connections_after = e.connections(leader);
    eprintln!("connections on the leader: {connections_before} before the attack, {connections_after} 12 s into it");
    let discarded = attacker
        .closed_by_server(Duration::from_secs(20))
        .expect("the server closed the connection of the client that does not read");
    eprintln!("attacker's socket closed by the server after {discarded} bytes buffered");
    assert!(
        discarded < 64 * MB,
        "the server did not send the {sent} replies"
    );
    let after = writes(&mut normal, "/w", 10);
    report("slow reader (after)", &mut e, leader, hwm_before, after, 10);

    assert_eq!(
        connections_after, connections_before,
        "the server dropped the connection of the client that does not read"
    );
    assert!(e.alive(leader), "the attacked server is up");
    assert_eq!(
        writes_ok, of,
        "a normal client's writes succeed during the attack"
    );
    assert_eq!(after, 10, "and after it");
    let grew_mib = hwm_during
        .max(e.memory_kib(leader).1)
        .saturating_sub(hwm_before)
        / 1024;
    assert!(
        grew_mib < 64,
        "peak RSS grew {grew_mib} MiB for {sent} queued 1 MB replies (unbounded: ~{sent} MiB)"
    );
    assert_eq!(
        e.leader_and_epoch(),
        (leader, epoch),
        "same leader, no election"
    );
}

fn multi_get(path: &str, n: usize) -> ClientRequest {
    ClientRequest::Read(ReadRequest::MultiRead(
        (0..n)
            .map(|_| ReadRequest::GetData {
                path: path.to_string(),
                watch: false,
            })
            .collect(),
    ))
}

/// Item 2: one multiRead of 500 (and 2,000) getData of a 1 MB node: a 500 MB (2 GB) reply
/// before. Refused with BadArguments before it is built; normal multiReads still work.
#[test]
fn a_multi_read_whose_reply_would_pass_jute_maxbuffer_is_refused_before_it_is_built() {
    let mut e = Ensemble::start("multiread", |_| String::new());
    let (leader, epoch) = e.leader_and_epoch();
    let mut c = Raw::connect(&e.addr(leader), 30_000);
    big_node(&mut c, "/big");
    c.create_open("/small", b"s").expect("create /small");
    let (_, hwm_before) = e.memory_kib(leader);

    for n in [500, 2000] {
        assert_eq!(
            c.call(multi_get("/big", n)),
            Err(ErrorCode::BadArguments),
            "multiRead of {n} × 1 MB"
        );
    }
    // Within the bound: one large result, or many small ones.
    match c.call(multi_get("/big", 1)) {
        Ok(Response::Read(ReadResponse::MultiRead(r))) => {
            assert!(
                matches!(&r[..], [Ok(ReadResponse::GetData { data: Some(d), .. })] if d.len() == MB)
            )
        }
        other => panic!("multiRead of one 1 MB node: {other:?}"),
    }
    match c.call(multi_get("/small", 500)) {
        Ok(Response::Read(ReadResponse::MultiRead(r))) => assert_eq!(r.len(), 500),
        other => panic!("multiRead of 500 small nodes: {other:?}"),
    }
    let of = 20;
    let writes_ok = writes(&mut c, "/small", of);
    report("multiRead", &mut e, leader, hwm_before, writes_ok, of);

    assert!(e.alive(leader));
    assert_eq!(writes_ok, of);
    let grew_mib = e.memory_kib(leader).1.saturating_sub(hwm_before) / 1024;
    assert!(grew_mib < 64, "peak RSS grew {grew_mib} MiB");
    assert_eq!(e.leader_and_epoch(), (leader, epoch));
}

/// A client on `addr` holding 15 digest ids of about 1 KB each (with `ip`, the most allowed).
fn client_with_15_ids(addr: &str, tag: &str) -> Raw {
    let mut c = Raw::connect(addr, 30_000);
    for i in 0..15 {
        let user = format!("{tag}{i}-{}", "u".repeat(960));
        c.add_auth("digest", format!("{user}:pw").as_bytes())
            .expect("an auth id within the bounds");
    }
    c
}

/// Item 3: auth ids are copied into every transaction. Huge or many ids are refused at
/// addAuth (AuthFailed, connection closed), and a write whose transaction would pass
/// jute.maxbuffer is refused (BadArguments) before it is forwarded or proposed, so no
/// follower ever refuses a PROPOSAL and the leader keeps its quorum.
#[test]
fn auth_ids_are_bounded_and_no_client_can_build_a_proposal_followers_refuse() {
    let mut e = Ensemble::start("auth-bloat", |_| String::new());
    let (leader, epoch) = e.leader_and_epoch();
    let follower = e.follower();
    let mut normal = Raw::connect(&e.addr(leader), 30_000);
    normal.create_open("/w", b"").expect("create /w");
    let (_, hwm_before) = e.memory_kib(leader);

    for i in [follower, leader] {
        let addr = e.addr(i);
        // A 900 KB user name: refused, and the connection is closed.
        let mut huge = Raw::connect(&addr, 30_000);
        let name = "x".repeat(900_000);
        assert_eq!(
            huge.add_auth("digest", format!("{name}:pw").as_bytes()),
            Err(ErrorCode::AuthFailed)
        );
        assert!(huge.closed_by_server(Duration::from_secs(10)).is_some());

        // 15 ids of ~1 KB fit and writes work; a 16th id is refused.
        let mut many = client_with_15_ids(&addr, &format!("s{i}-"));
        let path = format!("/ok-{i}");
        many.create_open(&path, b"x").expect("a write with 15 ids");
        assert_eq!(
            many.add_auth("digest", b"one-more:pw"),
            Err(ErrorCode::AuthFailed)
        );

        // Data that fits a frame, plus ~15 KB of auth ids: the txn passes jute.maxbuffer.
        for round in 0..5 {
            let mut c = client_with_15_ids(&addr, &format!("r{round}-{i}-"));
            let path = format!("/too-big-{i}-{round}");
            assert_eq!(
                c.create_open(&path, &vec![1u8; 1_040_000]),
                Err(ErrorCode::BadArguments),
                "txn above jute.maxbuffer via server {}",
                i + 1
            );
            assert_eq!(normal.get_data(&path), Err(ErrorCode::NoNode));
            assert_eq!(writes(&mut normal, "/w", 4), 4, "writes go on");
        }
    }
    let of = 20;
    let writes_ok = writes(&mut normal, "/w", of);
    report("auth bloat", &mut e, leader, hwm_before, writes_ok, of);
    for i in 0..3 {
        assert!(e.alive(i), "server {} is up", i + 1);
        assert!(
            !e.log(i).contains("out of range"),
            "server {} refused a packet:\n{}",
            i + 1,
            e.log(i)
        );
    }
    assert_eq!(writes_ok, of);
    assert_eq!(e.leader_and_epoch(), (leader, epoch), "no re-election");
}

/// Connects `n` sockets to `addr` that send nothing; how many the server closed at once
/// (EOF or reset within 300 ms, where an admitted one waits for its handshake for seconds).
fn flood(addr: &str, n: usize) -> (Vec<TcpStream>, usize) {
    let socks: Vec<TcpStream> = (0..n)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    let mut closed = 0;
    for mut s in &socks {
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        let mut b = [0u8; 1];
        match s.read(&mut b) {
            Ok(0) => closed += 1,
            Err(e) if !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                closed += 1
            }
            _ => {}
        }
    }
    (socks, closed)
}

/// Item 6: a stranger on the quorum port announcing a SNAP of 1 GiB is cut off after a few
/// KiB (400 MB were buffered before); floods of silent connections on the quorum and election
/// ports get a bounded number of handshake slots per address.
#[test]
fn strangers_on_the_quorum_and_election_ports_are_bounded_before_they_are_identified() {
    let mut e = Ensemble::start("quorum-strangers", |_| String::new());
    let (leader, epoch) = e.leader_and_epoch();
    let mut normal = Raw::connect(&e.addr(leader), 30_000);
    normal.create_open("/w", b"").expect("create /w");
    let (_, hwm_before) = e.memory_kib(leader);

    // SNAP (15), zxid, null data, null authinfo, then a snapshot "of 1 GiB".
    let mut s = TcpStream::connect(e.quorum_addr(leader)).expect("quorum port");
    s.set_write_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut head = Vec::new();
    head.extend_from_slice(&15i32.to_be_bytes());
    head.extend_from_slice(&0i64.to_be_bytes());
    head.extend_from_slice(&(-1i32).to_be_bytes());
    head.extend_from_slice(&(-1i32).to_be_bytes());
    head.extend_from_slice(&(1i64 << 30).to_be_bytes());
    s.write_all(&head).expect("header");
    let chunk = vec![0u8; 64 * 1024];
    let start = Instant::now();
    let mut sent = 0usize;
    while sent < 256 * MB && start.elapsed() < Duration::from_secs(20) {
        match s.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    eprintln!("SNAP stranger: {sent} bytes accepted before the server cut it off");
    assert!(sent < 32 * MB, "the server kept reading a stranger's SNAP");

    // Silent floods: past the per-address bound, connections are closed at once.
    let (q_socks, q_closed) = flood(&e.quorum_addr(leader), 40);
    let (el_socks, el_closed) = flood(&e.election_addr(leader), 40);
    eprintln!("flood of 40: quorum port closed {q_closed} at once, election port {el_closed}");
    let of = 20;
    let writes_ok = writes(&mut normal, "/w", of);
    report("strangers", &mut e, leader, hwm_before, writes_ok, of);
    drop((q_socks, el_socks));

    assert!(q_closed >= 40 - 16 && el_closed >= 40 - 16);
    assert!(e.alive(leader));
    assert_eq!(writes_ok, of);
    let grew_mib = e.memory_kib(leader).1.saturating_sub(hwm_before) / 1024;
    assert!(grew_mib < 32, "peak RSS grew {grew_mib} MiB");
    assert_eq!(e.leader_and_epoch(), (leader, epoch));
}
