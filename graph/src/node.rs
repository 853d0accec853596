//! Nodes: [`Node<T, S>`], a [`NodeCore`] with the node's function, then
//! its value (see `slot.rs`), and, for a node built with inputs, its input
//! side (`S`: see `input_side.rs`); and the faces the rest of the graph
//! sees a node through.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use hpyx_engine::{Job, JobRef};

use crate::error::{Outcome, TaskError};
use crate::input_side::{InputSide, NoInputs, NodeList, Side};
use crate::name::NodeName;
pub(crate) use crate::node_core::{CoreInit, NodeCore, NodeKind};
use crate::pending::Readiness;
use crate::slot::SlotCell;
pub(crate) use crate::slot::{fits_in_node, Body, NodeFn};
use crate::state::{NodeState, TransitionToRunning};
use crate::walk::CompletionWalk;

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
    /// The function, then the value (see `slot.rs`).
    slot: SlotCell<T, F>,
    inputs: S,
}

impl<T: Send + Sync + 'static, S: Side, F: NodeFn<T>> Node<T, S, F> {
    pub(crate) fn new(mut core: NodeCore, body: Option<F>, inputs: S) -> Node<T, S, F> {
        let slot = SlotCell::new(&mut core.slot_tag, body);
        Node { core, slot, inputs }
    }

    /// Claimant only, before it publishes a final state.
    fn take_body(&self) -> Option<F> {
        // SAFETY: only the claimant calls this (`run_body`, `discard_body`),
        // before it publishes the final state.
        // `slot_tag` is the slot's own.
        unsafe { self.slot.take_body(&self.core.slot_tag) }
    }
}

impl<T: Send + Sync + 'static> Node<T> {
    /// A node whose core is already `Succeeded`.
    pub(crate) fn with_value(mut core: NodeCore, value: T) -> Node<T> {
        debug_assert_eq!(core.state.load(), NodeState::Succeeded);
        let slot = SlotCell::with_value(&mut core.slot_tag, value);
        Node {
            core,
            slot,
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
        // SAFETY: `Succeeded` was loaded (with `Acquire`) just above, and
        // `slot_tag` is the slot's own.
        unsafe { self.slot.value(&self.core.slot_tag) }
    }

    fn set_value(&self, value: T) {
        debug_assert_eq!(self.core.state.load(), NodeState::Running);
        // SAFETY: only the claimant calls this, once, while the state is
        // `Running`, after it took the function and before it publishes
        // `Succeeded`; `slot_tag` is the slot's own.
        unsafe { self.slot.set_value(&self.core.slot_tag, value) };
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
            name: self.core.name(),
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

impl<T, S, F> Drop for Node<T, S, F> {
    fn drop(&mut self) {
        // SAFETY: `slot_tag` is the slot's own, and the slot is not used
        // after the node's drop.
        unsafe { self.slot.drop_contents(&mut self.core.slot_tag) };
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
    /// pending task costs: most nodes of a pipeline are such dependents. A
    /// Python `then(fn)` or `dataflow(fn, *futures)` node keeps `fn` alone
    /// (one pointer) in its slot: 112 bytes with the `Arc` counts; with a
    /// boxed function, 128.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn node_with_inputs_fits_the_112_byte_size_class() {
        fn one_pointer(
            a: Box<u8>,
        ) -> impl FnOnce(&Inputs<'_>) -> Result<Box<u8>, TaskError> + Send {
            move |_: &Inputs<'_>| Ok(a)
        }
        fn node_size<F: NodeFn<Box<u8>>>(_: &F) -> (bool, usize) {
            (
                fits_in_node::<Box<u8>, F>(),
                size_of::<Node<Box<u8>, InputSide, F>>(),
            )
        }
        assert_eq!(size_of::<InputSide>(), 32);
        let (fits, node) = node_size(&one_pointer(Box::new(1)));
        assert!(fits);
        assert!(
            node + ARC_COUNTS <= 112,
            "Node<pointer, InputSide, one pointer> is {node} bytes: over 112 with the Arc counts",
        );
        let boxed = size_of::<Node<Box<u8>, InputSide>>();
        assert!(
            boxed + ARC_COUNTS <= 128,
            "Node<pointer, InputSide> is {boxed} bytes: over 128 with the Arc counts",
        );
    }

    /// A function of two non-null pointers (a Python task's callable and
    /// argument tuple) stays in the node, and the node still fits the
    /// 96-byte class: the slot is the larger of the function and the value,
    /// as it is for a box.
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
