//! `Promise<T>`: the writing end of an externally completed node.

use crate::error::TaskError;
use crate::future::Future;
use crate::state::{NodeState, TransitionToRunning};
use crate::walk::CompletionWalk;

/// Completes its node once. Dropping it unset fails the node with a
/// broken-promise error, so no waiter hangs on a forgotten promise.
///
/// ```
/// # use hpyx_engine::{Config, ThreadPool};
/// # use hpyx_graph::TaskGraph;
/// # let graph = TaskGraph::new(ThreadPool::new(Config::new().num_workers(1)).unwrap());
/// let (promise, future) = graph.promise::<u32>("input");
/// let doubled = future.then("double", |x| Ok(x * 2));
/// promise.set_value(21);
/// assert_eq!(*doubled.get().unwrap(), 42);
/// ```
pub struct Promise<T: Send + Sync + 'static> {
    future: Option<Future<T>>,
}

impl<T: Send + Sync + 'static> Promise<T> {
    pub(crate) fn new(future: Future<T>) -> Promise<T> {
        Promise {
            future: Some(future),
        }
    }

    /// Completes the node with `value`. Gives the value back if the node
    /// was cancelled first.
    pub fn set_value(mut self, value: T) -> Result<(), T> {
        let future = self.future.take().expect("promise not yet used");
        complete(&future, Ok(value)).map_err(|r| match r {
            Ok(value) => value,
            Err(_) => unreachable!("complete hands back what it was given"),
        })
    }

    /// Fails the node with `error`. False if it was cancelled first.
    pub fn set_error(mut self, error: TaskError) -> bool {
        let future = self.future.take().expect("promise not yet used");
        complete(&future, Err(error)).is_ok()
    }

    /// The future this promise completes.
    pub fn future(&self) -> &Future<T> {
        self.future.as_ref().expect("promise not yet used")
    }
}

fn complete<T: Send + Sync + 'static>(
    future: &Future<T>,
    outcome: Result<T, TaskError>,
) -> Result<(), Result<T, TaskError>> {
    let node = future.node_arc();
    if node.core().state.transition_to_running() == TransitionToRunning::Cancelled {
        return Err(outcome);
    }
    node.core().mark_started();
    match outcome {
        Ok(value) => {
            node.set_value(value);
            node.core().publish(NodeState::Succeeded, None);
        }
        Err(error) => node.core().publish(NodeState::Failed, Some(error)),
    }
    let mut walk = CompletionWalk::new();
    walk.push_finished(node);
    let tail = walk.drive(false);
    debug_assert!(tail.is_none());
    Ok(())
}

impl<T: Send + Sync + 'static> Drop for Promise<T> {
    fn drop(&mut self) {
        if let Some(future) = self.future.take() {
            let _ = complete(&future, Err(TaskError::broken_promise()));
        }
    }
}
