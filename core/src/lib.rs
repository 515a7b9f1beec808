//! # zablab-core
//!
//! ZooKeeper's atomic broadcast (ZAB 1.0 as Apache ZooKeeper 3.8 implements it) and its
//! FastLeaderElection, written as a deterministic, sans-IO state machine ([`Peer`]), plus the
//! ZooKeeper data tree as the replicated state machine and a seeded cluster simulator
//! ([`sim`]) with the invariants of ZooKeeper's TLA+ specifications.
//!
//! The crate is `no_std` + `alloc`: it never reads a clock, a socket, a file or an OS random
//! source. The host (the browser lab, the native node, the tests) passes time in, executes the
//! [`Output`]s a peer returns, and answers durability requests with [`Input::Persisted`].
//! Above the peer, [`session`] is the server side of ZooKeeper client sessions that every host
//! (the node, the simulator's clients, the browser) runs.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod config;
pub mod durable;
pub mod election;
pub mod lesson;
pub mod machine;
pub mod message;
pub mod mutation;
pub mod peer;
pub mod reconfig;
pub mod rng;
pub mod session;
pub mod sim;
pub mod time;
pub mod trace;
pub mod tree;
pub mod zab;
pub mod zxid;

pub use config::{Ensemble, LearnerType, PeerConfig, Timing};
pub use durable::{DurableState, LogEntry, PersistOp};
pub use machine::{StateMachine, TxnContext};
pub use message::{Message, Notification, PeerState, Vote};
pub use peer::{Input, Output, Peer, RequestTag};
pub use time::Instant;
pub use trace::TraceEvent;
pub use zxid::{Epoch, Sid, Zxid};
