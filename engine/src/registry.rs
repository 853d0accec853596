//! The shared state of one pool: queues, sleep state, the shutdown gate.
//!
//! # Shutdown
//!
//! 1. Close the injector gate: set `TERMINATED` in `gate` and wait until no
//!    external push is in flight. From here on an external push fails and
//!    hands its job back (the caller cancels it), so nothing lands in the
//!    injector unseen.
//! 2. Publish the policy in `terminate` and wake every sleeper.
//! 3. Workers exit: with `Drain` once a search finds no work anywhere (the
//!    jobs they push while draining go to their own deques and are run by
//!    them); with `Cancel` at the next job boundary, cancelling the jobs left
//!    in their own deque.
//! 4. Join the workers, then cancel whatever is left in the injector (with
//!    `Drain` nothing is, because of step 1 and 3).

use std::sync::Arc;

use crate::config::Config;
use crate::error::PoolError;
use crate::job::JobRef;
use crate::loom::deque::{Injector, Steal, Stealer, Worker};
use crate::loom::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use crate::loom::sync::{Mutex, MutexGuard};
use crate::loom::thread::{self, JoinHandle};
use crate::sleep::Sleep;
use crate::worker;

/// What shutdown does with work that has not started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownPolicy {
    /// Run every queued job, and every job those jobs push, then stop.
    Drain,
    /// Let running jobs finish; call [`Job::cancel`](crate::Job::cancel) on
    /// every queued one.
    Cancel,
}

const RUNNING: u8 = 0;
const DRAIN: u8 = 1;
const CANCEL: u8 = 2;

const GATE_TERMINATED: usize = 1 << (usize::BITS - 1);

pub(crate) struct Registry {
    injector: Injector<JobRef>,
    stealers: Box<[Stealer<JobRef>]>,
    sleep: Sleep,
    /// `GATE_TERMINATED` | number of external pushes in flight.
    gate: AtomicUsize,
    terminate: AtomicU8,
    config: Config,
    pid: u32,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Registry {
    pub(crate) fn new(config: Config) -> Result<Arc<Registry>, PoolError> {
        config.validate()?;
        let n = config.get_num_workers();
        let deques: Vec<Worker<JobRef>> = (0..n).map(|_| Worker::new_lifo()).collect();
        let registry = Arc::new(Registry {
            injector: Injector::new(),
            stealers: deques.iter().map(Worker::stealer).collect(),
            sleep: Sleep::new(n),
            gate: AtomicUsize::new(0),
            terminate: AtomicU8::new(RUNNING),
            config,
            pid: std::process::id(),
            threads: Mutex::new(Vec::with_capacity(n)),
        });
        for (index, deque) in deques.into_iter().enumerate() {
            let mut builder = thread::Builder::new().name(registry.config.thread_name_for(index));
            if let Some(size) = registry.config.get_stack_size() {
                builder = builder.stack_size(size);
            }
            let for_worker = Arc::clone(&registry);
            match builder.spawn(move || worker::run_worker(for_worker, index, deque)) {
                Ok(handle) => registry.lock_threads().push(handle),
                Err(err) => {
                    // Stop the workers already started before reporting.
                    let _ = registry.shutdown(ShutdownPolicy::Cancel);
                    return Err(PoolError::spawn(err));
                }
            }
        }
        Ok(registry)
    }

    fn lock_threads(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.threads.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.stealers.len()
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn sleep(&self) -> &Sleep {
        &self.sleep
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    pub(crate) fn stealer(&self, index: usize) -> &Stealer<JobRef> {
        &self.stealers[index]
    }

    pub(crate) fn steal_injected(&self, dest: &Worker<JobRef>) -> Steal<JobRef> {
        self.injector.steal_batch_and_pop(dest)
    }

    pub(crate) fn is_terminating(&self) -> bool {
        self.terminate.load(Ordering::Acquire) != RUNNING
    }

    pub(crate) fn is_cancelling(&self) -> bool {
        self.terminate.load(Ordering::Acquire) == CANCEL
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.gate.load(Ordering::Acquire) & GATE_TERMINATED != 0
    }

    /// Pushes `job`: onto the calling worker's own deque if it belongs to
    /// this pool, else into the injector. Hands the job back if the pool is
    /// shut down (the caller decides how to cancel it).
    #[inline]
    pub(crate) fn push(self: &Arc<Self>, job: JobRef) -> Result<(), JobRef> {
        match worker::with_current(|worker| match worker {
            Some(worker) if Arc::ptr_eq(worker.registry(), self) => {
                worker.push_local(job);
                Ok(())
            }
            _ => Err(job),
        }) {
            Ok(()) => Ok(()),
            Err(job) => self.inject(job),
        }
    }

    /// Pushes `job` into the injector, from any thread.
    pub(crate) fn inject(&self, job: JobRef) -> Result<(), JobRef> {
        let gate = self.gate.fetch_add(1, Ordering::AcqRel);
        if gate & GATE_TERMINATED != 0 {
            self.gate.fetch_sub(1, Ordering::AcqRel);
            return Err(job);
        }
        self.injector.push(job);
        self.gate.fetch_sub(1, Ordering::AcqRel);
        self.sleep.new_jobs(1);
        Ok(())
    }

    /// Stops the pool; see the module docs. Idempotent: a second call
    /// returns once the first has joined the workers.
    pub(crate) fn shutdown(&self, policy: ShutdownPolicy) -> Result<(), PoolError> {
        let on_own_worker = worker::with_current(|worker| {
            worker.is_some_and(|w| std::ptr::eq(Arc::as_ptr(w.registry()), self))
        });
        if on_own_worker {
            return Err(PoolError::shutdown_from_worker());
        }
        // Step 1.
        self.gate.fetch_or(GATE_TERMINATED, Ordering::AcqRel);
        while self.gate.load(Ordering::Acquire) & !GATE_TERMINATED != 0 {
            thread::yield_now();
        }
        // Step 2. A later call never weakens Cancel into Drain.
        let wanted = match policy {
            ShutdownPolicy::Drain => DRAIN,
            ShutdownPolicy::Cancel => CANCEL,
        };
        let _ =
            self.terminate
                .compare_exchange(RUNNING, wanted, Ordering::AcqRel, Ordering::Acquire);
        if wanted == CANCEL {
            self.terminate.store(CANCEL, Ordering::Release);
        }
        self.sleep.wake_all();
        // Step 3 and 4. The lock is held while joining, so that a concurrent
        // second call returns only once the workers are joined.
        let mut threads = self.lock_threads();
        for handle in threads.drain(..) {
            // A worker's own panics are caught inside it; a join error means
            // a hook panicked, which was already reported.
            let _ = handle.join();
        }
        drop(threads);
        loop {
            match self.injector.steal() {
                Steal::Success(job) => worker::cancel_job(job),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
        Ok(())
    }
}
