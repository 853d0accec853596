//! Iterative dropping of node references.
//!
//! Dropping the last reference to a node drops its input references, which
//! may drop *their* inputs, and so on: a 100,000-long chain would recurse
//! 100,000 frames deep. Instead, a node's `Drop` hands its references to
//! this thread's queue; only the outermost drop drains it, in a loop.

use std::cell::RefCell;
use std::sync::Arc;

use crate::node::GraphNode;

thread_local! {
    static QUEUE: RefCell<Option<Vec<Arc<dyn GraphNode>>>> = const { RefCell::new(None) };
}

/// Drops `nodes` without recursing into their inputs' drops.
pub(crate) fn drop_iteratively(nodes: impl IntoIterator<Item = Arc<dyn GraphNode>>) {
    let draining = QUEUE.try_with(|q| {
        let mut q = q.borrow_mut();
        match q.as_mut() {
            // An outer call is draining: leave the work to it.
            Some(queue) => {
                queue.extend(nodes);
                None
            }
            None => {
                *q = Some(nodes.into_iter().collect());
                Some(())
            }
        }
    });
    match draining {
        Ok(Some(())) => {
            loop {
                let next = QUEUE.with(|q| q.borrow_mut().as_mut().and_then(Vec::pop));
                match next {
                    Some(node) => drop(node),
                    None => break,
                }
            }
            QUEUE.with(|q| *q.borrow_mut() = None);
        }
        Ok(None) => {}
        // The thread-local is gone (thread exit): plain drop, whatever
        // depth it takes; there is no better place left.
        Err(_) => {}
    }
}
