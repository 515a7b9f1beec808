//! # zablab-fuzz-harness
//!
//! The body of every fuzz target (issue 10 item 9), one function per target, taking the bytes
//! libFuzzer generates. The cargo-fuzz crate in `fuzz/` (nightly, libFuzzer) calls them from its
//! `fuzz_target!`s; `tests/corpus_replay.rs` (stable `cargo test`) feeds them every file of the
//! checked-in regression corpora in `fuzz/regressions/<target>/`. Keeping the bodies here means
//! CI replays exactly what the fuzzer ran, without a nightly toolchain.
//!
//! Each function drives the same entry point the server uses on bytes from a socket or a file
//! and panics only when that entry point panics (or, for [`peer::peer`], when a core
//! `debug_assert` or a checked invariant fails).
//!
//! | target | entry point | bytes from |
//! |---|---|---|
//! | `client_connect` | [`zablab_node::codec::proto::ConnectRequest::decode`] | client port, first frame |
//! | `client_request` | [`zablab_node::codec::proto::decode_request`] (header + every body) | client port |
//! | `client_reply` | `ConnectResponse::decode`, `decode_reply`, `WatcherEvent::read` | a server (zkclient) |
//! | `election` | `election::read_handshake` then `election::read_frames` | election port |
//! | `quorum_packet` | [`zablab_node::codec::wire::decode_quorum`] over a stream | quorum port |
//! | `zoo_cfg` | `NodeConfig::parse` + `validate` + `peer_config` | zoo.cfg |
//! | `txn_log` | `storage::read_log_bytes` (`zk_files::txn_log`: ZooKeeper's records) | `log.<zxid>` files |
//! | `snapshot` | `Store::decode_snapshot` (`zk_files::snapshot`) + `DataTree::read_snapshot` | `snapshot.<zxid>` files, SNAP bodies |
//! | `peer` | [`zablab_core::Peer::step`] on an [`arbitrary`] script | (structure-aware) |
#![forbid(unsafe_code)]

pub mod decoders;
pub mod peer;
pub mod seeds;

/// A target's body: one input, run to the end; a panic is a finding.
pub type Target = fn(&[u8]);

/// Every target's name and body, for the corpus replay.
pub const TARGETS: &[(&str, Target)] = &[
    ("client_connect", decoders::client_connect),
    ("client_request", decoders::client_request),
    ("client_reply", decoders::client_reply),
    ("election", decoders::election),
    ("quorum_packet", decoders::quorum_packet),
    ("zoo_cfg", decoders::zoo_cfg),
    ("txn_log", decoders::txn_log),
    ("snapshot", decoders::snapshot),
    ("peer", peer::peer),
];
