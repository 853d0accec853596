//! `ThreadPool`: the public handle on a pool.

use std::sync::Arc;

use crate::config::Config;
use crate::error::PoolError;
use crate::job::{FnJob, JobRef};
use crate::registry::{Registry, ShutdownPolicy};
use crate::worker;

/// A handle on a work-stealing pool. Clones share the pool.
///
/// Workers start in [`ThreadPool::new`] and run until
/// [`ThreadPool::shutdown`]; dropping handles does not stop them (like a
/// process-global pool, which is what hpyx uses).
///
/// ```
/// use std::sync::mpsc;
/// use hpyx_engine::{Config, ShutdownPolicy, ThreadPool};
///
/// let pool = ThreadPool::new(Config::new().num_workers(2)).unwrap();
/// let (tx, rx) = mpsc::channel();
/// pool.spawn(move || tx.send(hpyx_engine::current_worker_index()).unwrap()).unwrap();
/// assert!(rx.recv().unwrap().unwrap() < 2);
/// pool.shutdown(ShutdownPolicy::Drain).unwrap();
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    registry: Arc<Registry>,
}

impl ThreadPool {
    /// Starts the workers.
    pub fn new(config: Config) -> Result<ThreadPool, PoolError> {
        Ok(ThreadPool {
            registry: Registry::new(config)?,
        })
    }

    /// Runs `f` on the pool. Fails once the pool is shut down.
    pub fn spawn(&self, f: impl FnOnce() + Send + 'static) -> Result<(), PoolError> {
        self.push(FnJob::new(f)).map_err(|job| {
            job.cancel();
            PoolError::shut_down()
        })
    }

    /// Pushes a job: onto the calling worker's deque when called from one of
    /// this pool's workers (LIFO for it, stealable FIFO by others), else into
    /// the shared injector. Hands the job back if the pool is shut down.
    #[inline]
    pub fn push(&self, job: JobRef) -> Result<(), JobRef> {
        self.registry.push(job)
    }

    /// The number of worker threads.
    pub fn num_workers(&self) -> usize {
        self.registry.num_workers()
    }

    /// The configuration the pool was started with.
    pub fn config(&self) -> &Config {
        self.registry.config()
    }

    /// The calling thread's index if it is one of *this* pool's workers.
    pub fn current_worker_index(&self) -> Option<usize> {
        worker::with_current(|w| {
            w.filter(|w| Arc::ptr_eq(w.registry(), &self.registry))
                .map(|w| w.index())
        })
    }

    /// True once [`ThreadPool::shutdown`] has begun.
    pub fn is_shut_down(&self) -> bool {
        self.registry.is_shut_down()
    }

    /// Stops the pool by `policy` and joins its workers. Later pushes fail.
    /// Must not be called from one of the pool's own workers.
    pub fn shutdown(&self, policy: ShutdownPolicy) -> Result<(), PoolError> {
        self.registry.shutdown(policy)
    }

    /// True if both handles refer to the same pool.
    pub fn ptr_eq(&self, other: &ThreadPool) -> bool {
        Arc::ptr_eq(&self.registry, &other.registry)
    }

    pub(crate) fn started_in_pid(&self) -> u32 {
        self.registry.pid()
    }

    #[cfg(test)]
    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool")
            .field("num_workers", &self.num_workers())
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}
