//! [`ClientMachine`]: what serving ZooKeeper clients needs from a replicated state machine.
//! Only the ZooKeeper data tree serves clients; any other machine (the core's test machine)
//! refuses them, and the session layer closes their connections.

use crate::machine::{ChainMachine, StateMachine};
use crate::tree::{DataTree, Request, WriteOutcome};

pub trait ClientMachine: StateMachine {
    fn tree(&self) -> Option<&DataTree> {
        None
    }
    fn tree_mut(&mut self) -> Option<&mut DataTree> {
        None
    }
    /// A client write as this machine's request.
    fn request_from_tree(_request: Request) -> Option<Self::Request> {
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
    fn request_from_tree(request: Request) -> Option<Request> {
        Some(request)
    }
    fn outcome_as_tree(outcome: &WriteOutcome) -> Option<&WriteOutcome> {
        Some(outcome)
    }
}
