//! A node's input side: its inputs, and what is tracked about them while
//! they finish (how many are still pending, whether one failed, the
//! `when_any` winner).
//!
//! Only a node built with inputs has one: it is the `S` of `Node<T, S>`,
//! in the node's own allocation. A node built without inputs, as most
//! pending nodes are (`spawn`, Python's `executor.submit`), has
//! [`NoInputs`] there, which takes no space: such a node stays 32 bytes
//! smaller, a smaller allocator size class (see the size tests in
//! `node.rs`), and its construction guard is all it waits for. A node with
//! inputs keeps its side small too (a two-word input list, 32-bit counts,
//! the list's lock bit beside the other one-byte fields: 32 bytes in all):
//! pipelines are made mostly of such nodes, waiting on their inputs.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use crate::compact_list::CompactList;
use crate::drop_queue::drop_iteratively;
use crate::error::TaskError;
use crate::node::{GraphNode, NodeKind};
use crate::pending::{PendingInputs, Readiness};
use crate::small::SmallList;
use crate::spin::{SpinFlag, SpinGuard};
use crate::state::NodeState;

/// A node's inputs, in argument order, as they are built and handed to the
/// node's function (three or fewer are kept inline).
pub(crate) type NodeList = SmallList<Arc<dyn GraphNode>>;

const NO_WINNER: u32 = u32::MAX;

pub(crate) struct InputSide {
    /// Inputs in argument order, under `inputs_lock`. Released once the
    /// node has run, unless the node was created while recording
    /// (`keep_history`). Kept compact (one inline, more boxed) while the
    /// node is pending.
    inputs: UnsafeCell<CompactList<Arc<dyn GraphNode>>>,
    /// Unfinished inputs, plus the construction guard (see `pending.rs`).
    pending: PendingInputs,
    /// How many leading inputs are known to have succeeded (read and written
    /// under the `inputs` lock): lets `decided_early` scan each input once.
    succeeded_prefix: AtomicU32,
    /// For `WhenAny`: the index of the first input to finish.
    winner: AtomicU32,
    /// The lock of `inputs`: apart from it (a `SpinLock` would pad the
    /// list's 16 bytes to 24), beside the other one-byte fields.
    inputs_lock: SpinFlag,
    /// Set (before the input counts itself finished) by any input that
    /// failed or was cancelled, so that the common case, every input
    /// succeeded, need not look at the inputs again.
    unsuccessful_input: AtomicBool,
    /// The node was created while recording: it keeps its inputs (and so
    /// its edges) after it ran, for the recording's snapshot.
    keep_history: bool,
}

// SAFETY: `inputs` is the field that is not `Sync`. It is reached only
// through `InputSide::inputs`, under `inputs_lock`, or through `&mut self`
// (`Drop`), see `SpinFlag::lock`; so sharing an `InputSide` only moves
// `&mut` access to the list between threads in turn, which the list's
// `Send` allows (its items are `Arc<dyn GraphNode>`, `Send` and `Sync`).
unsafe impl Sync for InputSide {}

impl InputSide {
    /// `inputs` (not empty), of which `pending_inputs` must finish before
    /// the node may be scheduled.
    pub(crate) fn new(inputs: NodeList, pending_inputs: usize, keep_history: bool) -> InputSide {
        debug_assert!(!inputs.is_empty());
        InputSide {
            inputs: UnsafeCell::new(CompactList::from(inputs)),
            pending: PendingInputs::with_guard(pending_inputs),
            succeeded_prefix: AtomicU32::new(0),
            winner: AtomicU32::new(NO_WINNER),
            inputs_lock: SpinFlag::new(),
            unsuccessful_input: AtomicBool::new(false),
            keep_history,
        }
    }

    #[inline]
    fn inputs(&self) -> SpinGuard<'_, CompactList<Arc<dyn GraphNode>>> {
        // SAFETY: `inputs` is reached only here and through `&mut self`.
        unsafe { self.inputs_lock.lock(&self.inputs) }
    }

    pub(crate) fn winner(&self) -> Option<usize> {
        match self.winner.load(Ordering::Acquire) {
            NO_WINNER => None,
            w => Some(w as usize),
        }
    }

    /// Calls `f` on each input in order, holding the input lock (lock order:
    /// a dependent's inputs before an input's successors).
    pub(crate) fn for_each(&self, mut f: impl FnMut(usize, &Arc<dyn GraphNode>)) {
        for (index, input) in self.inputs().iter().enumerate() {
            f(index, input);
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<Arc<dyn GraphNode>> {
        self.inputs().to_vec()
    }

    /// Release the construction guard (see `pending.rs`).
    #[inline]
    pub(crate) fn release_guard(&self) -> Readiness {
        self.pending.release_guard()
    }

    /// Input `index` finished, in state `input_state`. `Ready` means the
    /// caller must schedule the node.
    #[inline]
    pub(crate) fn input_finished(
        &self,
        kind: NodeKind,
        index: usize,
        input_state: NodeState,
    ) -> Readiness {
        if input_state != NodeState::Succeeded {
            // Ordered before the count by the decrement's release.
            self.unsuccessful_input.store(true, Ordering::Relaxed);
        }
        if kind == NodeKind::WhenAny
            && self
                .winner
                .compare_exchange(NO_WINNER, index as u32, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return Readiness::StillWaiting;
        }
        self.pending.input_done()
    }

    /// True once some input failed or was cancelled.
    #[inline]
    pub(crate) fn has_unsuccessful_input(&self) -> bool {
        self.unsuccessful_input.load(Ordering::Relaxed)
    }

    /// The first input, in argument order, that failed or was cancelled.
    /// Called once every input finished (the count reached zero).
    pub(crate) fn first_unsuccessful(&self) -> Option<Result<(), TaskError>> {
        // Every input stored its flag before its (AcqRel) decrement, and the
        // caller's decrement brought the count to zero: all flags are seen.
        if !self.has_unsuccessful_input() {
            return None;
        }
        self.inputs()
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

    /// See [`NodeCore::decided_early`](crate::node::NodeCore::decided_early).
    pub(crate) fn decided_early(&self) -> Option<Result<(), TaskError>> {
        let inputs = self.inputs();
        let mut index = self.succeeded_prefix.load(Ordering::Relaxed) as usize;
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
        // At most the input count, which `PendingInputs` keeps within u32.
        self.succeeded_prefix.store(index as u32, Ordering::Relaxed);
        outcome
    }

    /// The inputs, for the function about to run (claimant only). Unless the
    /// node keeps history, the node lets go of them.
    pub(crate) fn take_for_run(&self) -> NodeList {
        let mut inputs = self.inputs();
        if self.keep_history {
            inputs.iter().cloned().collect()
        } else {
            std::mem::take(&mut *inputs).into()
        }
    }

    /// Claimant of a node that will never run: drop the inputs now (unless
    /// recording keeps them).
    pub(crate) fn release(&self) {
        if !self.keep_history {
            let inputs = std::mem::take(&mut *self.inputs());
            drop_iteratively(NodeList::from(inputs));
        }
    }
}

impl Drop for InputSide {
    fn drop(&mut self) {
        let inputs = std::mem::take(self.inputs.get_mut());
        // A node that ran has let go of its inputs: nothing to hand over.
        if !inputs.is_empty() {
            drop_iteratively(NodeList::from(inputs));
        }
    }
}

/// The input side of a node built without inputs: nothing.
pub(crate) struct NoInputs;

/// What a node keeps about its inputs: an [`InputSide`], or [`NoInputs`].
pub(crate) trait Side: Send + Sync + 'static {
    fn get(&self) -> Option<&InputSide>;
}

impl Side for NoInputs {
    #[inline]
    fn get(&self) -> Option<&InputSide> {
        None
    }
}

impl Side for InputSide {
    #[inline]
    fn get(&self) -> Option<&InputSide> {
        Some(self)
    }
}
