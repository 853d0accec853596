//! Nodes: the type-erased core every node shares, and `Node<T>`, which adds
//! the value and the function that computes it.

use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use hpyx_engine::{Job, JobRef};

use crate::drop_queue::drop_iteratively;
use crate::error::{Outcome, TaskError};
use crate::graph::GraphShared;
use crate::hooks::FinishedNode;
use crate::name::{NodeId, NodeName};
use crate::pending::{PendingInputs, Readiness};
use crate::small::SmallList;
use crate::spin::{SpinGuard, SpinLock};
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

/// A node's inputs, in argument order (three or fewer are kept inline).
pub(crate) type NodeList = SmallList<Arc<dyn GraphNode>>;

/// What every node has, whatever its value type.
pub(crate) struct NodeCore {
    id: NodeId,
    name: NodeName,
    kind: NodeKind,
    pub(crate) state: StateWord,
    pub(crate) pending: PendingInputs,
    /// For `WhenAny`: the index of the first input to finish.
    winner: AtomicU32,
    /// Set (before the input counts itself finished) by any input that
    /// failed or was cancelled, so that the common case, every input
    /// succeeded, need not look at the inputs again.
    unsuccessful_input: AtomicBool,
    /// How many leading inputs are known to have succeeded (read and written
    /// under the `inputs` lock): lets `decided_early` scan each input once.
    succeeded_prefix: AtomicUsize,
    successors: SpinLock<SuccessorList>,
    /// Inputs in argument order. Released once the node has run, unless the
    /// node was created while recording (`keep_history`).
    inputs: SpinLock<NodeList>,
    error: OnceLock<TaskError>,
    keep_history: bool,
    /// Created, started, finished: ns since the process epoch, 0 = unknown.
    /// Only allocated (and measured) while recording or tracing.
    times: Option<Box<[AtomicU64; 3]>>,
    worker: AtomicU32,
    pub(crate) graph: &'static GraphShared,
}

fn lock<T>(m: &SpinLock<T>) -> SpinGuard<'_, T> {
    m.lock()
}

pub(crate) struct CoreInit {
    pub(crate) name: NodeName,
    pub(crate) kind: NodeKind,
    pub(crate) state: NodeState,
    pub(crate) pending_inputs: usize,
    pub(crate) inputs: NodeList,
    pub(crate) finished: bool,
}

impl NodeCore {
    pub(crate) fn new(graph: &'static GraphShared, init: CoreInit) -> NodeCore {
        let recording = graph.is_recording();
        let timed = recording || graph.is_timing();
        let times = timed.then(|| {
            Box::new([
                AtomicU64::new(graph.now_ns()),
                AtomicU64::new(0),
                AtomicU64::new(0),
            ])
        });
        NodeCore {
            id: NodeId::next(),
            name: init.name,
            kind: init.kind,
            state: StateWord::new(init.state),
            pending: PendingInputs::with_guard(init.pending_inputs),
            winner: AtomicU32::new(NO_WINNER),
            unsuccessful_input: AtomicBool::new(false),
            succeeded_prefix: AtomicUsize::new(0),
            successors: SpinLock::new(SuccessorList::new(init.finished)),
            inputs: SpinLock::new(init.inputs),
            error: OnceLock::new(),
            keep_history: recording,
            times,
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
        match &self.times {
            Some(times) => times.each_ref().map(|t| match t.load(Ordering::Relaxed) {
                0 => None,
                ns => Some(ns),
            }),
            None => [None; 3],
        }
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
        if let Some(times) = &self.times {
            let now = times[0].load(Ordering::Relaxed);
            times[1].store(now, Ordering::Relaxed);
            times[2].store(now, Ordering::Relaxed);
        }
    }

    pub(crate) fn inputs_snapshot(&self) -> Vec<Arc<dyn GraphNode>> {
        lock(&self.inputs).to_vec()
    }

    /// Adds a successor, or hands it back if this node already finished.
    pub(crate) fn add_successor(&self, successor: Successor) -> Result<(), Successor> {
        lock(&self.successors).push(successor)
    }

    /// Marks the successor list closed and takes it (completion only).
    pub(crate) fn close_successors(&self) -> SmallList<Successor> {
        lock(&self.successors).close()
    }

    /// Called when input `index` finished, in state `input_state`. `Ready`
    /// means the caller must schedule this node.
    #[inline]
    pub(crate) fn input_finished(&self, index: usize, input_state: NodeState) -> Readiness {
        if input_state != NodeState::Succeeded {
            // Ordered before the count by the decrement's release.
            self.unsuccessful_input.store(true, Ordering::Relaxed);
        }
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
    /// Called once every input finished (the count reached zero).
    pub(crate) fn first_unsuccessful_input(&self) -> Option<Result<(), TaskError>> {
        // Every input stored its flag before its (AcqRel) decrement, and the
        // caller's decrement brought the count to zero: all flags are seen.
        if !self.unsuccessful_input.load(Ordering::Relaxed) {
            return None;
        }
        lock(&self.inputs)
            .iter()
            .find_map(|input| match input.core().state.load() {
                NodeState::Failed => Some(Err(input
                    .core()
                    .error()
                    .expect("a failed node has an error")
                    .clone())),
                NodeState::Cancelled => Some(Ok(())),
                _ => None,
            })
    }

    /// True if some input failed or was cancelled while this node still
    /// waits for others: [`NodeCore::decided_early`] may settle it now.
    #[inline]
    pub(crate) fn may_be_decided_early(&self) -> bool {
        matches!(self.kind, NodeKind::Pooled | NodeKind::Inline)
            && self.unsuccessful_input.load(Ordering::Relaxed)
            && self.state.load() == NodeState::Pending
    }

    /// The outcome, if it is already settled although some inputs are still
    /// running: every input before the first unsuccessful one (in argument
    /// order) has succeeded, so that one decides, whatever the later inputs
    /// do. Amortised O(1) per input: the scan resumes where it stopped.
    pub(crate) fn decided_early(&self) -> Option<Result<(), TaskError>> {
        let inputs = lock(&self.inputs);
        let mut index = self.succeeded_prefix.load(Ordering::Relaxed);
        let outcome = loop {
            let Some(input) = inputs.get(index) else {
                break None;
            };
            match input.core().state.load() {
                NodeState::Succeeded => index += 1,
                NodeState::Failed => {
                    break Some(Err(input
                        .core()
                        .error()
                        .expect("a failed node has an error")
                        .clone()))
                }
                NodeState::Cancelled => break Some(Ok(())),
                _ => break None,
            }
        };
        self.succeeded_prefix.store(index, Ordering::Relaxed);
        outcome
    }

    /// The inputs, for the function about to run (claimant only). Unless the
    /// node keeps history, the node lets go of them: they are dropped once
    /// the function returns.
    pub(crate) fn take_inputs_for_run(&self) -> NodeList {
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
        if let Some(times) = &self.times {
            times[1].store(self.graph.now_ns(), Ordering::Relaxed);
        }
    }

    /// Claimant: publish the final state (after the value or error is set).
    pub(crate) fn publish(&self, state: NodeState, error: Option<TaskError>) {
        if let Some(error) = error {
            let _ = self.error.set(error);
        }
        if let Some(times) = &self.times {
            let now = self.graph.now_ns();
            times[2].store(now, Ordering::Relaxed);
            if times[1].load(Ordering::Relaxed) == 0 {
                times[1].store(now, Ordering::Relaxed);
            }
        }
        self.state.transition_to_finished(state);
        self.report_finished(state);
    }

    /// Tells the graph's finish hook (tracing), if one is set and this node
    /// is timed.
    #[inline]
    fn report_finished(&self, state: NodeState) {
        if self.times.is_some() && self.graph.is_hooked() {
            let [created_ns, started_ns, finished_ns] = self.times();
            self.graph.report_finished(&FinishedNode {
                id: self.id,
                name: &self.name,
                state,
                created_ns,
                started_ns,
                finished_ns,
                worker: self.worker(),
                error: self.error.get(),
            });
        }
    }

    /// Claimant of a cancelled node: note when it finished.
    pub(crate) fn mark_cancelled_times(&self) {
        if let Some(times) = &self.times {
            times[2].store(self.graph.now_ns(), Ordering::Relaxed);
        }
        self.report_finished(NodeState::Cancelled);
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
        let inputs = std::mem::take(self.inputs.get_mut());
        let successors = self.successors.get_mut();
        // A node that ran has let go of its inputs and emptied its successor
        // list: nothing to hand over.
        if inputs.is_empty() && successors.is_empty() {
            return;
        }
        let successors = successors.take_nodes();
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
    /// Written once, by the claimant, before it publishes `Succeeded`; read
    /// only after `Succeeded` is seen (see [`Node::value`]).
    value: UnsafeCell<Option<T>>,
    body: UnsafeCell<Option<Body<T>>>,
}

// SAFETY: `body` and `value` are the fields that are not `Sync`.
// - `body` is written at construction and afterwards touched only by the
//   node's claimant (the one thread that won `transition_to_running` or
//   `transition_to_cancelled`, see `state.rs`) or through `&mut self` in
//   `Drop`, so no two threads ever access it at once.
// - `value` is written at construction (a ready node, published with the
//   `Arc`) or once by the claimant before its `Release` store of `Succeeded`;
//   readers first load the state with `Acquire` and read only after seeing
//   `Succeeded`, and the state never leaves `Succeeded`, so every read
//   happens after the one write and none races it. From then on `value` is
//   shared read-only, which `T: Sync` allows; `T: Send` covers dropping it
//   on another thread.
unsafe impl<T: Send + Sync> Sync for Node<T> {}

impl<T: Send + Sync + 'static> Node<T> {
    pub(crate) fn new(core: NodeCore, body: Option<Body<T>>) -> Node<T> {
        Node {
            core,
            value: UnsafeCell::new(None),
            body: UnsafeCell::new(body),
        }
    }

    /// A node whose core is already `Succeeded`.
    pub(crate) fn with_value(core: NodeCore, value: T) -> Node<T> {
        debug_assert_eq!(core.state.load(), NodeState::Succeeded);
        Node {
            core,
            value: UnsafeCell::new(Some(value)),
            body: UnsafeCell::new(None),
        }
    }

    /// The value, once the node has succeeded.
    #[inline]
    pub(crate) fn value(&self) -> Option<&T> {
        if self.core.state.load() != NodeState::Succeeded {
            return None;
        }
        // SAFETY: `Succeeded` was loaded with `Acquire` after the claimant
        // wrote the value and stored `Succeeded` with `Release`; nothing
        // writes the value afterwards (see the `Sync` impl).
        unsafe { (*self.value.get()).as_ref() }
    }

    /// Claimant only, before it publishes `Succeeded`.
    pub(crate) fn set_value(&self, value: T) {
        debug_assert_eq!(self.core.state.load(), NodeState::Running);
        // SAFETY: only the claimant writes, once, while the state is
        // `Running`; readers look only after seeing `Succeeded` (see the
        // `Sync` impl), so nothing reads or writes it concurrently.
        unsafe { *self.value.get() = Some(value) };
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
        self.value().map(|v| v as &dyn Any)
    }

    fn run_body(&self, inputs: &[Arc<dyn GraphNode>]) -> (NodeState, Option<TaskError>) {
        let Some(body) = self.take_body() else {
            // Only promises have no body, and they are never run this way.
            return (
                NodeState::Failed,
                Some(TaskError::msg(
                    "InternalError",
                    "node has no function to run",
                )),
            );
        };
        let inputs = Inputs {
            nodes: inputs,
            winner: self.core.winner(),
        };
        match catch_unwind(AssertUnwindSafe(|| body(&inputs))) {
            Ok(Ok(value)) => {
                self.set_value(value);
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
        // A plain drop: an input's own `Drop` hands what it holds to the
        // drop queue.
        drop(inputs);
        self.core.publish(state, error);
        let mut walk = CompletionWalk::new();
        walk.notify_successors(self);
        walk.drive(true)
    }

    /// The pool discards the node (shutdown): it ends cancelled.
    fn cancel(self: Arc<Self>) {
        crate::walk::cancel_node(self);
    }
}
