//! `Future<T>`: the typed handle on a node, and `NodeRef`, the untyped one.

use std::sync::{Arc, Weak};
use std::time::Instant;

use hpyx_engine::{Latch, WaitError};

use crate::error::{Outcome, TaskError};
use crate::graph::TaskGraph;
use crate::name::{NodeId, NodeName};
use crate::node::{GraphNode, Inputs, ValueNode};
use crate::state::NodeState;
use crate::successors::Successor;
use crate::walk::cancel_node;

/// A handle on a node producing a `T`. Clones share the node; many
/// continuations may hang off one future.
pub struct Future<T> {
    /// Through the typed trait: a node with inputs and one without are
    /// different types (see `Node<T, S>`).
    node: Arc<dyn ValueNode<T>>,
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Future {
            node: Arc::clone(&self.node),
        }
    }
}

impl<T: Send + Sync + 'static> Future<T> {
    pub(crate) fn from_node(node: Arc<dyn ValueNode<T>>) -> Future<T> {
        Future { node }
    }

    pub(crate) fn node_arc(&self) -> Arc<dyn ValueNode<T>> {
        Arc::clone(&self.node)
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.node.core().id()
    }

    /// The node's name.
    pub fn name(&self) -> &NodeName {
        self.node.core().name()
    }

    /// The node's current state.
    pub fn state(&self) -> NodeState {
        self.node.core().state.load()
    }

    /// True once succeeded, failed or cancelled.
    pub fn is_finished(&self) -> bool {
        self.state().is_finished()
    }

    /// The outcome, if finished.
    pub fn outcome(&self) -> Option<Outcome<'_, T>> {
        match self.state() {
            NodeState::Succeeded => self.node.value().map(Outcome::Value),
            NodeState::Failed => self.node.core().error().map(Outcome::Failed),
            NodeState::Cancelled => Some(Outcome::Cancelled),
            _ => None,
        }
    }

    /// The value, if succeeded.
    pub fn value(&self) -> Option<&T> {
        match self.outcome() {
            Some(Outcome::Value(v)) => Some(v),
            _ => None,
        }
    }

    /// Waits (helping, on a worker) until finished, then returns the value
    /// or the error (`None` for a cancellation).
    ///
    /// # Panics
    /// If called on a worker already nested `max_help_depth` waits deep; use
    /// [`Future::wait_until`] to get that as an error.
    pub fn get(&self) -> Result<&T, Option<&TaskError>> {
        match self.wait_until::<()>(None, &mut || Ok(())) {
            Ok(outcome) => outcome.into_result(),
            Err(e) => panic!("{e:?}"),
        }
    }

    /// Waits until finished, `deadline` passes, or `hook` (called every
    /// [`hpyx_engine::HOOK_INTERVAL`]) fails.
    pub fn wait_until<E>(
        &self,
        deadline: Option<Instant>,
        hook: &mut dyn FnMut() -> Result<(), E>,
    ) -> Result<Outcome<'_, T>, WaitError<E>> {
        wait_node(self.node.clone(), deadline, hook)?;
        Ok(self.outcome().expect("finished after wait"))
    }

    /// Cancels the node if it has not started: it will never run, and its
    /// dependents end cancelled. False once it is running or finished.
    pub fn cancel(&self) -> bool {
        cancel_node(self.node.clone())
    }

    /// Runs `f(&value)` on the pool once this succeeds; a failure or
    /// cancellation propagates without calling `f`.
    pub fn then<U, F>(&self, name: impl Into<NodeName>, f: F) -> Future<U>
    where
        U: Send + Sync + 'static,
        F: FnOnce(&T) -> Result<U, TaskError> + Send + 'static,
    {
        self.graph()
            .dataflow(name, [self.node()], move |inputs: &Inputs<'_>| {
                f(inputs.value::<T>(0).expect("then's input succeeded"))
            })
    }

    /// Runs `f` once finished, on the thread that finishes the node, or at
    /// once on this thread if it is finished already.
    pub fn on_complete(&self, f: impl FnOnce() + Send + 'static) {
        on_complete_node(self.node.core(), Box::new(f));
    }

    /// The untyped handle.
    pub fn node(&self) -> NodeRef {
        NodeRef(self.node.clone())
    }

    /// The graph the node belongs to.
    pub fn graph(&self) -> TaskGraph {
        TaskGraph::from_shared(self.node.core().graph())
    }

    /// True if both handles refer to the same node.
    pub fn ptr_eq(&self, other: &Future<T>) -> bool {
        Arc::ptr_eq(&self.node, &other.node)
    }

    /// A handle that does not keep the node (nor its value) alive.
    pub fn downgrade(&self) -> WeakFuture<T> {
        WeakFuture {
            node: Arc::downgrade(&self.node),
        }
    }
}

/// A handle on a node that does not keep it alive: for bookkeeping that
/// must find a node while it is pending or running (the pool holds it
/// then) without keeping a finished node's value once nothing else does.
pub struct WeakFuture<T> {
    node: Weak<dyn ValueNode<T>>,
}

impl<T: Send + Sync + 'static> WeakFuture<T> {
    /// The node, unless every strong handle on it is gone (it is finished,
    /// or will never run).
    pub fn upgrade(&self) -> Option<Future<T>> {
        self.node.upgrade().map(Future::from_node)
    }

    /// True once no strong handle on the node is left.
    pub fn is_gone(&self) -> bool {
        self.node.strong_count() == 0
    }
}

impl<T: Send + Sync + 'static> std::fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Future")
            .field("id", &self.id())
            .field("name", &self.name().as_str())
            .field("state", &self.state())
            .finish()
    }
}

/// An untyped handle on a node: what combinators take as inputs.
#[derive(Clone)]
pub struct NodeRef(Arc<dyn GraphNode>);

impl NodeRef {
    pub(crate) fn into_node(self) -> Arc<dyn GraphNode> {
        self.0
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.0.core().id()
    }

    /// The node's name.
    pub fn name(&self) -> &NodeName {
        self.0.core().name()
    }

    /// The node's current state.
    pub fn state(&self) -> NodeState {
        self.0.core().state.load()
    }

    /// The error, if failed.
    pub fn error(&self) -> Option<&TaskError> {
        match self.state() {
            NodeState::Failed => self.0.core().error(),
            _ => None,
        }
    }

    /// See [`Future::wait_until`].
    pub fn wait_until<E>(
        &self,
        deadline: Option<Instant>,
        hook: &mut dyn FnMut() -> Result<(), E>,
    ) -> Result<NodeState, WaitError<E>> {
        wait_node(self.0.clone(), deadline, hook)?;
        Ok(self.state())
    }

    /// See [`Future::cancel`].
    pub fn cancel(&self) -> bool {
        cancel_node(self.0.clone())
    }

    /// See [`Future::on_complete`].
    pub fn on_complete(&self, f: impl FnOnce() + Send + 'static) {
        on_complete_node(self.0.core(), Box::new(f));
    }
}

impl<T: Send + Sync + 'static> From<&Future<T>> for NodeRef {
    fn from(f: &Future<T>) -> NodeRef {
        f.node()
    }
}

fn wait_node<E>(
    node: Arc<dyn GraphNode>,
    deadline: Option<Instant>,
    hook: &mut dyn FnMut() -> Result<(), E>,
) -> Result<(), WaitError<E>> {
    let core = node.core();
    if core.state.load().is_finished() {
        return Ok(());
    }
    if hpyx_engine::current_worker_index().is_none() {
        let latch = Arc::new(Latch::new());
        if core
            .add_successor(Successor::Latch(Arc::clone(&latch)))
            .is_err()
        {
            return Ok(());
        }
        return hpyx_engine::wait_until(&latch, deadline, hook);
    }
    // On a worker: help only with what this node needs (see
    // `wait_until_helping` for why not with anything).
    let latch = Arc::new(Latch::new_parking());
    if core
        .add_successor(Successor::Latch(Arc::clone(&latch)))
        .is_err()
    {
        return Ok(());
    }
    hpyx_engine::wait_until_helping(&latch, deadline, hook, &mut || queued_ancestor(&node))
}

/// How many nodes one search for a queued ancestor visits at most.
const ANCESTRY_SEARCH_LIMIT: usize = 4096;

/// A queued (`Ready`) node among `node` and its unfinished ancestry, found
/// by an iterative search through the inputs of pending nodes.
fn queued_ancestor(node: &Arc<dyn GraphNode>) -> Option<hpyx_engine::JobRef> {
    let mut stack = vec![Arc::clone(node)];
    let mut seen = std::collections::HashSet::new();
    let mut visited = 0;
    while let Some(candidate) = stack.pop() {
        match candidate.core().state.load() {
            NodeState::Ready => return Some(candidate as hpyx_engine::JobRef),
            NodeState::Pending if visited < ANCESTRY_SEARCH_LIMIT => {
                visited += 1;
                for input in candidate.inputs_snapshot() {
                    if seen.insert(input.core().id()) {
                        stack.push(input);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn on_complete_node(core: &crate::node::NodeCore, f: Box<dyn FnOnce() + Send>) {
    if let Err(Successor::Callback(f)) = core.add_successor(Successor::Callback(f)) {
        f();
    }
}
