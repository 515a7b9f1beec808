//! Bytes and values, in both directions, with no IO: ZooKeeper's jute encoding, the election
//! and quorum ports' layouts, the client wire protocol, and the codecs a replicated machine
//! provides. Nothing here opens a socket or a file; `server/` and `tools/` move the bytes.
//!
//! | module | concern |
//! |---|---|
//! | [`jute`] | ZooKeeper's binary encoding, Adler-32 |
//! | [`java_text`] | values as Java prints them (`Date.toString`) |
//! | [`wire`] | byte layouts of election notifications and quorum packets |
//! | [`proto`] | ZooKeeper's client wire protocol: frames, records, opcodes (both directions) |
//! | [`machine`] | [`machine::NodeMachine`]: codecs and numbers a replicated machine provides |
//! | [`tree_machine`] | [`machine::NodeMachine`] for the data tree: txn and request records, snapshots |
//! | [`txn`] | ZooKeeper's transaction records (CreateTxn, SetDataTxn, ErrorTxn, MultiTxn, ...) |
//! | [`zk_files`] | Apache ZooKeeper 3.8's `log.*` and `snapshot.*` files |
//! | [`http`] | HTTP/1.1 request heads and responses (operator ports, the lab's control API) |
//! | [`websocket`] | RFC 6455's opening handshake and text frames (the trace stream to a browser) |

pub mod http;
pub mod java_text;
pub mod jute;
pub mod machine;
pub mod proto;
pub mod tree_machine;
pub mod txn;
pub mod websocket;
pub mod wire;
pub mod zk_files;
