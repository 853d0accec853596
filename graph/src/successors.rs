//! A node's successor list: dependents, waiters and callbacks to notify when
//! it finishes. Closed (and emptied) exactly once, by the completion walk;
//! anyone adding to a closed list gets its entry back and acts at once.

use std::sync::Arc;

use hpyx_engine::Latch;

use crate::node::GraphNode;

/// Something to notify when a node finishes.
pub(crate) enum Successor {
    /// A dependent node, and which of its inputs this node is.
    Node { node: Arc<dyn GraphNode>, input_index: usize },
    /// A waiting thread.
    Latch(Arc<Latch>),
    /// A completion callback (runs on the thread that completes the node).
    Callback(Box<dyn FnOnce() + Send>),
}

pub(crate) struct SuccessorList {
    closed: bool,
    list: Vec<Successor>,
}

impl SuccessorList {
    pub(crate) fn new(closed: bool) -> SuccessorList {
        SuccessorList { closed, list: Vec::new() }
    }

    pub(crate) fn push(&mut self, successor: Successor) -> Result<(), Successor> {
        if self.closed {
            Err(successor)
        } else {
            self.list.push(successor);
            Ok(())
        }
    }

    pub(crate) fn close(&mut self) -> Vec<Successor> {
        self.closed = true;
        std::mem::take(&mut self.list)
    }

    /// The dependent nodes still listed (for iterative dropping).
    pub(crate) fn take_nodes(&mut self) -> Vec<Arc<dyn GraphNode>> {
        std::mem::take(&mut self.list)
            .into_iter()
            .filter_map(|s| match s {
                Successor::Node { node, .. } => Some(node),
                _ => None,
            })
            .collect()
    }
}
