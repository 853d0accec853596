//! Nodes: the type-erased core every node shares, and `Node<T>`, which adds
//! the value and the function that computes it.

use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use hpyx_engine::{Job, JobRef};

use crate::drop_queue::drop_iteratively;
use crate::error::{Outcome, TaskError};
use crate::graph::GraphShared;
use crate::name::{NodeId, NodeName};
use crate::pending::{PendingInputs, Readiness};
use crate::state::{NodeState, StateWord, TransitionToRunning};
use crate::successors::{Successor, SuccessorList};
use crate::walk::CompletionWalk;

/// How a node gets its outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NodeKind {
    /// Runs its function on the pool once every input succeeded.
    Pooled,
    /// Runs its (cheap, Rust-only) function inline in the completion walk.
    Inline,
    /// Completes when its *first* input finishes, whatever the outcome.
    WhenAny,
    /// Completed from outside, by a [`Promise`](crate::Promise).
    Promise,
}

const NO_WORKER: u32 = u32::MAX;
const NO_WINNER: u32 = u32::MAX;

/// What every node has, whatever its value type.
pub(crate) struct NodeCore {
    id: NodeId,
    name: NodeName,
    kind: NodeKind,
    pub(crate) state: StateWord,
    pub(crate) pending: PendingInputs,
    /// For `WhenAny`: the index of the first input to finish.
    winner: AtomicU32,
    successors: Mutex<SuccessorList>,
    /// Inputs in argument order. Released once the node has run, unless the
    /// node was created while recording (`keep_history`).
    inputs: Mutex<Vec<Arc<dyn GraphNode>>>,
    error: OnceLock<TaskError>,
    keep_history: bool,
    /// Created, started, finished: ns since the process epoch, 0 = unknown.
    /// Only measured while recording or tracing.
    times: [AtomicU64; 3],
    timed: bool,
    worker: AtomicU32,
    pub(crate) graph: &'static GraphShared,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Poisoning needs a panic while the lock is held; the guarded lists are
    // valid after any such panic, so go on.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) struct CoreInit {
    pub(crate) name: NodeName,
    pub(crate) kind: NodeKind,
    pub(crate) state: NodeState,
    pub(crate) pending_inputs: usize,
    pub(crate) inputs: Vec<Arc<dyn GraphNode>>,
    pub(crate) finished: bool,
}

impl NodeCore {
    pub(crate) fn new(graph: &'static GraphShared, init: CoreInit) -> NodeCore {
        let recording = graph.is_recording();
        let timed = recording || graph.is_timing();
        let created = if timed { graph.now_ns() } else { 0 };
        NodeCore {
            id: NodeId::next(),
            name: init.name,
            kind: init.kind,
            state: StateWord::new(init.state),
            pending: PendingInputs::with_guard(init.pending_inputs),
            winner: AtomicU32::new(NO_WINNER),
            successors: Mutex::new(SuccessorList::new(init.finished)),
            inputs: Mutex::new(init.inputs),
            error: OnceLock::new(),
            keep_history: recording,
            times: [AtomicU64::new(created), AtomicU64::new(0), AtomicU64::new(0)],
            timed,
            worker: AtomicU32::new(NO_WORKER),
            graph,
        }
    }

    pub(crate) fn id(&self) -> NodeId {
        self.id
    }

    pub(crate) fn name(&self) -> &NodeName {
        &self.name
    }

    pub(crate) fn kind(&self) -> NodeKind {
        self.kind
    }

    pub(crate) fn error(&self) -> Option<&TaskError> {
        self.error.get()
    }

    pub(crate) fn winner(&self) -> Option<usize> {
        match self.winner.load(Ordering::Acquire) {
            NO_WINNER => None,
            w => Some(w as usize),
        }
    }

    pub(crate) fn worker(&self) -> Option<u32> {
        match self.worker.load(Ordering::Relaxed) {
            NO_WORKER => None,
            w => Some(w),
        }
    }

    /// `[created, started, finished]`, ns since the graph's epoch; `None`
    /// where not measured.
    pub(crate) fn times(&self) -> [Option<u64>; 3] {
        self.times.each_ref().map(|t| match t.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(ns),
        })
    }

    /// Calls `f` on each input in order, holding this node's input lock (lock
    /// order: a dependent's inputs before an input's successors).
    pub(crate) fn for_each_input(&self, mut f: impl FnMut(usize, &Arc<dyn GraphNode>)) {
        for (index, input) in lock(&self.inputs).iter().enumerate() {
            f(index, input);
        }
    }

    /// A ready-made node: it was created, started and finished just now.
    pub(crate) fn publish_ready_times(&self) {
        if self.timed {
            let now = self.times[0].load(Ordering::Relaxed);
            self.times[1].store(now, Ordering::Relaxed);
            self.times[2].store(now, Ordering::Relaxed);
        }
    }

    pub(crate) fn inputs_snapshot(&self) -> Vec<Arc<dyn GraphNode>> {
        lock(&self.inputs).clone()
    }

    /// Adds a successor, or hands it back if this node already finished.
    pub(crate) fn add_successor(&self, successor: Successor) -> Result<(), Successor> {
        lock(&self.successors).push(successor)
    }

    /// Marks the successor list closed and takes it (completion only).
    pub(crate) fn close_successors(&self) -> Vec<Successor> {
        lock(&self.successors).close()
    }

    /// Called when input `index` finished. `Ready` means the caller must
    /// schedule this node.
    pub(crate) fn input_finished(&self, index: usize) -> Readiness {
        if self.kind == NodeKind::WhenAny
            && self
                .winner
                .compare_exchange(NO_WINNER, index as u32, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return Readiness::StillWaiting;
        }
        self.pending.input_done()
    }

    /// The first input, in argument order, that failed or was cancelled.
    pub(crate) fn first_unsuccessful_input(&self) -> Option<Result<(), TaskError>> {
        lock(&self.inputs).iter().find_map(|input| match input.core().state.load() {
            NodeState::Failed => Some(Err(input
                .core()
                .error()
                .expect("a failed node has an error")
                .clone())),
            NodeState::Cancelled => Some(Ok(())),
            _ => None,
        })
    }

    /// The inputs, for the function about to run (claimant only). Unless the
    /// node keeps history, the node lets go of them: they are dropped once
    /// the function returns.
    pub(crate) fn take_inputs_for_run(&self) -> Vec<Arc<dyn GraphNode>> {
        let mut inputs = lock(&self.inputs);
        if self.keep_history {
            inputs.clone()
        } else {
            std::mem::take(&mut *inputs)
        }
    }

    pub(crate) fn mark_started(&self) {
        if let Some(index) = hpyx_engine::current_worker_index() {
            self.worker.store(index as u32, Ordering::Relaxed);
        }
        if self.timed {
            self.times[1].store(self.graph.now_ns(), Ordering::Relaxed);
        }
    }

    /// Claimant: publish the final state (after the value or error is set).
    pub(crate) fn publish(&self, state: NodeState, error: Option<TaskError>) {
        if let Some(error) = error {
            let _ = self.error.set(error);
        }
        if self.timed {
            let now = self.graph.now_ns();
            self.times[2].store(now, Ordering::Relaxed);
            if self.times[1].load(Ordering::Relaxed) == 0 {
                self.times[1].store(now, Ordering::Relaxed);
            }
        }
        self.state.transition_to_finished(state);
    }

    /// Claimant of a cancelled node: note when it finished.
    pub(crate) fn mark_cancelled_times(&self) {
        if self.timed {
            self.times[2].store(self.graph.now_ns(), Ordering::Relaxed);
        }
    }

    /// Claimant of a node that will never run: drop its inputs now (unless
    /// recording keeps them).
    pub(crate) fn release_inputs(&self) {
        if !self.keep_history {
            let inputs = std::mem::take(&mut *lock(&self.inputs));
            drop_iteratively(inputs);
        }
    }
}

impl Drop for NodeCore {
    fn drop(&mut self) {
        let inputs = std::mem::take(self.inputs.get_mut().unwrap_or_else(|e| e.into_inner()));
        let successors = self
            .successors
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take_nodes();
        drop_iteratively(inputs.into_iter().chain(successors));
    }
}

/// The type-erased face of a node, as inputs, successors and the pool see it.
pub(crate) trait GraphNode: Job {
    fn core(&self) -> &NodeCore;

    /// The value, if the node succeeded.
    fn value_any(&self) -> Option<&dyn Any>;

    /// Claimant: run the function on `inputs`, store the value. Returns the
    /// final state and error. Panics in the function become errors.
    fn run_body(&self, inputs: &[Arc<dyn GraphNode>]) -> (NodeState, Option<TaskError>);

    /// Claimant: drop the function without running it.
    fn discard_body(&self);
}

/// The function of a node: gets its inputs (in argument order) and the
/// `when_any` winner.
pub(crate) type Body<T> = Box<dyn FnOnce(&Inputs<'_>) -> Result<T, TaskError> + Send>;

/// A node's inputs, as its function sees them.
pub struct Inputs<'a> {
    nodes: &'a [Arc<dyn GraphNode>],
    winner: Option<usize>,
}

impl<'a> Inputs<'a> {
    /// The number of inputs.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The value of input `index`, if it succeeded and is a `T`.
    pub fn value<T: 'static>(&self, index: usize) -> Option<&'a T> {
        self.nodes.get(index)?.value_any()?.downcast_ref::<T>()
    }

    /// For `when_any`: the index of the first input that finished.
    pub fn winner(&self) -> Option<usize> {
        self.winner
    }

    /// The outcome of input `index` (`None` if out of range, not finished,
    /// or not a `T`).
    pub fn outcome<T: 'static>(&self, index: usize) -> Option<Outcome<'a, T>> {
        let node = self.nodes.get(index)?;
        match node.core().state.load() {
            NodeState::Succeeded => node.value_any()?.downcast_ref::<T>().map(Outcome::Value),
            NodeState::Failed => node.core().error().map(Outcome::Failed),
            NodeState::Cancelled => Some(Outcome::Cancelled),
            _ => None,
        }
    }
}

/// A node producing a `T`.
pub(crate) struct Node<T> {
    pub(crate) core: NodeCore,
    pub(crate) value: OnceLock<T>,
    body: UnsafeCell<Option<Body<T>>>,
}

// SAFETY: `body` is the only field that is not `Sync`. It is written at
// construction and afterwards touched only by the node's claimant (the one
// thread that won `transition_to_running` or `transition_to_cancelled`, see
// `state.rs`) or through `&mut self` in `Drop`, so no two threads ever access
// it at once. `T: Send + Sync` covers `value`, which is shared read-only once
// set.
unsafe impl<T: Send + Sync> Sync for Node<T> {}

impl<T: Send + Sync + 'static> Node<T> {
    pub(crate) fn new(core: NodeCore, body: Option<Body<T>>) -> Node<T> {
        Node { core, value: OnceLock::new(), body: UnsafeCell::new(body) }
    }

    pub(crate) fn with_value(core: NodeCore, value: T) -> Node<T> {
        let value = OnceLock::from(value);
        Node { core, value, body: UnsafeCell::new(None) }
    }

    /// Claimant only.
    fn take_body(&self) -> Option<Body<T>> {
        // SAFETY: only the claimant calls this (see the `Sync` impl), so
        // there is no concurrent access to `body`.
        unsafe { (*self.body.get()).take() }
    }
}

impl<T: Send + Sync + 'static> GraphNode for Node<T> {
    fn core(&self) -> &NodeCore {
        &self.core
    }

    fn value_any(&self) -> Option<&dyn Any> {
        self.value.get().map(|v| v as &dyn Any)
    }

    fn run_body(&self, inputs: &[Arc<dyn GraphNode>]) -> (NodeState, Option<TaskError>) {
        let Some(body) = self.take_body() else {
            // Only promises have no body, and they are never run this way.
            return (
                NodeState::Failed,
                Some(TaskError::msg("InternalError", "node has no function to run")),
            );
        };
        let inputs = Inputs { nodes: inputs, winner: self.core.winner() };
        match catch_unwind(AssertUnwindSafe(|| body(&inputs))) {
            Ok(Ok(value)) => {
                let _ = self.value.set(value);
                (NodeState::Succeeded, None)
            }
            Ok(Err(err)) => (NodeState::Failed, Some(err)),
            Err(payload) => (NodeState::Failed, Some(TaskError::from_panic(payload))),
        }
    }

    fn discard_body(&self) {
        drop(self.take_body());
    }
}

impl<T: Send + Sync + 'static> Job for Node<T> {
    /// The pool runs a `Pooled` node: claim it, run its function, walk its
    /// successors; the first successor made ready comes back as a tail job.
    fn run(self: Arc<Self>) -> Option<JobRef> {
        if self.core.state.transition_to_running() == TransitionToRunning::Cancelled {
            // The canceller completed it already.
            return None;
        }
        self.core.mark_started();
        let inputs = self.core.take_inputs_for_run();
        let (state, error) = self.run_body(&inputs);
        drop_iteratively(inputs);
        self.core.publish(state, error);
        let mut walk = CompletionWalk::new();
        walk.push_finished(self);
        walk.drive(true)
    }

    /// The pool discards the node (shutdown): it ends cancelled.
    fn cancel(self: Arc<Self>) {
        crate::walk::cancel_node(self);
    }
}
