//! Admission on the server-to-server ports (quorum, election): how many connections from one
//! address may be in their handshake at once. Until a connection has named its server (the
//! election handshake, the quorum port's FOLLOWERINFO/OBSERVERINFO) it is a stranger; strangers
//! get a slot here, a small read bound ([`crate::server::quorum`], [`crate::server::election`]) and a timeout.
//! A flood of strangers from one address then costs at most [`MAX_HANDSHAKES_PER_IP`] slots of
//! a few KiB each, and connections past that are closed at once.
//!
//! Servers of an ensemble on one host share an address (127.0.0.1 in `zablab cluster`), so the
//! per-address bound is well above what an ensemble needs at once (each peer dials once, pokes
//! at most once more per election round).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Connections from one address in their handshake, at most.
pub const MAX_HANDSHAKES_PER_IP: usize = 16;
/// Connections in their handshake from all addresses, at most.
pub const MAX_HANDSHAKES_TOTAL: usize = 256;

/// Handshake slots of one listening port.
#[derive(Debug, Default)]
pub struct HandshakeSlots {
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// A slot; released when dropped (the handshake ended, either way).
#[derive(Debug)]
pub struct Slot {
    slots: Arc<HandshakeSlots>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut m) = self.slots.per_ip.lock() {
            if let Some(n) = m.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.remove(&self.ip);
                }
            }
        }
    }
}

impl HandshakeSlots {
    pub fn new() -> Arc<HandshakeSlots> {
        Arc::new(HandshakeSlots::default())
    }

    /// A slot for a new connection from `ip`, or None when its address (or the port) is full.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut m = self.per_ip.lock().ok()?;
        let total: usize = m.values().sum();
        let n = m.entry(ip).or_insert(0);
        if *n >= MAX_HANDSHAKES_PER_IP || total >= MAX_HANDSHAKES_TOTAL {
            return None;
        }
        *n += 1;
        Some(Slot {
            slots: self.clone(),
            ip,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_at_most_its_share_and_slots_come_back_when_dropped() {
        let slots = HandshakeSlots::new();
        let a: IpAddr = "127.0.0.2".parse().expect("ip");
        let b: IpAddr = "127.0.0.3".parse().expect("ip");
        let held: Vec<Slot> = (0..MAX_HANDSHAKES_PER_IP)
            .map(|_| slots.admit(a).expect("within the bound"))
            .collect();
        assert!(slots.admit(a).is_none(), "one over the per-address bound");
        assert!(slots.admit(b).is_some(), "another address is not affected");
        drop(held);
        assert!(slots.admit(a).is_some(), "released on drop");
    }
}
