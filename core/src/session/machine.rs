//! [`ClientMachine`]: what serving ZooKeeper clients needs from a replicated state machine.
//! Only the ZooKeeper data tree serves clients; any other machine (the core's test machine)
//! refuses them, and the session layer closes their connections.

use crate::machine::{ChainMachine, StateMachine};
use crate::tree::{DataTree, Txn, WriteOutcome};

pub trait ClientMachine: StateMachine {
    fn tree(&self) -> Option<&DataTree> {
        None
    }
    fn tree_mut(&mut self) -> Option<&mut DataTree> {
        None
    }
    /// A client write as this machine's transaction.
    fn txn_from_tree(_txn: Txn) -> Option<Self::Txn> {
        None
    }
    /// A transaction's outcome as the data tree's.
    fn outcome_as_tree(_outcome: &Self::Outcome) -> Option<&WriteOutcome> {
        None
    }
}

impl ClientMachine for ChainMachine {}

impl ClientMachine for DataTree {
    fn tree(&self) -> Option<&DataTree> {
        Some(self)
    }
    fn tree_mut(&mut self) -> Option<&mut DataTree> {
        Some(self)
    }
    fn txn_from_tree(txn: Txn) -> Option<Txn> {
        Some(txn)
    }
    fn outcome_as_tree(outcome: &WriteOutcome) -> Option<&WriteOutcome> {
        Some(outcome)
    }
}
