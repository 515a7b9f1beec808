//! The simulator benchmark's workload, shared by the native `sim_bench` example and the browser
//! lab's `?bench=sim` page so both measure exactly the same thing: five servers replicating
//! the chain machine, 64 client writes kept in flight, spread over all servers, no faults.

use alloc::vec::Vec;

use crate::durable::RequestTag;
use crate::machine::ChainMachine;
use crate::sim::{Action, ClientResult, Cluster, SimConfig};
use crate::time::Instant;

/// Writes kept in flight.
pub const INFLIGHT: usize = 64;
/// Events processed per round between top-ups.
pub const EVENTS_PER_ROUND: usize = 2000;

/// A steady write load on a 5-server cluster.
pub struct SteadyWrites {
    cluster: Cluster<ChainMachine>,
    next_id: u64,
    inflight: Vec<RequestTag>,
    /// Writes submitted so far.
    pub writes: u64,
}

impl SteadyWrites {
    /// Elects a leader first; `None` if none is elected within 20 s of virtual time. `check`
    /// runs the invariant checker on every event (the trace is hashed, never kept).
    pub fn new(check: bool) -> Option<SteadyWrites> {
        let config = SimConfig {
            participants: 5,
            snap_count: 10_000,
            ..SimConfig::default()
        };
        let mut cluster = Cluster::for_benchmark(config, 42, check);
        if !cluster.run_until_pred(Instant(20_000), |c| c.is_stable()) {
            return None;
        }
        Some(SteadyWrites {
            cluster,
            next_id: 0,
            inflight: Vec::new(),
            writes: 0,
        })
    }

    /// Tops the writes in flight back up and processes a batch of events.
    pub fn round(&mut self) {
        let c = &mut self.cluster;
        self.inflight
            .retain(|tag| matches!(c.request(*tag), Some(ClientResult::Pending)));
        while self.inflight.len() < INFLIGHT {
            self.next_id += 1;
            let server = 1 + self.next_id % 5;
            if let Some(tag) = c.act(Action::Write {
                server,
                txn: self.next_id,
            }) {
                self.inflight.push(tag);
                self.writes += 1;
            }
        }
        for _ in 0..EVENTS_PER_ROUND {
            c.step();
        }
    }

    /// Messages delivered so far.
    pub fn deliveries(&self) -> u64 {
        self.cluster.deliveries()
    }

    pub fn cluster(&self) -> &Cluster<ChainMachine> {
        &self.cluster
    }
}
