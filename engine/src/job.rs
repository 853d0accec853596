//! Jobs: the unit of work the pool runs.
//!
//! A job is an `Arc<dyn Job>` so that a task graph node can *be* its own job
//! (one allocation per node) while closures get a small wrapper, [`FnJob`].

use std::sync::Arc;

/// Something the pool can run once.
///
/// The pool calls exactly one of [`Job::run`] or [`Job::cancel`] for every
/// job it accepted, so no job is ever silently dropped.
pub trait Job: Send + Sync + 'static {
    /// Runs the job on a worker thread.
    ///
    /// The job may return another job to run *next on the same worker*
    /// without queueing it (a tail call): a chain of continuations then
    /// never touches a queue or wakes another worker.
    fn run(self: Arc<Self>) -> Option<JobRef>;

    /// Called instead of [`Job::run`] when the pool discards the job, at a
    /// shutdown with [`ShutdownPolicy::Cancel`](crate::ShutdownPolicy) or when
    /// it was pushed to a pool that has shut down. The default drops it.
    fn cancel(self: Arc<Self>) {}
}

/// A shared, type-erased reference to a job, as stored in the queues.
pub type JobRef = Arc<dyn Job>;

/// A job made from a closure.
///
/// ```
/// use hpyx_engine::{FnJob, Job};
/// let job = FnJob::new(|| println!("hello from a worker"));
/// # let _ = job;
/// ```
pub struct FnJob<F> {
    f: F,
}

impl<F> FnJob<F>
where
    F: FnOnce() + Send + 'static,
{
    /// Wraps `f` as a job reference (what the pool stores, hence not `Self`).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(f: F) -> JobRef {
        Arc::new(FnJob { f })
    }
}

// SAFETY: `Sync` only matters for `&FnJob<F>`, and no method reads `f`
// through a shared reference: `run` and `cancel` first prove sole ownership
// with `Arc::try_unwrap` and then move `f` out. `F: Send` covers the move to
// the worker thread.
unsafe impl<F: Send> Sync for FnJob<F> {}

impl<F> Job for FnJob<F>
where
    F: FnOnce() + Send + 'static,
{
    fn run(self: Arc<Self>) -> Option<JobRef> {
        match Arc::try_unwrap(self) {
            Ok(job) => (job.f)(),
            // `FnJob::new` hands out the only reference and the pool never
            // clones it, so there is no other owner.
            Err(_) => unreachable!("an FnJob is never shared"),
        }
        None
    }
}
