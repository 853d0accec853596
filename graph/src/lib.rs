//! # hpyx-graph: the lazily scheduled task graph
//!
//! A dependency DAG over an [`hpyx_engine::ThreadPool`]. Each combinator of
//! [`TaskGraph`] adds a node with edges to its inputs and returns a
//! [`Future`]:
//!
//! - [`TaskGraph::spawn`] (`hpyx.async_`), [`Future::then`],
//!   [`TaskGraph::dataflow`] over N inputs, [`TaskGraph::when_all`],
//!   [`TaskGraph::when_any`] (first to finish; a failure counts),
//!   [`TaskGraph::ready`] values and [`Promise`]s completed by user code.
//! - **Lazy**: a node's count of unfinished inputs reaches zero exactly once,
//!   and whoever brings it there pushes the node to the pool. Nothing polls,
//!   and no worker blocks waiting for inputs.
//! - **Iterative completion** (`walk.rs`): finishing a node walks its
//!   successors with explicit work lists, so a 100,000-long `then` chain and
//!   a 1,000,000-input fan-in complete on a small stack. Failure and
//!   cancellation propagate to dependents without running them.
//! - **Memory**: a node lets go of its inputs once it has run and is freed
//!   when nothing refers to it; a [`Recording`] keeps nodes (and their edges
//!   and timings) for export.
//! - **Snapshots** ([`GraphSnapshot`], a petgraph `DiGraph`) are consistent
//!   while the graph runs.
//!
//! Node states live in one atomic byte with small transition methods
//! (`state.rs`); exactly one thread *claims* a node (runs or cancels it) and
//! only it writes the outcome.

mod compact_list;
mod drop_queue;
mod error;
mod future;
mod graph;
mod graph_index;
mod hooks;
mod input_side;
mod loom;
mod name;
mod node;
mod node_core;
mod pending;
mod promise;
mod recording;
mod slot;
mod small;
mod snapshot;
mod spin;
mod state;
mod successors;
mod walk;

pub use error::{Outcome, TaskError};
pub use future::{Future, NodeRef, WeakFuture};
pub use graph::TaskGraph;
pub use graph_index::{TooManyGraphs, MAX_GRAPHS};
pub use hooks::{FinishHook, FinishedNode};
pub use name::{NodeId, NodeName};
pub use node::Inputs;
pub use promise::Promise;
pub use recording::Recording;
pub use snapshot::{GraphSnapshot, NodeInfo};
pub use state::NodeState;
