//! The client-side commands of the `zablab` binary, each over the ZooKeeper wire protocol or
//! the four-letter words, never inside a server.
//!
//! | module | concern |
//! |---|---|
//! | [`zkclient`] | an async ZooKeeper client over [`crate::codec::proto`] (cli, bench, tests) |
//! | [`cli_shell`] | `zablab cli`: a zkCli-like shell and one-shot commands |
//! | [`bench`] | `zablab bench`: a load generator over the wire protocol |
//! | [`bench_plot`] | `zablab bench-plot`: a curve of bench/compare.sh as a table and an SVG |
//! | [`cluster`] | `zablab cluster` and `zablab status`; `--live`/`--control`: the live lab's control API (kill, restart, wipe, cut, write, read) |
//! | [`lesson_cmd`] | `zablab lesson`: a lesson run in the terminal |

pub mod bench;
pub mod bench_plot;
pub mod cli_shell;
pub mod cluster;
pub mod lesson_cmd;
pub mod zkclient;
