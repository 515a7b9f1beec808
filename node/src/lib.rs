//! # zablab-node
//!
//! The native ZabLab server: a thin host around [`zablab_core::Peer`] that moves bytes, runs
//! timers and fsyncs. One module per concern:
//!
//! | module | concern |
//! |---|---|
//! | [`codec`] | bytes and values with no IO: jute, quorum and election layouts, the client protocol, machine codecs |
//! | [`server`] | `zablab server`: the peer task, its ports, storage, sessions, metrics and admin |
//! | [`tools`] | `zablab cli`, `bench`, `cluster`, `status`, `lesson` and the async client they share |
//! | [`config`] | `zoo.cfg` and `dataDir/myid` |
//! | [`tls`] | TLS (rustls): `secureClientPort`, `sslQuorum`, PEM stores, the throwaway CA |
//!
//! Files depend on each other without cycles: `codec` on nothing of the node, `config` and
//! `tls` on nothing but each other's constants, `server` and `tools` on those (never on each other).
#![forbid(unsafe_code)]

pub mod codec;
pub mod config;
pub mod server;
pub mod tls;
pub mod tools;

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
