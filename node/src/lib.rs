//! # zablab-node
//!
//! The native ZabLab server: a thin host around [`zablab_core::Peer`] that moves bytes, runs
//! timers and fsyncs. One module per concern:
//!
//! | module | concern |
//! |---|---|
//! | [`config`] | `zoo.cfg` and `dataDir/myid` |
//! | [`storage`] | transaction log, snapshots, epoch files, group-commit writer, recovery |
//! | [`election`] | election port: handshake, larger-sid rule, notifications |
//! | [`admission`] | handshake slots per address on the quorum and election ports |
//! | [`quorum`] | quorum port: leader listens, learners dial, QuorumPacket streams |
//! | [`wire`] | byte layouts of notifications and quorum packets |
//! | [`jute`] | ZooKeeper's binary encoding, Adler-32 |
//! | [`machine`] | [`machine::NodeMachine`]: codecs and numbers a replicated machine provides |
//! | [`proto`] | ZooKeeper's client wire protocol: frames, records, opcodes (both directions) |
//! | [`tree_machine`] | [`machine::NodeMachine`] for the data tree: txn records, snapshots |
//! | [`zkclient`] | an async ZooKeeper client over [`proto`] (cli, bench, tests) |
//! | [`cli_shell`] | `zablab cli`: a zkCli-like shell and one-shot commands |
//! | [`bench`] | `zablab bench`: a load generator over the wire protocol |
//! | [`client`] | client port: four-letter words now, the jute client protocol next |
//! | [`fourlw`] | `ruok srvr stat mntr conf envi isro` output |
//! | [`metrics`] | ZooKeeper's metrics: `/metrics` (Prometheus), `mntr`, `monitor` |
//! | [`admin`] | the AdminServer: ZooKeeper's JSON commands over HTTP |
//! | [`http`] | the bounded HTTP/1.1 responder of the metrics and admin ports |
//! | [`runtime`] | the peer task: executes outputs, feeds inputs |
//! | [`sessions`] | client sessions on the peer task: reply order, watch routing |
//! | [`fault`] | `--fault-addr`: test-only, loopback-only hook that cuts links (chaos tests) |
//! | [`tls`] | TLS (rustls): `secureClientPort`, `sslQuorum`, PEM stores, the throwaway CA |
//! | [`trace`] | `--trace-addr` JSON-lines stream |
//! | [`cluster`] | `zablab cluster` and `zablab status` |
#![forbid(unsafe_code)]

pub mod admin;
pub mod admission;
pub mod bench;
pub mod cli_shell;
pub mod client;
pub mod client_conn;
pub mod cluster;
pub mod config;
pub mod conn_stats;
pub mod election;
pub mod fault;
pub mod fourlw;
pub mod http;
pub mod jute;
pub mod machine;
pub mod metrics;
pub mod proto;
pub mod quorum;
pub mod runtime;
pub mod sessions;
pub mod storage;
pub mod tls;
pub mod trace;
pub mod tree_machine;
pub mod wire;
pub mod zkclient;

/// Sends `word` to a server's client port and returns the whole answer (bounded wait).
pub async fn four_letter_word(
    addr: &str,
    word: &str,
    wait: std::time::Duration,
) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let work = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(word.as_bytes()).await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok(out)
    };
    tokio::time::timeout(wait, work).await.unwrap_or_else(|_| {
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "timed out",
        ))
    })
}

/// The `Mode:` line of a `srvr` answer (None when not serving).
pub fn srvr_mode(answer: &str) -> Option<&str> {
    answer
        .lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(str::trim)
}
