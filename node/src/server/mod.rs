//! `zablab server`: the host around [`zablab_core::Peer`] that moves bytes, runs timers and
//! fsyncs. The peer task ([`runtime`]) owns the peer; the ports feed it events and read what it
//! publishes ([`shared`]).
//!
//! | module | concern |
//! |---|---|
//! | [`runtime`] | the peer task: executes outputs, feeds inputs |
//! | [`shared`] | what the peer task publishes to the ports: status, connections, counters |
//! | [`election`] | election port: handshake, larger-sid rule, notifications |
//! | [`quorum`] | quorum port: leader listens, learners dial, QuorumPacket streams |
//! | [`admission`] | handshake slots per address on the quorum and election ports |
//! | [`storage`] | transaction log, snapshots, epoch files, group-commit writer, recovery |
//! | [`sessions`] | the core's client-session layer on the peer task: reply channels, byte budgets |
//! | [`client`] | client port: accept, four-letter word or client session, `maxClientCnxns` |
//! | [`client_conn`] | one client connection: frames in, replies out, byte budgets |
//! | [`connections`] | open connections and their request statistics |
//! | [`fourlw`] | `ruok srvr stat mntr conf envi isro …` output |
//! | [`metrics`] | ZooKeeper's `ServerMetrics` counters and summaries |
//! | [`monitor`] | the metric catalogue behind `mntr`, `monitor` and `/metrics` |
//! | [`prometheus`] | `/metrics` in Prometheus' text format |
//! | [`admin`] | the AdminServer: ZooKeeper's JSON commands over HTTP |
//! | [`http`] | the bounded HTTP/1.1 responder of the metrics and admin ports |
//! | [`trace`] | `--trace-addr` JSON-lines stream |
//! | [`fault`] | `--fault-addr`: test-only, loopback-only hook that cuts links (chaos tests) |

pub mod admin;
pub mod admission;
pub mod client;
pub mod client_conn;
pub mod connections;
pub mod election;
pub mod fault;
pub mod fourlw;
pub mod http;
pub mod metrics;
pub mod monitor;
pub mod prometheus;
pub mod quorum;
pub mod runtime;
pub mod sessions;
pub mod shared;
pub mod storage;
pub mod trace;
