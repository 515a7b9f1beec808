//! ZooKeeper's classic recipes run as simulated scenarios: several clients, each connected to
//! a different server of a 3- or 5-server ensemble replicating the data tree, coordinate
//! through znodes and watches exactly as the recipes describe, and every scenario ends with
//! all replicas holding the same tree.

mod election;
mod locks;
mod naming_and_config;
mod queue_barrier_group;
mod support;
