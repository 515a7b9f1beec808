//! `--trace-addr`: the peer's [`TraceEvent`]s plus every send and receive, as serde JSON lines,
//! to any client connected over plain TCP (`nc 127.0.0.1 PORT`). A slow reader loses lines
//! (it is told how many) rather than slowing the server.

use std::sync::Arc;

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use zablab_core::message::{Message, Notification};
use zablab_core::trace::TraceEvent;
use zablab_core::zxid::{Sid, Zxid};

/// One line of the trace stream.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TraceLine<'a> {
    /// A protocol event of the core (the simulator's event types).
    Event {
        time_ms: u64,
        server: Sid,
        event: &'a TraceEvent,
    },
    /// A message this server sent.
    Send {
        time_ms: u64,
        server: Sid,
        to: Sid,
        kind: &'static str,
        packet_type: i32,
        #[serde(skip_serializing_if = "Option::is_none")]
        zxid: Option<Zxid>,
        #[serde(skip_serializing_if = "Option::is_none")]
        notification: Option<&'a Notification>,
    },
    /// A message this server received.
    Receive {
        time_ms: u64,
        server: Sid,
        from: Sid,
        kind: &'static str,
        packet_type: i32,
        #[serde(skip_serializing_if = "Option::is_none")]
        zxid: Option<Zxid>,
        #[serde(skip_serializing_if = "Option::is_none")]
        notification: Option<&'a Notification>,
    },
}

/// The zxid a message is about, if any (for trace lines).
pub fn message_zxid<T, S, R>(m: &Message<T, S, R>) -> Option<Zxid> {
    Some(match m {
        Message::Notification(n) => n.vote_zxid,
        Message::AckEpoch {
            last_logged_zxid, ..
        } => *last_logged_zxid,
        Message::Diff { zxid }
        | Message::Trunc { zxid }
        | Message::Snap { zxid, .. }
        | Message::NewLeader { zxid }
        | Message::Ack { zxid }
        | Message::Commit { zxid }
        | Message::Ping { zxid, .. } => *zxid,
        Message::Proposal(e) | Message::Inform(e) => e.zxid,
        Message::FollowerInfo { accepted_epoch }
        | Message::ObserverInfo { accepted_epoch }
        | Message::LeaderInfo {
            new_epoch: accepted_epoch,
        } => Zxid::epoch_start(*accepted_epoch),
        _ => return None,
    })
}

pub fn notification_of<T, S, R>(m: &Message<T, S, R>) -> Option<&Notification> {
    match m {
        Message::Notification(n) => Some(n),
        _ => None,
    }
}

/// Publishes lines to every connected trace client.
#[derive(Clone)]
pub struct TracePublisher {
    tx: broadcast::Sender<Arc<str>>,
}

impl TracePublisher {
    pub fn is_active(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    pub fn publish(&self, line: &TraceLine<'_>) {
        if !self.is_active() {
            return;
        }
        if let Ok(s) = serde_json::to_string(line) {
            let _ = self.tx.send(Arc::from(s));
        }
    }

    /// Listens on `listener` and streams lines to each client.
    pub fn serve(listener: TcpListener) -> TracePublisher {
        let (tx, _) = broadcast::channel::<Arc<str>>(16384);
        let publisher = TracePublisher { tx: tx.clone() };
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut rx = tx.subscribe();
                tokio::spawn(async move {
                    loop {
                        let line = match rx.recv().await {
                            Ok(l) => l,
                            Err(broadcast::error::RecvError::Lagged(n)) => {
                                Arc::from(format!("{{\"type\":\"lagged\",\"lost\":{n}}}"))
                            }
                            Err(broadcast::error::RecvError::Closed) => return,
                        };
                        if s.write_all(line.as_bytes()).await.is_err()
                            || s.write_all(b"\n").await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        publisher
    }
}
