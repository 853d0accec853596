//! [`GraphIndex`]: how a node names its graph, in two bytes.
//!
//! Every node needs its graph (to schedule on its pool, to time itself, to
//! report to the finish hook), and a pending node's size class is the memory
//! a pending task costs (see `node.rs`): a `&'static GraphShared` would take
//! 8 bytes of it. A graph's shared state lives for the rest of the process
//! (see [`TaskGraph`](crate::TaskGraph)), so it can have a slot in a
//! process-wide table that is never reused, and a node keeps the slot's
//! number. Reading the graph back costs one load from the table.
//!
//! The table has room for [`MAX_GRAPHS`] graphs in a process; making one
//! more is refused with [`TooManyGraphs`]. A process makes one graph per
//! pool, and each graph keeps its pool's threads, so the limit is far past
//! what a process can run.

use std::fmt;
use std::num::NonZeroU16;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use crate::graph::GraphShared;

/// How many graphs a process can make.
pub const MAX_GRAPHS: usize = u16::MAX as usize;

/// Slot `i` holds the graph of index `i` (slot 0 stays empty: indices are
/// non-zero, so `Option<GraphIndex>` takes no more room). 512 KiB of zeroed
/// static memory, of which only the pages of slots in use are ever touched.
static GRAPHS: [AtomicPtr<GraphShared>; MAX_GRAPHS + 1] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MAX_GRAPHS + 1];

/// The next index to hand out.
static NEXT_INDEX: AtomicU32 = AtomicU32::new(1);

/// A graph's slot in the process-wide table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GraphIndex(NonZeroU16);

/// A process made [`MAX_GRAPHS`] graphs already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooManyGraphs;

impl fmt::Display for TooManyGraphs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a process can make at most {MAX_GRAPHS} task graphs (each lives until the process \
             exits): make one per pool, not one per computation"
        )
    }
}

impl std::error::Error for TooManyGraphs {}

impl GraphIndex {
    /// A new index, whose slot is still empty: [`GraphIndex::publish`] fills
    /// it with the graph made with this index.
    pub(crate) fn reserve() -> Result<GraphIndex, TooManyGraphs> {
        take_index(&NEXT_INDEX).map(GraphIndex)
    }

    /// Puts `graph` in this index's slot. Called once per index, before
    /// any node of the graph exists (so before any [`GraphIndex::graph`]).
    pub(crate) fn publish(self, graph: &'static GraphShared) {
        let previous = GRAPHS[self.slot()].swap(ptr::from_ref(graph).cast_mut(), Ordering::Release);
        assert!(previous.is_null(), "graph index {} published twice", self.0);
    }

    /// The graph of this index.
    #[inline]
    pub(crate) fn graph(self) -> &'static GraphShared {
        // `Acquire`, paired with `publish`'s `Release`, makes the graph's
        // fields visible even to a thread that learned the index without
        // any other synchronization.
        let graph = NonNull::new(GRAPHS[self.slot()].load(Ordering::Acquire))
            .expect("a graph index is used only after its graph is published");
        // SAFETY: `publish` stored a `&'static GraphShared`, and slots are
        // never cleared or reused.
        unsafe { graph.as_ref() }
    }

    fn slot(self) -> usize {
        usize::from(self.0.get())
    }
}

/// Takes the next index from `next`, unless it ran out; `next` stays at
/// `MAX_GRAPHS + 1` once it does, however often it is asked again.
fn take_index(next: &AtomicU32) -> Result<NonZeroU16, TooManyGraphs> {
    let taken = next
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |i| {
            (i as usize <= MAX_GRAPHS).then_some(i + 1)
        })
        .map_err(|_| TooManyGraphs)?;
    let index = u16::try_from(taken).expect("indices stop at MAX_GRAPHS");
    Ok(NonZeroU16::new(index).expect("indices start at 1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_two_bytes() {
        assert_eq!(size_of::<GraphIndex>(), 2);
        assert_eq!(size_of::<Option<GraphIndex>>(), 2);
    }

    #[test]
    fn hands_out_every_index_once_then_refuses_with_a_clear_error() {
        let next = AtomicU32::new(MAX_GRAPHS as u32 - 1);
        assert_eq!(take_index(&next).map(NonZeroU16::get), Ok(u16::MAX - 1));
        assert_eq!(take_index(&next).map(NonZeroU16::get), Ok(u16::MAX));
        for _ in 0..3 {
            let err = take_index(&next).unwrap_err();
            assert!(
                err.to_string().contains("at most 65535 task graphs"),
                "{err}"
            );
        }
        assert_eq!(next.load(Ordering::Relaxed), MAX_GRAPHS as u32 + 1);
        let first = AtomicU32::new(1);
        assert_eq!(take_index(&first).map(NonZeroU16::get), Ok(1));
    }
}
