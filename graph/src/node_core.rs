//! [`NodeCore`]: what every node has, whatever its value type and whether
//! it has inputs: id, name, state, successor list, graph, worker, and the
//! rarely needed [`Extra`] (timings, error) behind a pointer.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicPtr, AtomicU16, AtomicU64, Ordering};

use crate::drop_queue::drop_iteratively;
use crate::error::TaskError;
use crate::graph::GraphShared;
use crate::graph_index::GraphIndex;
use crate::hooks::FinishedNode;
use crate::name::{NodeId, NodeName};
use crate::slot::SlotTag;
use crate::small::SmallList;
use crate::spin::{SpinFlag, SpinGuard};
use crate::state::{NodeState, StateWord};
use crate::successors::{Successor, SuccessorList};

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
    /// What the node's slot holds (its function, its value or nothing): a
    /// byte the node's other fields leave spare, which the slot itself
    /// would otherwise pad to a word (see `slot.rs`). Used by `Node` alone.
    pub(crate) slot_tag: SlotTag,
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
            slot_tag: SlotTag::new(),
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

// Not under loom: its atomics are larger than the real ones.
#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// What every node has: id, name, successor list, `Extra` pointer (8
    /// bytes each, the list 24), graph index and worker (2 each), kind,
    /// state, the list's lock bit and the slot's tag (1 each): 56 bytes,
    /// with no padding. The size tests in `node.rs` add what each kind of
    /// node holds besides.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn node_core_is_56_bytes() {
        assert_eq!(size_of::<NodeCore>(), 56);
    }
}
