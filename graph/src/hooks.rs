//! The finish hook: a callback told about every node that finishes, for
//! tracing. Off by default; while it is set, new nodes are timed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::error::TaskError;
use crate::name::{NodeId, NodeName};
use crate::state::NodeState;

/// What the finish hook sees of a node that just finished.
#[derive(Debug)]
pub struct FinishedNode<'a> {
    /// The node's id.
    pub id: NodeId,
    /// Its name.
    pub name: &'a NodeName,
    /// How it finished.
    pub state: NodeState,
    /// When it was created, started and finished: nanoseconds on the graph's
    /// clock ([`TaskGraph::now_ns`](crate::TaskGraph::now_ns)).
    pub created_ns: Option<u64>,
    /// When it started (its finish time if it never ran).
    pub started_ns: Option<u64>,
    /// When it finished.
    pub finished_ns: Option<u64>,
    /// The worker that ran it.
    pub worker: Option<u32>,
    /// Its error, if it failed.
    pub error: Option<&'a TaskError>,
}

/// A finish hook. It runs on the thread that finishes the node, so it must
/// be quick; a panic in it is reported and the graph goes on.
pub type FinishHook = Arc<dyn Fn(&FinishedNode<'_>) + Send + Sync>;

pub(crate) fn call(hook: &FinishHook, node: &FinishedNode<'_>) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| hook(node))) {
        eprintln!(
            "hpyx: the finish hook panicked on node {}: {}; scheduling goes on",
            node.id,
            hpyx_engine::panic_message(&*payload)
        );
    }
}
