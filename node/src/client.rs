//! The client port. The first 4 bytes of a connection decide what it is:
//! * a known four-letter word ([`fourlw::is_known`]): answered and closed;
//! * anything else: the `i32` length of a jute ConnectRequest (reference §5.1), served by
//!   [`crate::client_conn`].
//!
//! `maxClientCnxns` limits connections per client IP (0 = unlimited).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use crate::fourlw;
use crate::runtime::Shared;

/// Open client connections, for `Connections:`, `stat`'s client list and maxClientCnxns.
#[derive(Default)]
pub struct Connections {
    total: AtomicU64,
    per_ip: Mutex<HashMap<IpAddr, u32>>,
    list: Mutex<HashMap<SocketAddr, u64>>,
}

struct Guard {
    conns: Arc<Connections>,
    peer: SocketAddr,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.conns.total.fetch_sub(1, Ordering::Relaxed);
        if let Ok(mut m) = self.conns.per_ip.lock() {
            if let Some(n) = m.get_mut(&self.peer.ip()) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.remove(&self.peer.ip());
                }
            }
        }
        if let Ok(mut l) = self.conns.list.lock() {
            l.remove(&self.peer);
        }
    }
}

impl Connections {
    fn admit(self: &Arc<Self>, peer: SocketAddr, max_per_ip: u32) -> Option<Guard> {
        let mut m = self.per_ip.lock().ok()?;
        let n = m.entry(peer.ip()).or_insert(0);
        if max_per_ip != 0 && *n >= max_per_ip {
            return None;
        }
        *n += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut l) = self.list.lock() {
            l.insert(peer, 0);
        }
        Some(Guard {
            conns: self.clone(),
            peer,
        })
    }

    fn client_lines(&self) -> String {
        let l = match self.list.lock() {
            Ok(l) => l,
            Err(_) => return String::new(),
        };
        let mut v: Vec<_> = l.iter().collect();
        v.sort();
        v.iter()
            .map(|(a, n)| {
                format!(
                    " /{}:{}[1](queued=0,recved={n},sent={n})\n",
                    a.ip(),
                    a.port()
                )
            })
            .collect()
    }
}

/// Accepts client connections.
pub fn spawn(listener: TcpListener, shared: Arc<Shared>) {
    let conns = Arc::new(Connections::default());
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
            let Some(guard) = conns.admit(peer, shared.config.max_client_cnxns) else {
                eprintln!(
                    "zablab: too many connections from {} (maxClientCnxns), closing",
                    peer.ip()
                );
                continue;
            };
            let (shared, conns) = (shared.clone(), conns.clone());
            tokio::spawn(async move {
                serve(stream, peer, shared, conns).await;
                drop(guard);
            });
        }
    });
}

async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    conns: Arc<Connections>,
) {
    let _ = stream.set_nodelay(true);
    let mut first = [0u8; 4];
    match timeout(Duration::from_secs(10), stream.read_exact(&mut first)).await {
        Ok(Ok(_)) => {}
        _ => return,
    }
    if let Some(word) = fourlw::is_known(&first) {
        let n = conns.total.load(Ordering::Relaxed);
        let text = fourlw::answer(word, &shared, n, &conns.client_lines());
        let _ = stream.write_all(text.as_bytes()).await;
        let _ = stream.shutdown().await;
        return;
    }
    let len = i32::from_be_bytes(first);
    crate::client_conn::serve(stream, peer, len, shared).await;
}
