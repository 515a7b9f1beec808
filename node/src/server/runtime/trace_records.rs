//! The host's side of the trace stream: the records the runtime adds around the peer's own
//! events (docs/trace-format.md), built only while someone reads (`TracePublisher`).

use std::borrow::Cow;

use zablab_core::peer::{Input, Output};
use zablab_core::trace::{HostEvent, PeerStatus, TraceRecord};
use zablab_core::zxid::Sid;

use super::Host;
use crate::codec::machine::NodeMachine;
use crate::codec::wire::NodeMessage;

impl<M: NodeMachine> Host<M> {
    /// Builds and publishes a record only while someone reads the trace.
    pub(super) fn trace(&self, event: impl FnOnce() -> HostEvent) {
        if let Some(t) = self.trace.as_ref().filter(|t| t.is_active()) {
            t.publish(&TraceRecord {
                time: self.now(),
                node: self.peer.id(),
                event: event(),
            });
        }
    }

    /// A `Status` record when a new reader asked for one or the last is [`STATUS_EVERY_MS`]
    /// old (only while someone reads).
    ///
    /// [`STATUS_EVERY_MS`]: crate::server::trace::STATUS_EVERY_MS
    pub(super) fn trace_status(&self, asked: bool) {
        let now = self.now();
        if self
            .trace
            .as_ref()
            .is_some_and(|t| t.status_due(now, asked))
        {
            self.trace(|| HostEvent::Status(Box::new(PeerStatus::of(&self.peer))));
        }
    }

    pub(super) fn trace_receive(&self, from: Sid, msg: &NodeMessage<M>) {
        self.trace(|| HostEvent::Deliver {
            from,
            msg_id: None,
            kind: Cow::Borrowed(msg.kind()),
        });
    }

    /// The fault hook dropped a message from `from` as it arrived (the sender's number for it
    /// is not known here).
    pub(super) fn trace_drop_on_receipt(&self, from: Sid, kind: &'static str) {
        self.trace(|| HostEvent::Drop {
            from,
            to: self.peer.id(),
            msg_id: None,
            kind: Cow::Borrowed(kind),
            reason: Cow::Borrowed("cut"),
        });
    }

    /// A send this server gave up on: `msg_id` is the number its `Send` record had.
    pub(super) fn trace_drop_on_send(
        &self,
        to: Sid,
        msg_id: u64,
        kind: &'static str,
        why: &'static str,
    ) {
        self.trace(|| HostEvent::Drop {
            from: self.peer.id(),
            to,
            msg_id: Some(msg_id),
            kind: Cow::Borrowed(kind),
            reason: Cow::Borrowed(why),
        });
    }

    /// The inputs the trace shows: ticks, persist completions, client requests, closed quorum
    /// connections.
    pub(super) fn trace_input(&self, input: &Input<M>) {
        match input {
            Input::Tick => self.trace(|| HostEvent::Timer),
            Input::Persisted { id } => self.trace(|| HostEvent::Persisted { id: *id }),
            Input::ClientWrite { tag, .. } => self.trace(|| HostEvent::ClientRequest {
                tag: *tag,
                write: true,
            }),
            Input::ClientReconfig { tag, .. } => self.trace(|| HostEvent::ClientRequest {
                tag: *tag,
                write: true,
            }),
            Input::ClientSync { tag } => self.trace(|| HostEvent::ClientRequest {
                tag: *tag,
                write: false,
            }),
            Input::PeerDisconnected { peer } => {
                self.trace(|| HostEvent::Disconnected { peer: *peer })
            }
            _ => {}
        }
    }

    /// A client request's end (other outputs are not client replies: nothing is traced).
    pub(super) fn trace_reply(&self, o: &Output<M>) {
        let event = match o {
            Output::Reply { tag, zxid, .. } => HostEvent::ClientReply {
                tag: *tag,
                zxid: *zxid,
            },
            Output::SyncDone { tag, zxid } => HostEvent::ClientSyncDone {
                tag: *tag,
                zxid: *zxid,
            },
            Output::RequestFailed { tag } | Output::ReconfigFailed { tag, .. } => {
                HostEvent::ClientFailed { tag: *tag }
            }
            _ => return,
        };
        self.trace(|| event);
    }
}
