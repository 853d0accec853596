//! A stand-in for crossbeam-deque under loom: the same names and signatures
//! (`Worker`, `Stealer`, `Injector`, `Steal`) over a
//! `loom::sync::Mutex<VecDeque>`, so that `registry.rs` and `worker.rs` run
//! unchanged inside a loom model.
//!
//! crossbeam-deque synchronises with `std` atomics, which loom cannot see or
//! reorder. A mutex orders at least as much as its lock-free buffers do, so
//! a lost job or a lost wake-up that a model finds is in the pool's own
//! protocol (the gate, the terminate flag, the sleep handshake), not in the
//! queues. Not modelled: crossbeam's own memory orderings, and
//! [`Steal::Retry`] (a steal here never loses a race to another one; a retry
//! loop would only add spinning that loom has to bound).
//!
//! The shapes follow crossbeam: the owner pops LIFO, stealers and the
//! injector take FIFO, and a batch from the injector is half of what is
//! there, rounded up, at most `MAX_BATCH + 1`.

use std::collections::VecDeque;
// Not loom's `Arc`: sharing the deque is not what the models check, and a
// failing model unwinds with a worker's deque still in its thread-local,
// whose drop outside the execution would make loom abort the test process
// instead of reporting the failure.
use std::sync::Arc;

use loom::sync::{Mutex, MutexGuard};

/// crossbeam-deque's batch limit.
const MAX_BATCH: usize = 32;

/// The outcome of a steal, as in crossbeam-deque.
pub(crate) enum Steal<T> {
    Empty,
    Success(T),
    /// Never returned by the stand-in (see the module docs); here so that
    /// the callers' `match`es compile unchanged.
    #[allow(dead_code)]
    Retry,
}

impl<T> From<Option<T>> for Steal<T> {
    fn from(task: Option<T>) -> Steal<T> {
        task.map_or(Steal::Empty, Steal::Success)
    }
}

type Queue<T> = Arc<Mutex<VecDeque<T>>>;

fn lock<T>(queue: &Mutex<VecDeque<T>>) -> MutexGuard<'_, VecDeque<T>> {
    // The queue operations below cannot panic half-way.
    queue.lock().unwrap_or_else(|e| e.into_inner())
}

/// The owner's end of a worker deque (LIFO).
pub(crate) struct Worker<T> {
    queue: Queue<T>,
}

impl<T> Worker<T> {
    pub(crate) fn new_lifo() -> Worker<T> {
        Worker {
            queue: Arc::new(Mutex::new(VecDeque::new())),
        }
    }

    pub(crate) fn stealer(&self) -> Stealer<T> {
        Stealer {
            queue: Arc::clone(&self.queue),
        }
    }

    pub(crate) fn push(&self, task: T) {
        lock(&self.queue).push_back(task);
    }

    pub(crate) fn pop(&self) -> Option<T> {
        lock(&self.queue).pop_back()
    }
}

/// Another thread's end of a worker deque (FIFO).
pub(crate) struct Stealer<T> {
    queue: Queue<T>,
}

impl<T> Stealer<T> {
    pub(crate) fn steal(&self) -> Steal<T> {
        lock(&self.queue).pop_front().into()
    }
}

/// The queue shared by every thread outside the pool (FIFO).
pub(crate) struct Injector<T> {
    queue: Mutex<VecDeque<T>>,
}

impl<T> Injector<T> {
    pub(crate) fn new() -> Injector<T> {
        Injector {
            queue: Mutex::new(VecDeque::new()),
        }
    }

    pub(crate) fn push(&self, task: T) {
        lock(&self.queue).push_back(task);
    }

    pub(crate) fn steal(&self) -> Steal<T> {
        lock(&self.queue).pop_front().into()
    }

    /// Takes a batch, returns its first task and pushes the rest into
    /// `dest`. As in crossbeam, the batch leaves the injector before it is
    /// in `dest`: for a moment the tasks are in neither queue.
    pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        let mut batch = {
            let mut queue = lock(&self.queue);
            let take = queue.len().div_ceil(2).min(MAX_BATCH + 1);
            queue.drain(..take).collect::<VecDeque<T>>()
        };
        let first = batch.pop_front();
        if !batch.is_empty() {
            lock(&dest.queue).extend(batch);
        }
        first.into()
    }
}
