//! The client port. The first 4 bytes of a connection decide what it is:
//! * a known four-letter word ([`fourlw::is_known`]): answered and closed;
//! * anything else: the `i32` length of a jute ConnectRequest (docs/protocol.md §5.1), served by
//!   [`crate::server::client_conn`].
//!
//! `maxClientCnxns` limits connections per client IP (0 = unlimited).
//!
//! The secure client port (`secureClientPort`, [`crate::tls`]) is the same port inside TLS: its
//! accept loop does the TLS handshake (bounded by [`TLS_HANDSHAKE_TIMEOUT`], counted against
//! `maxClientCnxns` from the first byte) and then serves the decrypted stream with the same
//! code, so the byte budgets, write timeouts and four-letter words are those of `clientPort`.
//! Both ports share one [`Connections`]: `maxClientCnxns` counts an address's connections on
//! either, and `cons`/`stat` list all of them.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use crate::server::connections::{ConnStats, Connections};
use crate::server::fourlw;
use crate::server::sessions::{ClientEvent, Inspection};
use crate::server::shared::Shared;
use crate::tls::PeerStream;

/// How long `stmk` waits for its 8-byte argument.
const STMK_ARG_TIMEOUT: Duration = Duration::from_secs(2);

/// The TLS handshake of a secure client connection must finish within this.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts client connections on `listener`; with `tls`, each is a TLS connection
/// (`secureClientPort`). `conns` (the server's `Shared::connections`) is shared by the plain
/// and the secure port.
pub fn spawn(
    listener: TcpListener,
    shared: Arc<Shared>,
    conns: Arc<Connections>,
    tls: Option<TlsAcceptor>,
) {
    tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("zablab: client accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some((guard, stats)) = conns.admit(peer, shared.config.max_client_cnxns) else {
                eprintln!(
                    "zablab: too many connections from {} (maxClientCnxns), closing",
                    peer.ip()
                );
                continue;
            };
            shared
                .metrics
                .connection_request_count
                .fetch_add(1, Ordering::Relaxed);
            let _ = stream.set_nodelay(true);
            let (shared, conns, tls) = (shared.clone(), conns.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    None => serve(stream, peer, shared, conns, stats).await,
                    Some(acceptor) => {
                        match timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                            Ok(Ok(s)) => serve(s, peer, shared, conns, stats).await,
                            Ok(Err(e)) => {
                                eprintln!(
                                    "zablab: client {peer}: TLS handshake failed ({e}), closing"
                                )
                            }
                            Err(_) => {
                                eprintln!(
                                    "zablab: client {peer}: no TLS handshake in time, closing"
                                )
                            }
                        }
                    }
                }
                drop(guard);
            });
        }
    });
}

/// Serves one connection, plain or TLS: a four-letter word or a ZooKeeper session.
async fn serve<S: PeerStream>(
    mut stream: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    conns: Arc<Connections>,
    stats: Arc<ConnStats>,
) {
    let mut first = [0u8; 4];
    match timeout(Duration::from_secs(10), stream.read_exact(&mut first)).await {
        Ok(Ok(_)) => {}
        _ => return,
    }
    // The word, or the ConnectRequest: a packet either way (ZooKeeper counts both).
    stats.packet_received();
    if let Some(word) = fourlw::is_known(&first) {
        stats.four_letter();
        // stmk's argument: the 8-byte mask after the word, read (as ZooKeeper does) only
        // once the whitelist let the word run.
        let mut arg = None;
        if word == "stmk" && fourlw::allowed(&shared.config, word) {
            let mut b = [0u8; 8];
            if let Ok(Ok(_)) = timeout(STMK_ARG_TIMEOUT, stream.read_exact(&mut b)).await {
                arg = Some(i64::from_be_bytes(b));
            }
        }
        let inspection = if fourlw::needs_inspection(word, &shared) {
            inspect(&shared).await
        } else {
            None
        };
        let text = fourlw::answer(
            word,
            &fourlw::Context {
                shared: &shared,
                conns: &conns,
                inspection: inspection.as_ref(),
                arg,
            },
        );
        let _ = stream.write_all(text.as_bytes()).await;
        let _ = stream.shutdown().await;
        return;
    }
    let len = i32::from_be_bytes(first);
    crate::server::client_conn::serve(stream, peer, len, shared, stats).await;
}

/// Asks the peer task for the watches, ephemerals and session buckets.
pub async fn inspect(shared: &Shared) -> Option<Inspection> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    shared
        .client_events
        .send(ClientEvent::Inspect { reply: tx })
        .ok()?;
    timeout(Duration::from_secs(5), rx).await.ok()?.ok()
}
