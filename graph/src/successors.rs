//! A node's successor list: dependents, waiters and callbacks to notify when
//! it finishes. Closed (and emptied) exactly once, by the completion walk;
//! anyone adding to a closed list gets its entry back and acts at once.
//!
//! The first entry lives inside the node: most nodes have one (a dependent,
//! a waiter or a callback), so adding that edge allocates nothing. One, not
//! two or three; "closed" is a variant rather than a flag beside the list;
//! and a second entry moves the list to the heap behind a thin pointer (a
//! `Vec` in a box), which fits beside the entry's tag: the list then takes
//! 24 bytes, one entry's size, where an inline `Vec` makes it 32. A pending
//! node is mostly this list and its input side (see `node.rs`).

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

/// The entries, or the mark that the node finished (safe code only):
/// `Empty`, `Closed` and `Many` take spare values of the entry's tag, and
/// `Many`'s box lies beside it.
#[derive(Default)]
pub(crate) enum SuccessorList {
    #[default]
    Empty,
    One(Successor),
    #[allow(
        clippy::box_collection,
        reason = "the box is a thin pointer, which fits beside One's tag; a Vec does not"
    )]
    Many(Box<Vec<Successor>>),
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
            SuccessorList::One(a) => {
                // Two is the common case past one (a dependent and a
                // waiter): room for just that, growing by doubling after.
                let mut v = Vec::with_capacity(2);
                v.extend([a, successor]);
                SuccessorList::Many(Box::new(v))
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
            SuccessorList::Many(v) => SmallList::Many(*v),
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The list is the size of its one inline entry (see `node.rs` for
    /// what a byte more costs).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn the_list_is_one_entry() {
        assert_eq!(size_of::<Successor>(), 24);
        assert_eq!(size_of::<SuccessorList>(), 24);
    }

    #[test]
    fn keeps_entries_in_order_and_refuses_after_close() {
        let mut list = SuccessorList::new(false);
        assert!(list.is_empty());
        let latches: Vec<_> = (0..5).map(|_| Arc::new(Latch::new())).collect();
        for latch in &latches {
            assert!(list.push(Successor::Latch(latch.clone())).is_ok());
            assert!(!list.is_empty());
        }
        let taken: Vec<_> = list.close().into_iter().collect();
        assert_eq!(taken.len(), latches.len());
        for (entry, latch) in taken.iter().zip(&latches) {
            assert!(matches!(entry, Successor::Latch(l) if Arc::ptr_eq(l, latch)));
        }
        assert!(list.is_empty());
        let refused = list.push(Successor::Latch(latches[0].clone()));
        assert!(matches!(refused, Err(Successor::Latch(_))));
        assert!(list.close().into_iter().next().is_none());
    }
}
