//! Loom model of shutdown racing a worker that is searching, sleepy or
//! asleep (the "Shutdown" steps in `registry.rs`), with `Drain` and
//! `Cancel`, an external push racing the shutdown and a job that pushes a
//! child onto its worker's own deque.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p hpyx-engine --release --lib loom`
//!
//! # What is real and what is transcribed
//!
//! - **Real**: the whole sleep side, [`Sleep`] (`sleep/mod.rs`, built on
//!   `crate::loom`): `start_looking`, `no_work_found` (getting sleepy, the
//!   step-4 CAS, the `is_terminating` re-check under the worker's lock, the
//!   condvar wait), `new_jobs` and `wake_all`. A change there is checked.
//! - **Transcribed**: [`Registry::inject`], steps 1, 2 and 4 of
//!   [`Registry::shutdown`], `is_terminating`/`is_cancelling` and
//!   `WorkerThread::work_until_terminated`/`find_work`/`push_local`/
//!   `cancel_local_jobs`, statement for statement, with the same `gate` and
//!   `terminate` encodings and the same memory orderings, on loom atomics.
//!   The real ones cannot run under loom without restructuring: `Registry`
//!   uses `std` atomics, spawns `std` threads and queues on crossbeam-deque,
//!   none of which loom can see. [`loom_model_matches_the_engine`] fails if
//!   the statements transcribed here change in `registry.rs`/`worker.rs`
//!   (a tripwire on the text, not a proof), so that the model is revisited.
//! - **Stand-ins**: the injector is a `loom::sync::Mutex<VecDeque>` (as in
//!   `sleep/loom_tests.rs`: crossbeam-deque is not loom-aware, and a mutex
//!   orders more than its lock-free queue does), a steal takes the whole
//!   injector as its batch, and the worker's own deque is a plain `VecDeque`
//!   only it touches. Not covered: crossbeam's own orderings, several
//!   workers stealing from each other, the hooks, panics, the join (the
//!   model's main thread joins the worker itself), and a second concurrent
//!   `shutdown` call.
//!
//! A lost wake-up leaves the worker blocked on its condvar (or the shutdown
//! thread waiting in `join`) forever, which loom reports as a deadlock.
//! Run/cancel counts are bookkeeping outside the model (`std` atomics: loom
//! runs every model thread on one OS thread, so they add no interleavings).

use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize as Count;

use loom::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};

use crate::registry::ShutdownPolicy;
use crate::sleep::Sleep;

// `registry.rs`'s encodings.
const RUNNING: u8 = 0;
const DRAIN: u8 = 1;
const CANCEL: u8 = 2;
const GATE_TERMINATED: usize = 1 << (usize::BITS - 1);

/// Job 0 is pushed before shutdown begins, job 1 races it from another
/// thread, job 2 is pushed by job 0 (onto the worker's own deque) when it
/// runs.
const PARENT: usize = 0;
const RACER: usize = 1;
const CHILD: usize = 2;
const JOBS: usize = 3;

/// How each job ended. `Relaxed` is enough: see the module docs.
#[derive(Default)]
struct Ledger {
    runs: [Count; JOBS],
    cancels: [Count; JOBS],
    handed_back: [Count; JOBS],
}

impl Ledger {
    fn get(counts: &[Count; JOBS], job: usize) -> usize {
        counts[job].load(std::sync::atomic::Ordering::Relaxed)
    }

    fn bump(counts: &[Count; JOBS], job: usize) {
        counts[job].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `Registry`, reduced to one worker and what shutdown touches.
struct Pool {
    injector: Mutex<VecDeque<usize>>,
    sleep: Sleep,
    gate: AtomicUsize,
    terminate: AtomicU8,
    ledger: Ledger,
}

impl Pool {
    fn new() -> Pool {
        Pool {
            injector: Mutex::new(VecDeque::new()),
            sleep: Sleep::new(1),
            gate: AtomicUsize::new(0),
            terminate: AtomicU8::new(RUNNING),
            ledger: Ledger::default(),
        }
    }

    // `Registry::is_terminating`.
    fn is_terminating(&self) -> bool {
        self.terminate.load(Ordering::Acquire) != RUNNING
    }

    // `Registry::is_cancelling`.
    fn is_cancelling(&self) -> bool {
        self.terminate.load(Ordering::Acquire) == CANCEL
    }

    // `Registry::inject`; `Err` hands the job back.
    fn inject(&self, job: usize) -> Result<(), usize> {
        let gate = self.gate.fetch_add(1, Ordering::AcqRel);
        if gate & GATE_TERMINATED != 0 {
            self.gate.fetch_sub(1, Ordering::AcqRel);
            return Err(job);
        }
        self.injector.lock().unwrap().push_back(job);
        self.gate.fetch_sub(1, Ordering::AcqRel);
        self.sleep.new_jobs(1);
        Ok(())
    }

    /// An external pusher: the caller cancels a job handed back.
    fn push_from_outside(&self, job: usize) {
        if let Err(job) = self.inject(job) {
            Ledger::bump(&self.ledger.handed_back, job);
        }
    }

    // `Registry::shutdown`, steps 1 and 2.
    fn begin_shutdown(&self, policy: ShutdownPolicy) {
        self.gate.fetch_or(GATE_TERMINATED, Ordering::AcqRel);
        while self.gate.load(Ordering::Acquire) & !GATE_TERMINATED != 0 {
            loom::thread::yield_now();
        }
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
    }

    // `Registry::shutdown`, step 4 (after the join).
    fn cancel_injected(&self) {
        while let Some(job) = self.injector.lock().unwrap().pop_front() {
            Ledger::bump(&self.ledger.cancels, job);
        }
    }
}

/// `WorkerThread`, reduced: the pool and the worker's own deque.
struct Worker {
    pool: Arc<Pool>,
    deque: VecDeque<usize>,
}

impl Worker {
    // `WorkerThread::work_until_terminated` (no idle hook).
    fn work_until_terminated(&mut self) {
        let mut idle = None;
        loop {
            if self.pool.is_cancelling() {
                self.cancel_local_jobs();
                return;
            }
            let terminating = self.pool.is_terminating();
            if let Some(job) = self.find_work() {
                idle = None;
                self.execute(job);
                continue;
            }
            if terminating {
                return;
            }
            let sleep = &self.pool.sleep;
            let state = idle.get_or_insert_with(|| sleep.start_looking());
            let _ = sleep.no_work_found(state, 0, None, None, || self.pool.is_terminating());
        }
    }

    // `WorkerThread::find_work`: own deque (LIFO), then a batch from the
    // injector (here: all of it). One worker: nobody to steal from.
    fn find_work(&mut self) -> Option<usize> {
        if let Some(job) = self.deque.pop_back() {
            return Some(job);
        }
        let mut injector = self.pool.injector.lock().unwrap();
        let job = injector.pop_front()?;
        self.deque.extend(injector.drain(..));
        Some(job)
    }

    fn execute(&mut self, job: usize) {
        Ledger::bump(&self.pool.ledger.runs, job);
        if job == PARENT {
            self.push_local(CHILD);
        }
    }

    // `WorkerThread::push_local`.
    fn push_local(&mut self, job: usize) {
        self.deque.push_back(job);
        self.pool.sleep.new_jobs(1);
    }

    // `WorkerThread::cancel_local_jobs`.
    fn cancel_local_jobs(&mut self) {
        while let Some(job) = self.deque.pop_back() {
            Ledger::bump(&self.pool.ledger.cancels, job);
        }
    }
}

/// One worker, started idle; the main thread pushes job 0 and then shuts
/// the pool down with `policy` while another thread pushes job 1. The
/// worker is free to be anywhere (searching, sleepy, in the step-4 CAS,
/// asleep) when each step of the shutdown lands. Without `with_racer` job 1
/// is never pushed. At most 3 preemptions per execution (unbounded, the
/// models did not finish in 3 minutes); the four take about 10 s together
/// under `--release`.
fn shutdown_races_the_worker(policy: ShutdownPolicy, with_racer: bool) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(move || {
        let pool = Arc::new(Pool::new());
        let worker = {
            let pool = Arc::clone(&pool);
            loom::thread::spawn(move || {
                Worker {
                    pool,
                    deque: VecDeque::new(),
                }
                .work_until_terminated();
            })
        };
        let racer = with_racer.then(|| {
            let pool = Arc::clone(&pool);
            loom::thread::spawn(move || pool.push_from_outside(RACER))
        });

        pool.push_from_outside(PARENT);
        pool.begin_shutdown(policy);
        // Deadlocks here (reported by loom) if the worker never wakes up.
        worker.join().unwrap();
        if let Some(racer) = racer {
            racer.join().unwrap();
        }
        let cancelled_before_sweep: usize = (0..JOBS)
            .map(|job| Ledger::get(&pool.ledger.cancels, job))
            .sum();
        pool.cancel_injected();

        let ledger = &pool.ledger;
        let runs = |job| Ledger::get(&ledger.runs, job);
        let cancels = |job| Ledger::get(&ledger.cancels, job);
        let handed_back = |job| Ledger::get(&ledger.handed_back, job);
        assert_eq!(pool.sleep.num_sleeping(), 0, "a sleeper is still counted");
        // Job 0 was accepted: the gate was open when it was pushed.
        assert_eq!(handed_back(PARENT), 0);
        // Exactly-once for every job: run, cancelled by the pool, or handed
        // back to its pusher; never two of these, never none.
        for job in [PARENT, RACER] {
            if job == RACER && !with_racer {
                continue;
            }
            assert_eq!(
                runs(job) + cancels(job) + handed_back(job),
                1,
                "job {job}: runs {}, cancels {}, handed back {}",
                runs(job),
                cancels(job),
                handed_back(job)
            );
        }
        // The child exists iff its parent ran, and then ends exactly once.
        assert_eq!(runs(CHILD) + cancels(CHILD), runs(PARENT));
        assert_eq!(handed_back(CHILD), 0);
        if policy == ShutdownPolicy::Drain {
            // Drain: everything accepted runs, nothing is cancelled, and the
            // worker left nothing in the injector for step 4.
            assert_eq!(runs(PARENT), 1, "Drain lost the job pushed before shutdown");
            assert_eq!(runs(CHILD), 1, "Drain lost the job pushed while draining");
            if with_racer {
                assert_eq!(
                    runs(RACER) + handed_back(RACER),
                    1,
                    "Drain lost the racing push it accepted"
                );
            }
            assert_eq!(cancelled_before_sweep, 0);
            for job in 0..JOBS {
                assert_eq!(cancels(job), 0, "Drain cancelled job {job}");
            }
        }
    });
}

#[test]
fn loom_shutdown_drain_races_a_sleeping_worker() {
    shutdown_races_the_worker(ShutdownPolicy::Drain, false);
}

#[test]
fn loom_shutdown_drain_races_a_sleeping_worker_and_a_push() {
    shutdown_races_the_worker(ShutdownPolicy::Drain, true);
}

#[test]
fn loom_shutdown_cancel_races_a_sleeping_worker() {
    shutdown_races_the_worker(ShutdownPolicy::Cancel, false);
}

#[test]
fn loom_shutdown_cancel_races_a_sleeping_worker_and_a_push() {
    shutdown_races_the_worker(ShutdownPolicy::Cancel, true);
}

/// The tripwire: the statements this model transcribes, in order, still
/// read the same in `registry.rs` and `worker.rs` (whitespace ignored).
/// If this fails, bring the transcription above in line, then the list.
#[test]
fn loom_model_matches_the_engine() {
    fn squash(s: &str) -> String {
        s.chars().filter(|c| !c.is_whitespace()).collect()
    }
    fn in_order(file: &str, source: &str, statements: &[&str]) {
        let source = squash(source);
        let mut rest = source.as_str();
        for statement in statements {
            match rest.find(&squash(statement)) {
                Some(at) => rest = &rest[at..],
                None => panic!(
                    "{file} no longer has, at this place, `{statement}`: \
                     update engine/src/shutdown_loom_tests.rs"
                ),
            }
        }
    }
    in_order(
        "registry.rs",
        include_str!("registry.rs"),
        &[
            "const RUNNING: u8 = 0;",
            "const DRAIN: u8 = 1;",
            "const CANCEL: u8 = 2;",
            "const GATE_TERMINATED: usize = 1 << (usize::BITS - 1);",
            "fn is_terminating(&self) -> bool {",
            "self.terminate.load(Ordering::Acquire) != RUNNING",
            "fn is_cancelling(&self) -> bool {",
            "self.terminate.load(Ordering::Acquire) == CANCEL",
            "fn inject(&self, job: JobRef) -> Result<(), JobRef> {",
            "let gate = self.gate.fetch_add(1, Ordering::AcqRel);",
            "if gate & GATE_TERMINATED != 0 {",
            "self.gate.fetch_sub(1, Ordering::AcqRel);",
            "return Err(job);",
            "self.injector.push(job);",
            "self.gate.fetch_sub(1, Ordering::AcqRel);",
            "self.sleep.new_jobs(1);",
            "fn shutdown(&self, policy: ShutdownPolicy)",
            "self.gate.fetch_or(GATE_TERMINATED, Ordering::AcqRel);",
            "while self.gate.load(Ordering::Acquire) & !GATE_TERMINATED != 0 {",
            "std::thread::yield_now();",
            "ShutdownPolicy::Drain => DRAIN,",
            "ShutdownPolicy::Cancel => CANCEL,",
            ".compare_exchange(RUNNING, wanted, Ordering::AcqRel, Ordering::Acquire);",
            "if wanted == CANCEL {",
            "self.terminate.store(CANCEL, Ordering::Release);",
            "self.sleep.wake_all();",
            "let _ = handle.join();",
            "match self.injector.steal() {",
            "Steal::Success(job) => worker::cancel_job(job),",
        ],
    );
    in_order(
        "worker.rs",
        include_str!("worker.rs"),
        &[
            "fn push_local(&self, job: JobRef) {",
            "self.deque.push(job);",
            "self.registry.sleep().new_jobs(1);",
            "fn work_until_terminated(&self) {",
            "let mut idle: Option<IdleState> = None;",
            "loop {",
            "if self.registry.is_cancelling() {",
            "self.cancel_local_jobs();",
            "return;",
            "let terminating = self.registry.is_terminating();",
            "if let Some(job) = self.find_work() {",
            "idle = None;",
            "self.execute(job);",
            "continue;",
            "if terminating {",
            "return;",
            "let sleep = self.registry.sleep();",
            "let state = idle.get_or_insert_with(|| sleep.start_looking());",
            "let _ = sleep.no_work_found(state, self.index, None, None, || {",
            "self.registry.is_terminating()",
            "fn cancel_local_jobs(&self) {",
            "while let Some(job) = self.deque.pop() {",
            "cancel_job(job);",
            "fn find_work(&self) -> Option<JobRef> {",
            "self.deque.pop().or_else(|| self.steal())",
        ],
    );
}
