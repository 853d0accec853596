//! Nodes: the type-erased core every node shares, and `Node<T, S>`, which
//! adds the value, the function that computes it and, for a node built with
//! inputs, its input side (`S`: see `input_side.rs`).

use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicPtr, AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;

use hpyx_engine::{Job, JobRef};

use crate::drop_queue::drop_iteratively;
use crate::error::{Outcome, TaskError};
use crate::graph::GraphShared;
use crate::graph_index::GraphIndex;
use crate::hooks::FinishedNode;
use crate::input_side::{InputSide, NoInputs, NodeList, Side};
use crate::name::{NodeId, NodeName};
use crate::pending::Readiness;
use crate::small::SmallList;
use crate::spin::{SpinFlag, SpinGuard};
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

/// `worker` of a node no worker has run. The engine's pools have at most
/// `MAX_WORKERS` workers, so their indices fit below it.
const NO_WORKER: u16 = u16::MAX;
const _: () = assert!(hpyx_engine::MAX_WORKERS <= NO_WORKER as usize);

/// What every node has, whatever its value type and whether it has inputs.
///
/// Kept small on purpose: a pending node is one allocation, and its size
/// class is the memory each pending task costs (see the size tests at the
/// end of this file). What only a node with inputs needs is its input side,
/// in a larger node type; the successor list keeps one entry inline, its
/// lock bit sits with the other one-byte fields, and what only a failed or
/// a timed node needs is in [`Extra`], allocated for those alone.
pub(crate) struct NodeCore {
    id: NodeId,
    name: NodeName,
    kind: NodeKind,
    pub(crate) state: StateWord,
    successors_lock: SpinFlag,
    successors: UnsafeCell<SuccessorList>,
    /// Null, or an [`Extra`] from `Box::into_raw`: made at construction for
    /// a timed node, or by the claimant of an untimed node that fails.
    extra: AtomicPtr<Extra>,
    worker: AtomicU16,
    graph: GraphIndex,
}

/// What a node needs only if it is timed (recording or tracing) or failed.
struct Extra {
    /// Whether `times` are measured (not the case if made for an error).
    timed: bool,
    /// Created, started, finished: ns since the process epoch, 0 = unknown.
    times: [AtomicU64; 3],
    /// Written once, by the claimant, before it publishes `Failed`; read
    /// only after `Failed` is seen (see [`NodeCore::error`]). A plain cell
    /// rather than a `OnceLock`: the state word already orders the write
    /// before every read.
    error: UnsafeCell<Option<TaskError>>,
}

// SAFETY: `successors` and the error in `extra` are the fields that are not
// `Sync`.
// - `successors` is reached only through `NodeCore::successors`, under
//   `successors_lock`, or through `&mut self` in `Drop` (see
//   `SpinFlag::lock`); `SuccessorList: Send`.
// - `extra` is an `AtomicPtr` set at most twice: at construction, or once
//   by the node's claimant (the one thread that won `transition_to_running`
//   or `transition_to_cancelled`, see `state.rs`) with `Release`, to an
//   `Extra` it built; readers load it with `Acquire`, and the `Extra` is
//   freed only in `Drop`. In it, `timed` and `times` are immutable or
//   atomic; `error` is written only in `publish`, once, by the claimant,
//   before its `Release` store of `Failed`, and `NodeCore::error` reads it
//   only after loading `Failed` with `Acquire`; the state never leaves
//   `Failed`, so every read happens after the one write and none races it.
//   From then on it is shared read-only, which `TaskError: Sync` allows;
//   `TaskError: Send` covers dropping it on another thread.
unsafe impl Sync for NodeCore {}

pub(crate) struct CoreInit {
    pub(crate) name: NodeName,
    pub(crate) kind: NodeKind,
    pub(crate) state: NodeState,
    pub(crate) finished: bool,
}

impl NodeCore {
    pub(crate) fn new(graph: &'static GraphShared, init: CoreInit) -> NodeCore {
        let recording = graph.is_recording();
        let timed = recording || graph.is_timing();
        let extra = if timed {
            Box::into_raw(Box::new(Extra {
                timed: true,
                times: [
                    AtomicU64::new(graph.now_ns()),
                    AtomicU64::new(0),
                    AtomicU64::new(0),
                ],
                error: UnsafeCell::new(None),
            }))
        } else {
            std::ptr::null_mut()
        };
        NodeCore {
            id: NodeId::next(),
            name: init.name,
            kind: init.kind,
            state: StateWord::new(init.state),
            successors_lock: SpinFlag::new(),
            successors: UnsafeCell::new(SuccessorList::new(init.finished)),
            extra: AtomicPtr::new(extra),
            worker: AtomicU16::new(NO_WORKER),
            graph: graph.index(),
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

    /// The graph this node belongs to.
    #[inline]
    pub(crate) fn graph(&self) -> &'static GraphShared {
        self.graph.graph()
    }

    fn extra(&self) -> Option<&Extra> {
        // SAFETY: a non-null `extra` came from `Box::into_raw` and is freed
        // only in `Drop`; the `Acquire` load pairs with the `Release` store
        // (or the `Arc`'s publication) after it was built.
        unsafe { self.extra.load(Ordering::Acquire).as_ref() }
    }

    /// The timestamps, if this node is timed.
    fn timestamps(&self) -> Option<&[AtomicU64; 3]> {
        self.extra().filter(|e| e.timed).map(|e| &e.times)
    }

    /// The error, once the node has failed.
    pub(crate) fn error(&self) -> Option<&TaskError> {
        if self.state.load() != NodeState::Failed {
            return None;
        }
        // SAFETY: `Failed` was loaded with `Acquire` after the claimant
        // wrote the error and stored `Failed` with `Release`; nothing writes
        // the error afterwards (see the `Sync` impl).
        self.extra()
            .and_then(|e| unsafe { (*e.error.get()).as_ref() })
    }

    pub(crate) fn worker(&self) -> Option<u32> {
        match self.worker.load(Ordering::Relaxed) {
            NO_WORKER => None,
            w => Some(u32::from(w)),
        }
    }

    /// `[created, started, finished]`, ns since the graph's epoch; `None`
    /// where not measured.
    pub(crate) fn times(&self) -> [Option<u64>; 3] {
        match self.timestamps() {
            Some(times) => times.each_ref().map(|t| match t.load(Ordering::Relaxed) {
                0 => None,
                ns => Some(ns),
            }),
            None => [None; 3],
        }
    }

    /// A ready-made node: it was created, started and finished just now.
    pub(crate) fn publish_ready_times(&self) {
        if let Some(times) = self.timestamps() {
            let now = times[0].load(Ordering::Relaxed);
            times[1].store(now, Ordering::Relaxed);
            times[2].store(now, Ordering::Relaxed);
        }
    }

    fn successors(&self) -> SpinGuard<'_, SuccessorList> {
        // SAFETY: `successors` is reached only here and through `&mut self`.
        unsafe { self.successors_lock.lock(&self.successors) }
    }

    /// Adds a successor, or hands it back if this node already finished.
    pub(crate) fn add_successor(&self, successor: Successor) -> Result<(), Successor> {
        self.successors().push(successor)
    }

    /// Marks the successor list closed and takes it (completion only).
    pub(crate) fn close_successors(&self) -> SmallList<Successor> {
        self.successors().close()
    }

    pub(crate) fn mark_started(&self) {
        if let Some(index) = hpyx_engine::current_worker_index() {
            // Below `NO_WORKER` (see its assertion).
            self.worker.store(index as u16, Ordering::Relaxed);
        }
        if let Some(times) = self.timestamps() {
            times[1].store(self.graph().now_ns(), Ordering::Relaxed);
        }
    }

    /// Claimant: publish the final state (after the value or error is set).
    pub(crate) fn publish(&self, state: NodeState, error: Option<TaskError>) {
        debug_assert!(error.is_none() || state == NodeState::Failed);
        if let Some(times) = self.timestamps() {
            let now = self.graph().now_ns();
            times[2].store(now, Ordering::Relaxed);
            if times[1].load(Ordering::Relaxed) == 0 {
                times[1].store(now, Ordering::Relaxed);
            }
        }
        if let Some(error) = error {
            match self.extra() {
                // SAFETY: only the claimant calls `publish`, once, while the
                // state is `Running`; readers look only after seeing
                // `Failed`, stored below (see the `Sync` impl), so nothing
                // reads or writes the error concurrently.
                Some(extra) => unsafe { *extra.error.get() = Some(error) },
                None => {
                    let extra = Box::new(Extra {
                        timed: false,
                        times: Default::default(),
                        error: UnsafeCell::new(Some(error)),
                    });
                    self.extra.store(Box::into_raw(extra), Ordering::Release);
                }
            }
        }
        self.state.transition_to_finished(state);
        self.report_finished(state);
    }

    /// Tells the graph's finish hook (tracing), if one is set and this node
    /// is timed.
    #[inline]
    fn report_finished(&self, state: NodeState) {
        if self.timestamps().is_some() && self.graph().is_hooked() {
            let [created_ns, started_ns, finished_ns] = self.times();
            self.graph().report_finished(&FinishedNode {
                id: self.id,
                name: &self.name,
                state,
                created_ns,
                started_ns,
                finished_ns,
                worker: self.worker(),
                error: self.error(),
            });
        }
    }

    /// Claimant of a cancelled node: note when it finished.
    pub(crate) fn mark_cancelled_times(&self) {
        if let Some(times) = self.timestamps() {
            times[2].store(self.graph().now_ns(), Ordering::Relaxed);
        }
        self.report_finished(NodeState::Cancelled);
    }
}

impl Drop for NodeCore {
    fn drop(&mut self) {
        let extra = *self.extra.get_mut();
        if !extra.is_null() {
            // SAFETY: from `Box::into_raw`, and this is its last use.
            drop(unsafe { Box::from_raw(extra) });
        }
        let successors = self.successors.get_mut();
        // A node that ran has emptied its successor list: nothing to hand
        // over. (The input side hands over its inputs itself.)
        if successors.is_empty() {
            return;
        }
        drop_iteratively(successors.take_nodes());
    }
}

/// The type-erased face of a node, as inputs, successors and the pool see it.
pub(crate) trait GraphNode: Job {
    fn core(&self) -> &NodeCore;

    /// `None` for a node built without inputs.
    fn input_side(&self) -> Option<&InputSide>;

    /// The value, if the node succeeded.
    fn value_any(&self) -> Option<&dyn Any>;

    /// Claimant: run the function on `inputs`, store the value. Returns the
    /// final state and error. Panics in the function become errors.
    fn run_body(&self, inputs: &[Arc<dyn GraphNode>]) -> (NodeState, Option<TaskError>);

    /// Claimant: drop the function without running it.
    fn discard_body(&self);

    /// Calls `f` on each input in order, holding this node's input lock (lock
    /// order: a dependent's inputs before an input's successors).
    fn for_each_input(&self, f: impl FnMut(usize, &Arc<dyn GraphNode>))
    where
        Self: Sized,
    {
        if let Some(side) = self.input_side() {
            side.for_each(f);
        }
    }

    fn inputs_snapshot(&self) -> Vec<Arc<dyn GraphNode>> {
        match self.input_side() {
            Some(side) => side.snapshot(),
            None => Vec::new(),
        }
    }

    /// The builder is done wiring: release the construction guard. `Ready`
    /// means the caller must schedule the node.
    #[inline]
    fn release_guard(&self) -> Readiness {
        match self.input_side() {
            Some(side) => side.release_guard(),
            // No inputs: the guard was all the node waited for.
            None => Readiness::Ready,
        }
    }

    /// Called when input `index` finished, in state `input_state`. `Ready`
    /// means the caller must schedule this node.
    #[inline]
    fn input_finished(&self, index: usize, input_state: NodeState) -> Readiness {
        self.input_side()
            .expect("only a node with inputs hears of one finishing")
            .input_finished(self.core().kind(), index, input_state)
    }

    /// The first input, in argument order, that failed or was cancelled.
    /// Called once every input finished (the count reached zero).
    fn first_unsuccessful_input(&self) -> Option<Result<(), TaskError>> {
        self.input_side()?.first_unsuccessful()
    }

    /// True if some input failed or was cancelled while this node still
    /// waits for others: [`GraphNode::decided_early`] may settle it now.
    #[inline]
    fn may_be_decided_early(&self) -> bool {
        let core = self.core();
        matches!(core.kind(), NodeKind::Pooled | NodeKind::Inline)
            && self
                .input_side()
                .is_some_and(|side| side.has_unsuccessful_input())
            && core.state.load() == NodeState::Pending
    }

    /// The outcome, if it is already settled although some inputs are still
    /// running: every input before the first unsuccessful one (in argument
    /// order) has succeeded, so that one decides, whatever the later inputs
    /// do. Amortised O(1) per input: the scan resumes where it stopped.
    fn decided_early(&self) -> Option<Result<(), TaskError>> {
        self.input_side()?.decided_early()
    }

    /// The inputs, for the function about to run (claimant only). Unless the
    /// node keeps history, the node lets go of them: they are dropped once
    /// the function returns.
    fn take_inputs_for_run(&self) -> NodeList {
        match self.input_side() {
            Some(side) => side.take_for_run(),
            None => NodeList::new(),
        }
    }

    /// Claimant of a node that will never run: drop its inputs now (unless
    /// recording keeps them).
    fn release_inputs(&self) {
        if let Some(side) = self.input_side() {
            side.release();
        }
    }
}

/// The typed face of a node, as a [`Future`](crate::Future) sees it,
/// whichever its input side.
pub(crate) trait ValueNode<T>: GraphNode {
    /// The value, once the node has succeeded.
    fn value(&self) -> Option<&T>;

    /// Claimant only, before it publishes `Succeeded`.
    fn set_value(&self, value: T);
}

/// The function of a node: gets its inputs (in argument order) and the
/// `when_any` winner.
pub(crate) trait NodeFn<T>:
    FnOnce(&Inputs<'_>) -> Result<T, TaskError> + Send + 'static
{
}

impl<T, F: FnOnce(&Inputs<'_>) -> Result<T, TaskError> + Send + 'static> NodeFn<T> for F {}

/// A node's function, boxed: for a function too large to keep in the node
/// itself (see [`fits_in_node`]).
pub(crate) type Body<T> = Box<dyn FnOnce(&Inputs<'_>) -> Result<T, TaskError> + Send>;

/// Whether a node keeps the function `F` itself rather than a [`Body`]: if
/// its slot is no larger that way (for a Python task, a callable and an
/// argument tuple: two non-null pointers, the size of the box). A function
/// kept in the node saves an allocation per node (32 bytes per pending
/// task, and a `malloc`/`free` pair); a larger one would move every node of
/// its type up a size class, so it is boxed.
pub(crate) const fn fits_in_node<T, F>() -> bool {
    size_of::<Slot<T, F>>() <= size_of::<Slot<T, Body<T>>>()
        && align_of::<F>() <= align_of::<Body<T>>()
}

/// A node's inputs, as its function sees them.
pub struct Inputs<'a> {
    nodes: &'a [Arc<dyn GraphNode>],
    winner: Option<usize>,
    name: &'a NodeName,
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

    /// The name of the node being run, so a function can label its errors
    /// without keeping a copy of the name in its own closure (one task
    /// closure of a name and three pointers is 48 bytes; of the pointers
    /// alone, 32).
    pub fn name(&self) -> &'a NodeName {
        self.name
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

/// A node producing a `T`. `S` is its input side: [`NoInputs`] (nothing at
/// all) for a node built without inputs, such as every `spawn`, or an
/// [`InputSide`] kept in the same allocation. Two layouts rather than one
/// with an optional boxed side: the common input-less node stays small and a
/// node with inputs still costs one allocation, not two.
pub(crate) struct Node<T, S = NoInputs, F = Body<T>> {
    pub(crate) core: NodeCore,
    /// The function, then the value (see [`Slot`]). Touched only by the
    /// claimant until it publishes `Succeeded`, and read only after
    /// `Succeeded` is seen (see [`ValueNode::value`]).
    slot: UnsafeCell<Slot<T, F>>,
    inputs: S,
}

/// What a node holds besides its core: its function until the claimant
/// takes it, then its value. One field for both, as they never coexist: for
/// a pointer-sized `T` (a Python object) the pair takes 16 bytes instead of
/// 24, the function's pointer lending its spare (null) value to tell the
/// variants apart.
pub(crate) enum Slot<T, F> {
    /// The function, not yet taken: a [`Body`], or the function itself if
    /// it [fits](fits_in_node).
    Body(F),
    /// The value once the node succeeded; `None` before that, and for good
    /// if it fails or is cancelled.
    Value(Option<T>),
}

// SAFETY: `slot` is the field that is not `Sync` (`NodeCore` is, see its
// own impl; `S: Sync` is required).
// - It is written at construction (the function, or for a ready node its
//   value, published with the `Arc`) and afterwards touched only by the
//   node's claimant (the one thread that won `transition_to_running` or
//   `transition_to_cancelled`, see `state.rs`), which takes the function
//   and writes the value at most once, before its `Release` store of
//   `Succeeded`; or through `&mut self` in `Drop`.
// - Readers first load the state with `Acquire` and read only after seeing
//   `Succeeded`, and the state never leaves `Succeeded`, so every read
//   happens after the claimant's last write and none races it. From then on
//   the value is shared read-only, which `T: Sync` allows; `T: Send` covers
//   dropping it (and the function, which is `Send`) on another thread.
unsafe impl<T: Send + Sync, S: Sync, F: Send> Sync for Node<T, S, F> {}

impl<T: Send + Sync + 'static, S: Side, F: NodeFn<T>> Node<T, S, F> {
    pub(crate) fn new(core: NodeCore, body: Option<F>, inputs: S) -> Node<T, S, F> {
        let slot = match body {
            Some(body) => Slot::Body(body),
            None => Slot::Value(None),
        };
        Node {
            core,
            slot: UnsafeCell::new(slot),
            inputs,
        }
    }

    /// Claimant only.
    fn take_body(&self) -> Option<F> {
        // SAFETY: only the claimant calls this, before it publishes a final
        // state (see the `Sync` impl), so there is no concurrent access to
        // the slot.
        let slot = unsafe { &mut *self.slot.get() };
        match std::mem::replace(slot, Slot::Value(None)) {
            Slot::Body(body) => Some(body),
            value => {
                *slot = value;
                None
            }
        }
    }
}

impl<T: Send + Sync + 'static> Node<T> {
    /// A node whose core is already `Succeeded`.
    pub(crate) fn with_value(core: NodeCore, value: T) -> Node<T> {
        debug_assert_eq!(core.state.load(), NodeState::Succeeded);
        Node {
            core,
            slot: UnsafeCell::new(Slot::Value(Some(value))),
            inputs: NoInputs,
        }
    }
}

impl<T: Send + Sync + 'static, S: Side, F: NodeFn<T>> ValueNode<T> for Node<T, S, F> {
    #[inline]
    fn value(&self) -> Option<&T> {
        if self.core.state.load() != NodeState::Succeeded {
            return None;
        }
        // SAFETY: `Succeeded` was loaded with `Acquire` after the claimant
        // wrote the value and stored `Succeeded` with `Release`; nothing
        // writes the slot afterwards (see the `Sync` impl).
        match unsafe { &*self.slot.get() } {
            Slot::Value(value) => value.as_ref(),
            Slot::Body(_) => None,
        }
    }

    fn set_value(&self, value: T) {
        debug_assert_eq!(self.core.state.load(), NodeState::Running);
        // SAFETY: only the claimant writes, once, while the state is
        // `Running`; readers look only after seeing `Succeeded` (see the
        // `Sync` impl), so nothing reads or writes it concurrently.
        unsafe { *self.slot.get() = Slot::Value(Some(value)) };
    }
}

impl<T: Send + Sync + 'static, S: Side, F: NodeFn<T>> GraphNode for Node<T, S, F> {
    fn core(&self) -> &NodeCore {
        &self.core
    }

    #[inline]
    fn input_side(&self) -> Option<&InputSide> {
        self.inputs.get()
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
            winner: self.input_side().and_then(InputSide::winner),
            name: &self.core.name,
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

impl<T: Send + Sync + 'static, S: Side, F: NodeFn<T>> Job for Node<T, S, F> {
    /// The pool runs a `Pooled` node: claim it, run its function, walk its
    /// successors; the first successor made ready comes back as a tail job.
    fn run(self: Arc<Self>) -> Option<JobRef> {
        if self.core.state.transition_to_running() == TransitionToRunning::Cancelled {
            // The canceller completed it already.
            return None;
        }
        self.core.mark_started();
        let inputs = self.take_inputs_for_run();
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

// Not under loom: its atomics are larger than the real ones.
#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// What a node costs the allocator: an `Arc`'s two counts and the node.
    const ARC_COUNTS: usize = 2 * size_of::<usize>();

    /// What every node has: id, name, successor list, `Extra` pointer (8
    /// bytes each, the list 24), graph index and worker (2 each), kind,
    /// state and the list's lock bit (1 each): 55 bytes, 56 aligned.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn node_core_is_56_bytes() {
        assert_eq!(size_of::<NodeCore>(), 56);
    }

    /// A pending task made by `spawn` (Python's `executor.submit`) is one
    /// allocation holding a node with no inputs, `T` pointer-sized
    /// (`Py<PyAny>`). mimalloc, the Python module's allocator, rounds it up
    /// to a size class (..., 64, 80, 96, 112, 128, 160, 192, ...), so this
    /// bound is the memory each pending task costs in the graph: one field
    /// too many moves every such node up a class (16 bytes more, 16 MB per
    /// million pending tasks).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn node_without_inputs_fits_the_96_byte_size_class() {
        let node = size_of::<Node<Box<u8>>>();
        assert!(
            node + ARC_COUNTS <= 96,
            "Node<pointer> is {node} bytes (NodeCore {}): over 96 with the Arc counts",
            size_of::<NodeCore>(),
        );
    }

    /// A node with inputs (`then`, `dataflow`, `when_all`) carries its input
    /// side in the same allocation, so its size class is what each such
    /// pending task costs: most nodes of a pipeline are such dependents.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn node_with_inputs_fits_the_128_byte_size_class() {
        assert_eq!(size_of::<InputSide>(), 32);
        let node = size_of::<Node<Box<u8>, InputSide>>();
        assert!(
            node + ARC_COUNTS <= 128,
            "Node<pointer, InputSide> is {node} bytes (InputSide {}): over 128 with the Arc counts",
            size_of::<InputSide>(),
        );
    }

    /// A function of two non-null pointers (a Python task's callable and
    /// argument tuple) stays in the node, and the node still fits the
    /// 96-byte class: the slot tells the function from the value by the
    /// function's first pointer, as it does for a box.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_two_pointer_function_stays_in_the_node() {
        fn two_pointers(
            a: Box<u8>,
            b: Box<u8>,
        ) -> impl FnOnce(&Inputs<'_>) -> Result<Box<u8>, TaskError> + Send {
            move |_: &Inputs<'_>| Ok(Box::new(*a + *b))
        }
        fn node_size<F: NodeFn<Box<u8>>>(_: &F) -> (bool, usize) {
            (
                fits_in_node::<Box<u8>, F>(),
                size_of::<Node<Box<u8>, NoInputs, F>>(),
            )
        }
        let (fits, node) = node_size(&two_pointers(Box::new(1), Box::new(2)));
        assert!(fits);
        assert!(node + ARC_COUNTS <= 96, "{node} bytes");
        // Three pointers do not fit: such a function is boxed.
        let (a, b, c) = (Box::new(1u8), Box::new(2u8), Box::new(3u8));
        let (fits, _) = node_size(&move |_: &Inputs<'_>| Ok(Box::new(*a + *b + *c)));
        assert!(!fits);
    }
}
