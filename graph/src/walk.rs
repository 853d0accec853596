//! The completion walk: propagating a node's completion to its successors,
//! iteratively.
//!
//! A walk holds two work lists:
//!
//! - `finished`: nodes whose final state is published and whose successors
//!   still have to hear about it;
//! - `ready`: `Pooled` nodes whose last input just finished, to be pushed to
//!   the pool.
//!
//! `drive` pops `finished` until it is empty. Notifying a dependent
//! decrements its pending count; a dependent that reaches zero either
//! completes inline (an input failed or was cancelled, or it is an `Inline`
//! or `WhenAny` node) and goes onto `finished`, or goes onto `ready`. A
//! failure does not wait for the other inputs once it is sure to be the
//! first in argument order (`settle_early`): the dependent fails at once. Nothing
//! recurses, so a chain of 100,000 failures or a fan-in of 1,000,000 inputs
//! completes on a small stack. At the end the ready nodes are pushed; on a
//! worker, the last one is returned as the worker's next (tail) job.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use hpyx_engine::JobRef;

use crate::error::TaskError;
use crate::graph::GraphShared;
use crate::node::{GraphNode, NodeKind};
use crate::pending::Readiness;
use crate::small::SmallList;
use crate::state::{NodeState, TransitionToCancelled, TransitionToReady, TransitionToRunning};
use crate::successors::Successor;

/// The work lists of one walk. The common walk (a node finishes and makes
/// up to three dependents ready) keeps them inline and allocates nothing.
pub(crate) struct CompletionWalk {
    finished: Vec<Arc<dyn GraphNode>>,
    ready: SmallList<Arc<dyn GraphNode>>,
}

impl CompletionWalk {
    pub(crate) fn new() -> CompletionWalk {
        CompletionWalk {
            finished: Vec::new(),
            ready: SmallList::new(),
        }
    }

    /// `node`'s final state is published; notify its successors.
    pub(crate) fn push_finished(&mut self, node: Arc<dyn GraphNode>) {
        self.finished.push(node);
    }

    /// `node`'s pending count reached zero (the caller brought it there).
    pub(crate) fn became_ready(&mut self, node: Arc<dyn GraphNode>) {
        let core = node.core();
        let propagated = match core.kind() {
            NodeKind::WhenAny | NodeKind::Promise => None,
            NodeKind::Pooled | NodeKind::Inline => node.first_unsuccessful_input(),
        };
        match propagated {
            // An input failed or was cancelled: the function never runs.
            Some(outcome) => self.settle_without_running(node, outcome),
            None if core.kind() == NodeKind::Pooled => {
                if core.state.transition_to_ready() == TransitionToReady::Success {
                    self.ready.push(node);
                }
            }
            None => {
                if core.state.transition_to_running() == TransitionToRunning::Success {
                    core.mark_started();
                    let inputs = node.take_inputs_for_run();
                    let (state, error) = node.run_body(&inputs);
                    // Plain drops: a node's own `Drop` hands its references
                    // to the drop queue, so no drop recurses deeply.
                    drop(inputs);
                    core.publish(state, error);
                    self.finished.push(node);
                }
            }
        }
    }

    /// An input of `node` failed or was cancelled while others still run:
    /// if the inputs before it (in argument order) all succeeded, `node`
    /// ends now, the same way, without waiting for the rest.
    fn settle_early(&mut self, node: Arc<dyn GraphNode>) {
        if let Some(outcome) = node.decided_early() {
            self.settle_without_running(node, outcome);
        }
    }

    /// Claims `node` and ends it like its first unsuccessful input: failed
    /// with that error (`Err`) or cancelled (`Ok`), its function dropped
    /// unrun. Does nothing if another thread claimed it first.
    fn settle_without_running(&mut self, node: Arc<dyn GraphNode>, outcome: Result<(), TaskError>) {
        let core = node.core();
        if core.state.transition_to_running() == TransitionToRunning::Success {
            node.discard_body();
            node.release_inputs();
            match outcome {
                Err(error) => core.publish(NodeState::Failed, Some(error)),
                Ok(()) => core.publish(NodeState::Cancelled, None),
            }
            self.finished.push(node);
        }
    }

    /// Closes `node`'s successor list and notifies each entry (`node`'s
    /// final state is published). The walk lets go of `node` first, so a
    /// waiter that drops its last handle as soon as it wakes frees the node
    /// (and its value) itself.
    pub(crate) fn notify_successors(&mut self, node: Arc<dyn GraphNode>) {
        let core = node.core();
        let state = core.state.load();
        let id = core.id();
        let successors = core.close_successors();
        drop(node);
        for successor in successors {
            match successor {
                Successor::Node {
                    node: dependent,
                    input_index,
                } => {
                    let readiness = dependent.input_finished(input_index as usize, state);
                    if readiness == Readiness::Ready {
                        self.became_ready(dependent);
                    } else if dependent.may_be_decided_early() {
                        self.settle_early(dependent);
                    }
                }
                Successor::Latch(latch) => latch.set(),
                Successor::Callback(callback) => {
                    if let Err(payload) = catch_unwind(AssertUnwindSafe(callback)) {
                        eprintln!(
                            "hpyx: a completion callback of node {id} panicked: {}",
                            hpyx_engine::panic_message(&*payload)
                        );
                    }
                }
            }
        }
    }

    /// Where in `ready` the last node of the calling worker's own pool is,
    /// if any: it may run next on this worker, as a tail job.
    fn tail_position(&self) -> Option<usize> {
        // Walks rarely cross graphs: ask each graph's pool once.
        let mut known: Option<(*const GraphShared, bool)> = None;
        self.ready.iter().rposition(|node| {
            let graph = node.core().graph();
            match known {
                Some((g, answer)) if std::ptr::eq(g, graph) => answer,
                _ => {
                    let answer = graph.pool().current_worker_index().is_some();
                    known = Some((graph, answer));
                    answer
                }
            }
        })
    }

    /// Runs the walk to the end and schedules the ready nodes. With
    /// `allow_tail` on one of the graph's workers, returns one of them for
    /// the caller to run next instead of pushing it.
    pub(crate) fn drive(mut self, allow_tail: bool) -> Option<JobRef> {
        loop {
            while let Some(node) = self.finished.pop() {
                self.notify_successors(node);
            }
            if self.ready.is_empty() {
                return None;
            }
            let tail_position = if allow_tail {
                self.tail_position()
            } else {
                None
            };
            let mut tail = None;
            for (position, node) in std::mem::take(&mut self.ready).into_iter().enumerate() {
                if Some(position) == tail_position {
                    tail = Some(node);
                    continue;
                }
                // Each node goes to its own graph's pool (a walk can cross
                // graphs: an input of one graph, a dependent of another).
                let pool = node.core().graph().pool();
                if let Err(job) = pool.push(node) {
                    // The pool is shut down: the node ends cancelled (its
                    // own walk tells its dependents, which are cancelled
                    // in turn without being pushed anywhere).
                    job.cancel();
                }
            }
            if self.finished.is_empty() {
                return tail.map(|node| node as JobRef);
            }
            if let Some(node) = tail {
                // Keep the loop simple: push the tail too.
                self.ready.push(node);
            }
        }
    }
}

/// Claims `node` as cancelled (from Pending or Ready) and completes it:
/// drops its function and inputs, publishes `Cancelled`. False if it was
/// already claimed.
pub(crate) fn claim_cancelled(node: &Arc<dyn GraphNode>) -> bool {
    let core = node.core();
    match core.state.transition_to_cancelled() {
        TransitionToCancelled::Success => {
            node.discard_body();
            node.release_inputs();
            core.mark_cancelled_times();
            true
        }
        TransitionToCancelled::Running | TransitionToCancelled::Finished => false,
    }
}

/// Cancels `node` if it has not started, and propagates; true on success.
pub(crate) fn cancel_node(node: Arc<dyn GraphNode>) -> bool {
    if !claim_cancelled(&node) {
        return false;
    }
    let mut walk = CompletionWalk::new();
    walk.push_finished(node);
    if let Some(tail) = walk.drive(false) {
        drop(tail);
    }
    true
}
