//! What the graph's tests share beyond `hpyx-testkit`: a graph on a pool of
//! its own that is shut down when the test is done with it, and waits on
//! futures and nodes bounded by the testkit's timeout.
//!
//! The cross-crate tests use this file too (`tests/src/lib.rs` includes
//! it): it needs the graph's types, and the testkit cannot depend on the
//! graph, whose tests depend on the testkit.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use hpyx_engine::{Config, ShutdownPolicy, ThreadPool};
use hpyx_graph::{Future, NodeRef, NodeState, Outcome, TaskError, TaskGraph};
use hpyx_testkit::{deadline, ShutdownGuard, SMALL_STACK};

/// A graph on a new pool of `workers` workers, drained and shut down when
/// dropped.
pub fn test_graph(workers: usize) -> ShutdownGuard<TaskGraph> {
    test_graph_with(Config::new().num_workers(workers))
}

/// [`test_graph`] whose workers have a [`SMALL_STACK`] each.
pub fn small_stack_graph(workers: usize) -> ShutdownGuard<TaskGraph> {
    test_graph_with(Config::new().num_workers(workers).stack_size(SMALL_STACK))
}

/// A graph on a new pool made from `config`, drained and shut down when
/// dropped.
pub fn test_graph_with(config: Config) -> ShutdownGuard<TaskGraph> {
    let pool = ThreadPool::new(config).expect("the pool starts");
    let graph = TaskGraph::new(pool.clone());
    ShutdownGuard::new(graph, move || pool.shutdown(ShutdownPolicy::Drain))
}

/// Waits for `future` and returns its outcome; panics after the timeout.
pub fn outcome<T: Send + Sync + 'static>(future: &Future<T>) -> Outcome<'_, T> {
    future
        .wait_until::<()>(Some(deadline()), &mut || Ok(()))
        .unwrap_or_else(|e| panic!("waiting for {future:?}: {e:?}"))
}

/// Waits for `future` and returns its outcome as a result: the error, or
/// `None` if it was cancelled.
pub fn get<T: Send + Sync + 'static>(future: &Future<T>) -> Result<&T, Option<&TaskError>> {
    outcome(future).into_result()
}

/// Waits for `future` and returns its value; panics with the error if it
/// did not succeed.
pub fn value<T: Send + Sync + 'static>(future: &Future<T>) -> &T {
    match get(future) {
        Ok(v) => v,
        Err(Some(e)) => panic!("{future:?} failed: {e}"),
        Err(None) => panic!("{future:?} was cancelled"),
    }
}

/// Waits for `node` and returns its final state; panics after the timeout.
pub fn wait_node(node: &NodeRef) -> NodeState {
    node.wait_until::<()>(Some(deadline()), &mut || Ok(()))
        .unwrap_or_else(|e| panic!("waiting for node {}: {e:?}", node.id()))
}
