//! `TaskGraph`: where nodes are made, and the combinators that make them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use hpyx_engine::ThreadPool;

use crate::error::TaskError;
use crate::future::{Future, NodeRef};
use crate::graph_index::{GraphIndex, TooManyGraphs};
use crate::hooks::{self, FinishHook, FinishedNode};
use crate::input_side::{InputSide, NoInputs, NodeList, Side};
use crate::name::NodeName;
use crate::node::{
    fits_in_node, Body, CoreInit, GraphNode, Inputs, Node, NodeCore, NodeFn, NodeKind,
};
use crate::pending::Readiness;
use crate::promise::Promise;
use crate::recording::{RecordBuf, Recording};
use crate::snapshot::GraphSnapshot;
use crate::state::NodeState;
use crate::successors::Successor;
use crate::walk::CompletionWalk;

/// State shared by every node of one graph.
pub(crate) struct GraphShared {
    /// This graph's slot in the table of graphs, which its nodes keep
    /// instead of a pointer (see `graph_index.rs`).
    index: GraphIndex,
    pool: ThreadPool,
    epoch: Instant,
    recording_count: AtomicUsize,
    recordings: Mutex<Vec<Arc<RecordBuf>>>,
    timing: AtomicBool,
    finish_hook: RwLock<Option<FinishHook>>,
    hooked: AtomicBool,
}

impl GraphShared {
    pub(crate) fn index(&self) -> GraphIndex {
        self.index
    }

    pub(crate) fn pool(&self) -> &ThreadPool {
        &self.pool
    }

    #[inline]
    pub(crate) fn is_recording(&self) -> bool {
        self.recording_count.load(Ordering::Relaxed) != 0
    }

    #[inline]
    pub(crate) fn is_timing(&self) -> bool {
        self.timing.load(Ordering::Relaxed)
    }

    /// Nanoseconds since the graph was made (at least 1: 0 means "unknown").
    pub(crate) fn now_ns(&self) -> u64 {
        (self.epoch.elapsed().as_nanos() as u64).max(1)
    }

    #[inline]
    pub(crate) fn is_hooked(&self) -> bool {
        self.hooked.load(Ordering::Relaxed)
    }

    /// Tells the finish hook, if any, about `node`.
    #[cold]
    pub(crate) fn report_finished(&self, node: &FinishedNode<'_>) {
        let hook = self
            .finish_hook
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(hook) = hook {
            hooks::call(&hook, node);
        }
    }

    fn record(&self, node: &Arc<dyn GraphNode>) {
        let recordings = self.recordings.lock().unwrap_or_else(|e| e.into_inner());
        for buf in recordings.iter() {
            buf.push(Arc::clone(node));
        }
    }

    pub(crate) fn start_recording(&self, buf: Arc<RecordBuf>) {
        let mut recordings = self.recordings.lock().unwrap_or_else(|e| e.into_inner());
        recordings.push(buf);
        self.recording_count.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stop_recording(&self, buf: &Arc<RecordBuf>) {
        let mut recordings = self.recordings.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pos) = recordings.iter().position(|b| Arc::ptr_eq(b, buf)) {
            recordings.swap_remove(pos);
            self.recording_count.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A lazily scheduled dependency graph of tasks over a [`ThreadPool`].
///
/// Every combinator adds a node with edges to its inputs; a node is pushed to
/// the pool exactly when its last input finishes, and never polls or blocks
/// a worker while waiting. `TaskGraph` is a cheap `Copy` handle: its shared
/// state lives for the rest of the process, like the pool it schedules on,
/// so make one per pool, not one per computation.
///
/// ```
/// use hpyx_engine::{Config, ThreadPool};
/// use hpyx_graph::TaskGraph;
///
/// let graph = TaskGraph::new(ThreadPool::new(Config::new().num_workers(2)).unwrap());
/// let a = graph.spawn("a", || Ok(20));
/// let b = a.then("b", |x: &i32| Ok(x + 1));
/// let c = graph.dataflow("c", [a.node(), b.node()], |inputs| {
///     Ok(inputs.value::<i32>(0).unwrap() + inputs.value::<i32>(1).unwrap())
/// });
/// assert_eq!(*c.get().unwrap(), 41);
/// ```
#[derive(Clone, Copy)]
pub struct TaskGraph {
    shared: &'static GraphShared,
}

impl TaskGraph {
    /// A graph that schedules on `pool`.
    ///
    /// # Panics
    ///
    /// If the process made [`MAX_GRAPHS`](crate::MAX_GRAPHS) graphs
    /// already (see [`TaskGraph::try_new`]).
    pub fn new(pool: ThreadPool) -> TaskGraph {
        TaskGraph::try_new(pool).unwrap_or_else(|err| panic!("{err}"))
    }

    /// A graph that schedules on `pool`, or [`TooManyGraphs`] if the
    /// process made [`MAX_GRAPHS`](crate::MAX_GRAPHS) graphs already (a
    /// graph lives until the process exits).
    pub fn try_new(pool: ThreadPool) -> Result<TaskGraph, TooManyGraphs> {
        let index = GraphIndex::reserve()?;
        let shared: &'static GraphShared = Box::leak(Box::new(GraphShared {
            index,
            pool,
            epoch: Instant::now(),
            recording_count: AtomicUsize::new(0),
            recordings: Mutex::new(Vec::new()),
            timing: AtomicBool::new(false),
            finish_hook: RwLock::new(None),
            hooked: AtomicBool::new(false),
        }));
        index.publish(shared);
        Ok(TaskGraph { shared })
    }

    pub(crate) fn from_shared(shared: &'static GraphShared) -> TaskGraph {
        TaskGraph { shared }
    }

    /// The pool the graph schedules on.
    pub fn pool(&self) -> &ThreadPool {
        &self.shared.pool
    }

    /// Measure created/started/finished times of new nodes even when not
    /// recording (the tracing layer switches this on).
    pub fn set_timing(&self, on: bool) {
        self.shared.timing.store(on, Ordering::Relaxed);
    }

    /// Sets (or, with `None`, removes) the hook told about every node that
    /// finishes from now on. While a hook is set, new nodes are timed.
    pub fn set_finish_hook(&self, hook: Option<FinishHook>) {
        let on = hook.is_some();
        *self
            .shared
            .finish_hook
            .write()
            .unwrap_or_else(|e| e.into_inner()) = hook;
        self.shared.hooked.store(on, Ordering::Relaxed);
        self.set_timing(on);
    }

    /// Nanoseconds since this graph was made: the clock of node timings.
    pub fn now_ns(&self) -> u64 {
        self.shared.now_ns()
    }

    /// Runs `f` on the pool (`hpyx.async_`).
    pub fn spawn<T, F>(&self, name: impl Into<NodeName>, f: F) -> Future<T>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Result<T, TaskError> + Send + 'static,
    {
        self.build_with(
            name.into(),
            NodeKind::Pooled,
            NodeList::new(),
            move |_: &Inputs<'_>| f(),
        )
    }

    /// Runs `f` on the pool once every input has succeeded; if an input
    /// failed or was cancelled, `f` is not called and the node ends the same
    /// way as the first such input in argument order.
    pub fn dataflow<T, F>(
        &self,
        name: impl Into<NodeName>,
        inputs: impl IntoIterator<Item = NodeRef>,
        f: F,
    ) -> Future<T>
    where
        T: Send + Sync + 'static,
        F: FnOnce(&Inputs<'_>) -> Result<T, TaskError> + Send + 'static,
    {
        let inputs = inputs.into_iter().map(NodeRef::into_node).collect();
        self.build_with(name.into(), NodeKind::Pooled, inputs, f)
    }

    /// The values of `inputs` in order, once all succeeded (failure and
    /// cancellation propagate as in [`TaskGraph::dataflow`]). Completes
    /// inline on the thread that finishes the last input.
    pub fn when_all<T>(&self, inputs: &[Future<T>]) -> Future<Vec<T>>
    where
        T: Clone + Send + Sync + 'static,
    {
        let nodes = inputs.iter().map(|f| f.node().into_node()).collect();
        let body = |inputs: &Inputs<'_>| {
            Ok((0..inputs.len())
                .map(|i| {
                    inputs
                        .value::<T>(i)
                        .expect("when_all input succeeded")
                        .clone()
                })
                .collect())
        };
        self.build_with(
            NodeName::from_static("when_all"),
            NodeKind::Inline,
            nodes,
            body,
        )
    }

    /// Finishes when the first of `inputs` finishes, whatever its outcome,
    /// with that input's index. `None` for no inputs (it could never finish).
    pub fn when_any(&self, inputs: impl IntoIterator<Item = NodeRef>) -> Option<Future<usize>> {
        let inputs: NodeList = inputs.into_iter().map(NodeRef::into_node).collect();
        if inputs.is_empty() {
            return None;
        }
        let body = |inputs: &Inputs<'_>| Ok(inputs.winner().expect("when_any has a winner"));
        Some(self.build_with(
            NodeName::from_static("when_any"),
            NodeKind::WhenAny,
            inputs,
            body,
        ))
    }

    /// An already finished node holding `value`.
    pub fn ready<T: Send + Sync + 'static>(
        &self,
        name: impl Into<NodeName>,
        value: T,
    ) -> Future<T> {
        let core = self.core(name.into(), NodeKind::Inline, NodeState::Succeeded, true);
        core.publish_ready_times();
        let node: Arc<Node<T>> = Arc::new(Node::with_value(core, value));
        self.register(&node);
        Future::from_node(node)
    }

    /// An already failed node.
    pub fn failed<T: Send + Sync + 'static>(
        &self,
        name: impl Into<NodeName>,
        error: TaskError,
    ) -> Future<T> {
        let (promise, future) = self.promise(name);
        promise.set_error(error);
        future
    }

    /// A node completed from outside: the [`Promise`] sets its outcome;
    /// dropping the promise unset fails the node with a broken-promise error.
    pub fn promise<T: Send + Sync + 'static>(
        &self,
        name: impl Into<NodeName>,
    ) -> (Promise<T>, Future<T>) {
        let future =
            self.build::<T, Body<T>>(name.into(), NodeKind::Promise, NodeList::new(), None);
        (Promise::new(future.clone()), future)
    }

    /// Starts recording: every node created from now until
    /// [`Recording::stop`] is kept (finished or not, with its edges) for
    /// export.
    pub fn record(&self) -> Recording {
        Recording::start(self.shared)
    }

    /// A snapshot of `roots` and everything they (still) depend on.
    pub fn snapshot_of(&self, roots: impl IntoIterator<Item = NodeRef>) -> GraphSnapshot {
        GraphSnapshot::of_ancestry(roots.into_iter().map(NodeRef::into_node).collect())
    }

    fn core(&self, name: NodeName, kind: NodeKind, state: NodeState, finished: bool) -> NodeCore {
        NodeCore::new(
            self.shared,
            CoreInit {
                name,
                kind,
                state,
                finished,
            },
        )
    }

    fn register<T: Send + Sync + 'static, S: Side, F: NodeFn<T>>(&self, node: &Arc<Node<T, S, F>>) {
        if self.shared.is_recording() {
            let erased: Arc<dyn GraphNode> = node.clone();
            self.shared.record(&erased);
        }
    }

    /// [`build`](Self::build) with the function `f`, kept in the node if it
    /// fits there, else boxed (see `fits_in_node`).
    fn build_with<T: Send + Sync + 'static, F: NodeFn<T>>(
        &self,
        name: NodeName,
        kind: NodeKind,
        inputs: NodeList,
        f: F,
    ) -> Future<T> {
        if fits_in_node::<T, F>() {
            self.build(name, kind, inputs, Some(f))
        } else {
            let body: Body<T> = Box::new(f);
            self.build(name, kind, inputs, Some(body))
        }
    }

    /// Makes a node, wires it to its inputs and, if they are all finished
    /// already, schedules it.
    fn build<T: Send + Sync + 'static, F: NodeFn<T>>(
        &self,
        name: NodeName,
        kind: NodeKind,
        inputs: NodeList,
        body: Option<F>,
    ) -> Future<T> {
        let core = self.core(name, kind, NodeState::Pending, false);
        if inputs.is_empty() {
            return self.wire(Arc::new(Node::new(core, body, NoInputs)));
        }
        let pending_inputs = match kind {
            NodeKind::WhenAny => 1,
            NodeKind::Promise => 0,
            NodeKind::Pooled | NodeKind::Inline => inputs.len(),
        };
        let side = InputSide::new(inputs, pending_inputs, self.shared.is_recording());
        self.wire(Arc::new(Node::new(core, body, side)))
    }

    /// Registers a new node, adds it as a successor of each of its inputs
    /// and releases its construction guard.
    fn wire<T: Send + Sync + 'static, S: Side, F: NodeFn<T>>(
        &self,
        node: Arc<Node<T, S, F>>,
    ) -> Future<T> {
        self.register(&node);
        let erased: Arc<dyn GraphNode> = node.clone();
        node.for_each_input(|index, input| {
            let input_index = u32::try_from(index).expect("fewer than 2^32 inputs");
            let edge = Successor::Node {
                node: Arc::clone(&erased),
                input_index,
            };
            if input.core().add_successor(edge).is_err() {
                // Finished already (its final state was published before its
                // list closed); the construction guard keeps us > 0.
                let readiness = node.input_finished(index, input.core().state.load());
                debug_assert_eq!(readiness, Readiness::StillWaiting);
            }
        });
        if node.core.kind() != NodeKind::Promise && node.release_guard() == Readiness::Ready {
            let mut walk = CompletionWalk::new();
            walk.became_ready(erased);
            let tail = walk.drive(false);
            debug_assert!(tail.is_none());
        }
        Future::from_node(node)
    }
}

impl std::fmt::Debug for TaskGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskGraph")
            .field("pool", &self.shared.pool)
            .finish()
    }
}
