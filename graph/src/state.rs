//! The node state word: one atomic byte, small transitions.
//!
//! ```text
//! Pending --> Ready --> Running --> Succeeded | Failed | Cancelled
//!    |          |
//!    +----------+--> Cancelled            (cancel, only before Running)
//! Pending --> Running                      (inline completion: promises,
//!                                           propagated failures, when_any)
//! ```
//!
//! Exactly one thread *claims* a node: it wins either
//! `transition_to_running` or `transition_to_cancelled`, and only the
//! claimant writes the node's outcome and notifies its successors. The final
//! state is stored with `Release` after the outcome is written, so a reader
//! that loads a final state with `Acquire` sees the outcome.

use crate::loom::sync::atomic::{AtomicU8, Ordering};

/// Where a node is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum NodeState {
    /// Waiting for inputs (or, for a promise, for its value).
    Pending = 0,
    /// All inputs done; queued on the pool.
    Ready = 1,
    /// Its function is running on a worker.
    Running = 2,
    /// Finished with a value.
    Succeeded = 3,
    /// Finished with an error (its own, or an input's).
    Failed = 4,
    /// Cancelled before it started, or an input was cancelled.
    Cancelled = 5,
}

impl NodeState {
    fn from_u8(v: u8) -> NodeState {
        match v {
            0 => NodeState::Pending,
            1 => NodeState::Ready,
            2 => NodeState::Running,
            3 => NodeState::Succeeded,
            4 => NodeState::Failed,
            _ => NodeState::Cancelled,
        }
    }

    /// Succeeded, failed or cancelled.
    pub fn is_finished(self) -> bool {
        self >= NodeState::Succeeded
    }

    /// The lower-case name used in exports (`"pending"`, `"succeeded"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Pending => "pending",
            NodeState::Ready => "ready",
            NodeState::Running => "running",
            NodeState::Succeeded => "succeeded",
            NodeState::Failed => "failed",
            NodeState::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for NodeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToReady {
    Success,
    /// Cancelled while pending: the canceller completed it.
    Cancelled,
}

#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToRunning {
    /// The caller claimed the node.
    Success,
    /// Cancelled first: the canceller claimed it.
    Cancelled,
}

#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToCancelled {
    /// The caller claimed the node; it will never run.
    Success,
    /// Too late: it is running.
    Running,
    /// Too late: it already finished.
    Finished,
}

pub(crate) struct StateWord(AtomicU8);

impl StateWord {
    pub(crate) fn new(state: NodeState) -> StateWord {
        StateWord(AtomicU8::new(state as u8))
    }

    #[inline]
    pub(crate) fn load(&self) -> NodeState {
        NodeState::from_u8(self.0.load(Ordering::Acquire))
    }

    pub(crate) fn transition_to_ready(&self) -> TransitionToReady {
        match self.0.compare_exchange(
            NodeState::Pending as u8,
            NodeState::Ready as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => TransitionToReady::Success,
            Err(_) => TransitionToReady::Cancelled,
        }
    }

    pub(crate) fn transition_to_running(&self) -> TransitionToRunning {
        let mut current = self.0.load(Ordering::Acquire);
        loop {
            if current > NodeState::Ready as u8 {
                return TransitionToRunning::Cancelled;
            }
            match self.0.compare_exchange_weak(
                current,
                NodeState::Running as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return TransitionToRunning::Success,
                Err(actual) => current = actual,
            }
        }
    }

    pub(crate) fn transition_to_cancelled(&self) -> TransitionToCancelled {
        let mut current = self.0.load(Ordering::Acquire);
        loop {
            match NodeState::from_u8(current) {
                NodeState::Pending | NodeState::Ready => {}
                NodeState::Running => return TransitionToCancelled::Running,
                _ => return TransitionToCancelled::Finished,
            }
            match self.0.compare_exchange_weak(
                current,
                NodeState::Cancelled as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return TransitionToCancelled::Success,
                Err(actual) => current = actual,
            }
        }
    }

    /// The claimant publishes the final state, after writing the outcome.
    pub(crate) fn transition_to_finished(&self, state: NodeState) {
        debug_assert!(state.is_finished());
        debug_assert_eq!(self.0.load(Ordering::Relaxed), NodeState::Running as u8);
        self.0.store(state as u8, Ordering::Release);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::Arc;

    /// Cancel races the worker's claim and a second canceller: exactly one
    /// claim wins, and the loser sees why.
    #[test]
    fn loom_cancel_races_run() {
        loom::model(|| {
            let word = Arc::new(StateWord::new(NodeState::Ready));
            let claims = Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = (0..2)
                .map(|i| {
                    let word = Arc::clone(&word);
                    let claims = Arc::clone(&claims);
                    loom::thread::spawn(move || {
                        let won = if i == 0 {
                            word.transition_to_running() == TransitionToRunning::Success
                        } else {
                            word.transition_to_cancelled() == TransitionToCancelled::Success
                        };
                        if won {
                            claims.fetch_add(1, Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            let third = word.transition_to_cancelled();
            if third == TransitionToCancelled::Success {
                claims.fetch_add(1, Ordering::SeqCst);
            }
            for h in handles {
                h.join().unwrap();
            }
            assert_eq!(claims.load(Ordering::SeqCst), 1);
        });
    }

    /// The outcome written before `transition_to_finished` is visible to a
    /// reader that sees the final state.
    #[test]
    fn loom_finished_publishes_outcome() {
        loom::model(|| {
            let word = Arc::new(StateWord::new(NodeState::Running));
            let outcome = Arc::new(AtomicUsize::new(0));
            let (w2, o2) = (Arc::clone(&word), Arc::clone(&outcome));
            let writer = loom::thread::spawn(move || {
                o2.store(42, Ordering::Relaxed);
                w2.transition_to_finished(NodeState::Succeeded);
            });
            if word.load().is_finished() {
                assert_eq!(outcome.load(Ordering::Relaxed), 42);
            }
            writer.join().unwrap();
        });
    }
}
