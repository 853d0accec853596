//! A node's successor list: dependents, waiters and callbacks to notify when
//! it finishes. Closed (and emptied) exactly once, by the completion walk;
//! anyone adding to a closed list gets its entry back and acts at once.
//!
//! The first two entries live inside the node: most nodes have that few (a
//! dependent, a waiter or a callback), so adding an edge allocates nothing.
//! Two, not three, and "closed" is a variant rather than a flag beside the
//! list: the list then takes 48 bytes instead of 80, which is what lets a
//! pending node fit a smaller allocator size class (see `node.rs`).

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

/// The entries, or the mark that the node finished. Each inline length is
/// its own variant (safe code only); `Closed` costs no space, as it takes a
/// spare value of the entries' own tag.
#[derive(Default)]
pub(crate) enum SuccessorList {
    #[default]
    Empty,
    One(Successor),
    Two([Successor; 2]),
    Many(Vec<Successor>),
    /// The node finished: nothing is added any more.
    Closed,
}

impl SuccessorList {
    pub(crate) fn new(closed: bool) -> SuccessorList {
        if closed {
            SuccessorList::Closed
        } else {
            SuccessorList::Empty
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, successor: Successor) -> Result<(), Successor> {
        *self = match std::mem::take(self) {
            SuccessorList::Empty => SuccessorList::One(successor),
            SuccessorList::One(a) => SuccessorList::Two([a, successor]),
            SuccessorList::Two([a, b]) => {
                let mut v = Vec::with_capacity(4);
                v.extend([a, b, successor]);
                SuccessorList::Many(v)
            }
            SuccessorList::Many(mut v) => {
                v.push(successor);
                SuccessorList::Many(v)
            }
            SuccessorList::Closed => {
                *self = SuccessorList::Closed;
                return Err(successor);
            }
        };
        Ok(())
    }

    /// Marks the list closed and takes the entries.
    #[inline]
    pub(crate) fn close(&mut self) -> SmallList<Successor> {
        match std::mem::replace(self, SuccessorList::Closed) {
            SuccessorList::Empty | SuccessorList::Closed => SmallList::Empty,
            SuccessorList::One(a) => SmallList::One([a]),
            SuccessorList::Two(a) => SmallList::Two(a),
            SuccessorList::Many(v) => SmallList::Many(v),
        }
    }

    /// True if no entry is listed (also when closed).
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, SuccessorList::Empty | SuccessorList::Closed)
    }

    /// Closes the list and takes the dependent nodes still listed (for
    /// iterative dropping).
    pub(crate) fn take_nodes(&mut self) -> SmallList<Arc<dyn GraphNode>> {
        self.close()
            .into_iter()
            .filter_map(|s| match s {
                Successor::Node { node, .. } => Some(node),
                _ => None,
            })
            .collect()
    }
}
