//! A clean stop on SIGTERM/SIGINT (systemd's `KillSignal`), as ZooKeeper's shutdown.

use std::io;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Host;
use crate::codec::machine::NodeMachine;
use crate::server::sessions::ClientEvent;
use crate::server::storage::WriterCmd;

/// Resolves with the signal's name on the first SIGTERM (systemd's `KillSignal`) or SIGINT.
pub(super) fn stop_signals() -> io::Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}

/// How long a shutdown waits for the last fsync and for client connections to close; a
/// disk that does not answer in this time is reported and the process exits anyway (the
/// service manager's `TimeoutStopSec` is the outer bound).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

impl<M: NodeMachine> Host<M> {
    /// A clean stop, as ZooKeeper's shutdown: stop taking requests, close every client
    /// connection after the replies already queued on it (sessions stay; their clients move
    /// to another server), wait until the log writer has fsync'd everything queued, then
    /// return so the process exits 0 and its quorum and election sockets close. Learners of
    /// a leader see the quorum connection end at once and elect, instead of waiting
    /// syncLimit ticks for a silent leader.
    pub(super) async fn shut_down(
        &mut self,
        signal: &str,
        client_rx: &mut mpsc::UnboundedReceiver<ClientEvent>,
    ) {
        let myid = self.peer.id();
        let status = self.shared.status();
        eprintln!(
            "zablab[{myid}]: {signal} received: shutting down ({}, lastZxid=0x{:x})",
            self.peer.state().name(),
            status.last_zxid.0
        );
        let started = std::time::Instant::now();
        let closed = self
            .sessions
            .close_all(&mut self.peer, "server shutting down");
        if let Ok(mut s) = self.shared.status.lock() {
            s.serving = false;
        }
        // Each connection task reports `Gone` once its socket is shut; other client events
        // are not served any more.
        let mut gone = 0;
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while gone < closed {
            match tokio::time::timeout_at(deadline, client_rx.recv()).await {
                Ok(Some(ClientEvent::Gone { .. })) => gone += 1,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        let (done_tx, done_rx) = std_mpsc::channel();
        let flushed = self.writer.send(WriterCmd::Flush { done: done_tx }).is_ok()
            && tokio::task::spawn_blocking(move || done_rx.recv_timeout(SHUTDOWN_GRACE).is_ok())
                .await
                .unwrap_or(false);
        self.conns.clear();
        self.election = None;
        if flushed {
            eprintln!(
                "zablab[{myid}]: shut down cleanly in {} ms: {closed} client connections closed ({gone} confirmed), log flushed",
                started.elapsed().as_millis()
            );
        } else {
            eprintln!(
                "zablab[{myid}]: ERROR: shutdown could not confirm the last fsync within {} s; exiting anyway",
                SHUTDOWN_GRACE.as_secs()
            );
        }
    }
}
