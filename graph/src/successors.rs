//! A node's successor list: dependents, waiters and callbacks to notify when
//! it finishes. Closed (and emptied) exactly once, by the completion walk;
//! anyone adding to a closed list gets its entry back and acts at once.
//!
//! The first three entries live inside the node (`SmallList`): most nodes
//! have that few, so adding an edge allocates nothing.

use std::sync::Arc;

use hpyx_engine::Latch;

use crate::node::GraphNode;
use crate::small::SmallList;

/// Something to notify when a node finishes.
pub(crate) enum Successor {
    /// A dependent node, and which of its inputs this node is.
    Node {
        node: Arc<dyn GraphNode>,
        input_index: u32,
    },
    /// A waiting thread.
    Latch(Arc<Latch>),
    /// A completion callback (runs on the thread that completes the node).
    Callback(Box<dyn FnOnce() + Send>),
}

pub(crate) struct SuccessorList {
    closed: bool,
    list: SmallList<Successor>,
}

impl SuccessorList {
    pub(crate) fn new(closed: bool) -> SuccessorList {
        SuccessorList {
            closed,
            list: SmallList::new(),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, successor: Successor) -> Result<(), Successor> {
        if self.closed {
            Err(successor)
        } else {
            self.list.push(successor);
            Ok(())
        }
    }

    #[inline]
    pub(crate) fn close(&mut self) -> SmallList<Successor> {
        self.closed = true;
        std::mem::take(&mut self.list)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The dependent nodes still listed (for iterative dropping).
    pub(crate) fn take_nodes(&mut self) -> SmallList<Arc<dyn GraphNode>> {
        std::mem::take(&mut self.list)
            .into_iter()
            .filter_map(|s| match s {
                Successor::Node { node, .. } => Some(node),
                _ => None,
            })
            .collect()
    }
}
