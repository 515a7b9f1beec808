//! Limits on what one client connection can make this server hold or build (STYLE: a limit on
//! everything that comes from outside, in bytes and in count, with the error the client gets).
//!
//! * **Replies queued for a connection** ([`ReplyBudget`]). The peer task pushes replies into a
//!   connection's channel and the connection's writer drains it at the client's pace. A client
//!   that asks for large reads and never reads its socket would otherwise make the server hold
//!   every reply (about 1 MB per getData of a 1 MB node) until it runs out of memory. While a
//!   connection's queued reply bytes are over [`ReplyBudget::max_queued_bytes`], the peer task
//!   executes no further reads of that connection (they wait in its queue) and the connection
//!   reads no further requests until the writer reports that it drained below the budget.
//!   (ZooKeeper stops reading a connection too, `disableRecv`, but only by the count of
//!   requests outstanding; its outgoing queue itself is not bounded in bytes.)
//! * **Requests in flight** (read from the socket, not answered yet): at most
//!   [`MAX_REQUESTS_IN_FLIGHT`] and [`ReplyBudget::max_request_bytes`]; past that the
//!   connection stops reading until replies go out.
//! * **Reply size**: a reply the server would build above `jute.maxbuffer` (plus
//!   [`REPLY_HEADROOM_BYTES`]) is answered BadArguments instead, before it is built: a
//!   multiRead of 500 getData of a 1 MB node stops at the second. ZooKeeper's clients refuse
//!   such packets anyway ("Packet len is out of range") and lose their connection.
//! * **Auth ids**: at most [`MAX_AUTH_IDS`] per connection, each at most
//!   [`MAX_AUTH_ID_BYTES`]; past that addAuth fails with AuthFailed and the connection closes
//!   (what ZooKeeper does when an auth packet fails).
//! * **Transaction size**: every write carries the connection's auth ids into its transaction.
//!   A transaction whose record is above `jute.maxbuffer` is answered BadArguments and never
//!   proposed, so no client input can build a PROPOSAL (or forwarded REQUEST) that the other
//!   servers' quorum readers refuse (which would cost the leader its quorum).

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

pub use zablab_core::session::{
    read_response_bytes, reply_bytes, MAX_AUTH_IDS, MAX_AUTH_ID_BYTES, REPLY_HEADROOM_BYTES,
};

/// Requests read from one connection and not answered yet, at most.
pub const MAX_REQUESTS_IN_FLIGHT: usize = 1000;

/// The byte and request accounting of one client connection, shared by its reader, its writer
/// and the peer task. All counters are approximate wire sizes; what matters is that the same
/// estimate is added and later subtracted.
#[derive(Debug)]
pub struct ReplyBudget {
    queued_bytes: AtomicUsize,
    requests_in_flight: AtomicUsize,
    request_bytes_in_flight: AtomicUsize,
    /// Over this many queued reply bytes, reads wait and the socket is not read.
    pub max_queued_bytes: usize,
    /// Over this many request bytes in flight, the socket is not read.
    pub max_request_bytes: usize,
    changed: Notify,
}

impl ReplyBudget {
    /// A budget for a server whose `jute.maxbuffer` is `max_buffer_bytes`: two replies and two
    /// requests of the largest size may be outstanding.
    pub fn new(max_buffer_bytes: usize) -> ReplyBudget {
        ReplyBudget {
            queued_bytes: AtomicUsize::new(0),
            requests_in_flight: AtomicUsize::new(0),
            request_bytes_in_flight: AtomicUsize::new(0),
            max_queued_bytes: 2 * max_buffer_bytes,
            max_request_bytes: 2 * max_buffer_bytes,
            changed: Notify::new(),
        }
    }

    /// Reply bytes queued and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::Acquire)
    }

    /// True while the peer task must not execute more reads for this connection.
    pub fn over(&self) -> bool {
        self.queued_bytes() > self.max_queued_bytes
    }

    /// The peer task queued a reply of `bytes`.
    pub fn queued(&self, bytes: usize) {
        self.queued_bytes.fetch_add(bytes, Ordering::AcqRel);
    }

    /// The writer wrote a reply of `bytes`. True when this brought the queue from over the
    /// budget to within it (the peer task should resume this connection's reads).
    pub fn written(&self, bytes: usize) -> bool {
        let before = self
            .queued_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(bytes))
            })
            .unwrap_or(0);
        self.changed.notify_waiters();
        before > self.max_queued_bytes && before.saturating_sub(bytes) <= self.max_queued_bytes
    }

    /// The reader passed a request of `bytes` to the peer task.
    pub fn request_read(&self, bytes: usize) {
        self.requests_in_flight.fetch_add(1, Ordering::AcqRel);
        self.request_bytes_in_flight
            .fetch_add(bytes, Ordering::AcqRel);
    }

    /// The peer task answered (or dropped) a request of `bytes`.
    pub fn request_done(&self, bytes: usize) {
        let sub = |n: usize, by: usize| Some(n.saturating_sub(by));
        let _ = self
            .requests_in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| sub(n, 1));
        let _ =
            self.request_bytes_in_flight
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| sub(n, bytes));
        self.changed.notify_waiters();
    }

    /// True when the connection may read its next request.
    pub fn may_read(&self) -> bool {
        !self.over()
            && self.requests_in_flight.load(Ordering::Acquire) < MAX_REQUESTS_IN_FLIGHT
            && self.request_bytes_in_flight.load(Ordering::Acquire) <= self.max_request_bytes
    }

    /// Waits until [`may_read`](Self::may_read).
    pub async fn wait_until_may_read(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.may_read() {
                return;
            }
            changed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_blocks_reads_while_over_and_reports_the_drain_that_ends_it() {
        let b = ReplyBudget::new(100);
        assert!(b.may_read());
        b.queued(150);
        assert!(!b.over() && b.may_read());
        b.queued(100);
        assert!(b.over() && !b.may_read());
        assert!(!b.written(30), "still over: 220 > 200");
        assert!(b.written(30), "crossed back to 190");
        assert!(!b.written(500), "already within; saturates at 0");
        assert_eq!(b.queued_bytes(), 0);
    }

    #[test]
    fn requests_in_flight_stop_reading_by_count_and_by_bytes() {
        let b = ReplyBudget::new(100);
        b.request_read(201);
        assert!(!b.may_read(), "request bytes over 2 × maxbuffer");
        b.request_done(201);
        assert!(b.may_read());
        for _ in 0..MAX_REQUESTS_IN_FLIGHT {
            b.request_read(0);
        }
        assert!(!b.may_read());
        b.request_done(0);
        assert!(b.may_read());
    }
}
