//! Worker threads: the main loop, finding work, running jobs.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;

use crate::job::JobRef;
use crate::loom::deque::{Steal, Worker};
use crate::registry::Registry;
use crate::sleep::IdleState;

/// The state one worker thread keeps for itself.
pub(crate) struct WorkerThread {
    deque: Worker<JobRef>,
    index: usize,
    registry: Arc<Registry>,
    /// xorshift state for picking steal victims.
    rng: Cell<u64>,
    /// How many helping waits are on this worker's stack.
    help_depth: Cell<usize>,
    /// Searches for work so far (for the injector interval).
    searches: Cell<u32>,
}

/// Every this many searches a worker looks at the injector before its own
/// deque (tokio's global queue interval): LIFO for the owner, but a job
/// pushed from outside is not starved by a deque that never empties.
const INJECTOR_INTERVAL: u32 = 61;

#[cfg(not(loom))]
thread_local! {
    static CURRENT: RefCell<Option<Rc<WorkerThread>>> = const { RefCell::new(None) };
}

// loom runs every model thread on one OS thread, so a `std` thread-local
// would be shared by all of them. (loom's macro takes no `const` block.)
#[cfg(loom)]
loom::thread_local! {
    static CURRENT: RefCell<Option<Rc<WorkerThread>>> = RefCell::new(None);
}

/// Calls `f` with the calling thread's worker state, if it is a worker.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&WorkerThread>) -> R) -> R {
    CURRENT.with(|current| f(current.borrow().as_deref()))
}

/// A handle on the calling thread's worker state, if it is a worker.
pub(crate) fn current() -> Option<Rc<WorkerThread>> {
    CURRENT.with(|current| current.borrow().clone())
}

/// The 0-based index of the calling thread in its pool, or `None` if the
/// calling thread is not a pool worker.
///
/// ```
/// assert_eq!(hpyx_engine::current_worker_index(), None);
/// ```
pub fn current_worker_index() -> Option<usize> {
    with_current(|worker| worker.map(WorkerThread::index))
}

pub(crate) fn run_worker(registry: Arc<Registry>, index: usize, deque: Worker<JobRef>) {
    let worker = Rc::new(WorkerThread {
        deque,
        index,
        registry: Arc::clone(&registry),
        rng: Cell::new(
            0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
        ),
        help_depth: Cell::new(0),
        searches: Cell::new(0),
    });
    CURRENT.with(|current| *current.borrow_mut() = Some(Rc::clone(&worker)));
    if let Some(hook) = registry.config().start_hook() {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| hook(index))) {
            report_panic("the worker start hook", &*payload);
        }
    }
    worker.main_loop();
    if let Some(hook) = registry.config().exit_hook() {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| hook(index))) {
            report_panic("the worker exit hook", &*payload);
        }
        // Jobs the hook pushed (onto this deque) would otherwise be dropped
        // with it, neither run nor cancelled.
        worker.cancel_local_jobs();
    }
    CURRENT.with(|current| current.borrow_mut().take());
}

impl WorkerThread {
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub(crate) fn help_depth(&self) -> &Cell<usize> {
        &self.help_depth
    }

    #[inline]
    pub(crate) fn push_local(&self, job: JobRef) {
        self.deque.push(job);
        self.registry.sleep().new_jobs(1);
    }

    fn main_loop(&self) {
        // A panic in the runtime's own code (not in a job: those are caught
        // in `execute`) must not kill the worker or wedge the pool.
        loop {
            match catch_unwind(AssertUnwindSafe(|| self.work_until_terminated())) {
                Ok(()) => return,
                // In a loom model a panic here is the model failing (a
                // deadlock found, or a broken check): it must reach loom.
                Err(payload) if cfg!(loom) => std::panic::resume_unwind(payload),
                Err(payload) => report_panic("the worker loop", &*payload),
            }
        }
    }

    fn work_until_terminated(&self) {
        let mut idle: Option<IdleState> = None;
        loop {
            if self.registry.is_cancelling() {
                self.cancel_local_jobs();
                return;
            }
            // Read before searching: a shutdown publishes its policy only
            // after the last external push completed, so once `terminating`
            // is seen here the search below sees every accepted job.
            let terminating = self.registry.is_terminating();
            if let Some(job) = self.find_work() {
                idle = None;
                self.execute(job);
                continue;
            }
            if terminating {
                return;
            }
            let sleep = self.registry.sleep();
            if idle.is_none() {
                self.run_idle_hook();
            }
            let state = idle.get_or_insert_with(|| sleep.start_looking());
            let _ = sleep.no_work_found(state, self.index, None, None, || {
                self.registry.is_terminating()
            });
        }
    }

    #[cold]
    fn run_idle_hook(&self) {
        if let Some(hook) = self.registry.config().idle_hook() {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| hook(self.index))) {
                report_panic("the worker idle hook", &*payload);
            }
        }
    }

    fn cancel_local_jobs(&self) {
        while let Some(job) = self.deque.pop() {
            cancel_job(job);
        }
    }

    /// Local deque (LIFO), then a batch from the injector, then a steal
    /// (FIFO) from another worker, starting at a random victim. Every
    /// [`INJECTOR_INTERVAL`] searches the injector comes first, so a worker
    /// whose own deque never empties does not starve outside pushes.
    #[inline]
    pub(crate) fn find_work(&self) -> Option<JobRef> {
        let searches = self.searches.get().wrapping_add(1);
        self.searches.set(searches);
        if searches % INJECTOR_INTERVAL == 0 {
            if let Some(job) = self.steal_injected() {
                return Some(job);
            }
        }
        self.deque.pop().or_else(|| self.steal())
    }

    #[cold]
    fn steal_injected(&self) -> Option<JobRef> {
        loop {
            match self.registry.steal_injected(&self.deque) {
                Steal::Success(job) => return Some(job),
                Steal::Retry => continue,
                Steal::Empty => return None,
            }
        }
    }

    #[cold]
    fn steal(&self) -> Option<JobRef> {
        let n = self.registry.num_workers();
        loop {
            let mut retry = false;
            match self.registry.steal_injected(&self.deque) {
                Steal::Success(job) => return Some(job),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            if n > 1 {
                let start = (self.next_random() % n as u64) as usize;
                for victim in (start..n).chain(0..start) {
                    if victim == self.index {
                        continue;
                    }
                    match self.registry.stealer(victim).steal() {
                        Steal::Success(job) => return Some(job),
                        Steal::Retry => retry = true,
                        Steal::Empty => {}
                    }
                }
            }
            if !retry {
                return None;
            }
        }
    }

    fn next_random(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x
    }

    /// Runs `job` alone: its tail job, if any, is pushed to this worker's
    /// deque instead of run here (a waiter runs only what it chose).
    pub(crate) fn execute_one(&self, job: JobRef) {
        match catch_unwind(AssertUnwindSafe(move || job.run())) {
            Ok(Some(tail)) => self.push_local(tail),
            Ok(None) => {}
            Err(payload) => report_panic("a job", &*payload),
        }
    }

    /// Runs `job` and the tail jobs it returns. A panic escaping a job is
    /// reported and the worker goes on.
    #[inline]
    pub(crate) fn execute(&self, job: JobRef) {
        let mut next = Some(job);
        while let Some(job) = next.take() {
            match catch_unwind(AssertUnwindSafe(move || job.run())) {
                Ok(tail) => next = tail,
                Err(payload) => report_panic("a job", &*payload),
            }
        }
    }
}

/// Calls `job.cancel()`; a panic in it is caught and reported, like a panic
/// in [`Job::run`](crate::Job::run), so that it cannot stop a shutdown.
pub(crate) fn cancel_job(job: JobRef) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || job.cancel())) {
        eprintln!(
            "hpyx: cancelling a job panicked: {}; the shutdown goes on",
            panic_message(&*payload)
        );
    }
}

/// The message of a panic payload, for reports.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

fn report_panic(what: &str, payload: &(dyn Any + Send)) {
    eprintln!(
        "hpyx: {what} panicked on a worker thread: {}; the worker goes on",
        panic_message(payload)
    );
}
