//! Iterative dropping of node references.
//!
//! Dropping the last reference to a node drops its input references, which
//! may drop *their* inputs, and so on: a 100,000-long chain would recurse
//! 100,000 frames deep. Instead, a node's `Drop` hands its references to
//! this thread's queue; only the outermost drop drains it, in a loop.
//!
//! The queue keeps its buffer between calls, so the common case (a few
//! references, nothing queued) allocates nothing.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use crate::node::GraphNode;

/// Capacity kept by an idle queue; a larger buffer (left by a huge graph) is
/// shrunk back to this after draining.
const KEEP_CAPACITY: usize = 1024;

struct DropQueue {
    /// True while an outer call on this thread is draining.
    draining: Cell<bool>,
    queue: RefCell<Vec<Arc<dyn GraphNode>>>,
}

thread_local! {
    static QUEUE: DropQueue = const {
        DropQueue { draining: Cell::new(false), queue: RefCell::new(Vec::new()) }
    };
}

/// Drops `nodes` without recursing into their inputs' drops.
#[inline]
pub(crate) fn drop_iteratively(nodes: impl IntoIterator<Item = Arc<dyn GraphNode>>) {
    match QUEUE.try_with(|q| q.draining.replace(true)) {
        // An outer call is draining: leave the work to it. Push one at a
        // time, so no borrow of the queue is held while the caller's
        // iterator runs.
        Ok(true) => {
            for node in nodes {
                QUEUE.with(|q| q.queue.borrow_mut().push(node));
            }
        }
        Ok(false) => drain(nodes),
        // The thread-local is gone (thread exit): plain drop, whatever
        // depth it takes; there is no better place left.
        Err(_) => drop(nodes.into_iter()),
    }
}

/// The outermost call: drop `nodes` (their own drops queue their inputs),
/// then whatever got queued, until nothing is left.
fn drain(nodes: impl IntoIterator<Item = Arc<dyn GraphNode>>) {
    /// Ends the draining even if a drop panics; what is still queued is
    /// dropped by the next outermost call on this thread.
    struct Draining;
    impl Drop for Draining {
        fn drop(&mut self) {
            let _ = QUEUE.try_with(|q| {
                q.draining.set(false);
                if let Ok(mut queue) = q.queue.try_borrow_mut() {
                    if queue.is_empty() && queue.capacity() > KEEP_CAPACITY {
                        queue.shrink_to(KEEP_CAPACITY);
                    }
                }
            });
        }
    }
    let _draining = Draining;
    for node in nodes {
        drop(node);
    }
    loop {
        let next = QUEUE.with(|q| q.queue.borrow_mut().pop());
        match next {
            Some(node) => drop(node),
            None => break,
        }
    }
}
