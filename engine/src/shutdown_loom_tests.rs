//! Loom models of a pool's shutdown (the steps in `registry.rs`'s docs)
//! racing its worker, with `Drain` and `Cancel`, an external push racing
//! the shutdown, a job that pushes a child onto its worker's own deque, and
//! two shutdowns racing each other.
//!
//! The models drive the pool itself through its public handle:
//! [`ThreadPool::new`] spawns the worker (`Registry::new`, `run_worker`),
//! [`ThreadPool::push`] goes through `Registry::push`/`inject` and the
//! shutdown gate, and [`ThreadPool::shutdown`] runs `Registry::shutdown`:
//! close the gate, publish the policy, `wake_all`, join, sweep the
//! injector. The worker runs the real `work_until_terminated`, `find_work`,
//! `push_local` and `cancel_local_jobs`, and sleeps through the real
//! [`Sleep`](crate::sleep::Sleep). All of it is built on `crate::loom`, so
//! loom sees every atomic, lock, condvar wait, spawn and join; the queues
//! are the mutex-backed stand-in in `loom/deque.rs`, which has the
//! crossbeam-deque shapes but not its orderings.
//!
//! A lost wake-up leaves the worker blocked on its condvar and the shutdown
//! blocked in its join, which loom reports as a deadlock. How each job
//! ended is bookkeeping outside the model (`std` atomics, `Relaxed`: loom
//! runs every model thread on one OS thread, so they add no interleavings).
//!
//! Not covered: `Cancel` and racing pushes with two workers (a second
//! worker multiplies the executions past what a test run can afford), the
//! start and idle hooks, panics in jobs, and a job's tail job.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use crate::{Config, Job, JobRef, ShutdownPolicy, ThreadPool};

/// The parent is pushed before shutdown begins; the racer races it from
/// another thread; the child is pushed by the parent (onto its worker's own
/// deque) when the parent runs.
const PARENT: usize = 0;
const RACER: usize = 1;
const CHILD: usize = 2;
const JOBS: usize = 3;

/// How each job ended.
#[derive(Default)]
struct Ledger {
    runs: [AtomicUsize; JOBS],
    cancels: [AtomicUsize; JOBS],
    handed_back: [AtomicUsize; JOBS],
}

impl Ledger {
    fn runs(&self, job: usize) -> usize {
        self.runs[job].load(Relaxed)
    }

    fn cancels(&self, job: usize) -> usize {
        self.cancels[job].load(Relaxed)
    }

    fn handed_back(&self, job: usize) -> usize {
        self.handed_back[job].load(Relaxed)
    }

    /// Run, cancelled by the pool, or handed back to its pusher.
    fn endings(&self, job: usize) -> usize {
        self.runs(job) + self.cancels(job) + self.handed_back(job)
    }
}

/// A job that records how it ended; the parent pushes the child when it
/// runs, through the pool's handle, as a task graph node would.
struct Recorded {
    id: usize,
    ledger: Arc<Ledger>,
    pool: ThreadPool,
}

/// Pushes job `id` to `pool`. A job handed back (the pool has shut down)
/// is the pusher's to cancel; the ledger counts it as handed back.
fn push(pool: &ThreadPool, id: usize, ledger: &Arc<Ledger>) {
    let job = Arc::new(Recorded {
        id,
        ledger: Arc::clone(ledger),
        pool: pool.clone(),
    });
    if pool.push(job).is_err() {
        ledger.handed_back[id].fetch_add(1, Relaxed);
    }
}

impl Job for Recorded {
    fn run(self: Arc<Self>) -> Option<JobRef> {
        self.ledger.runs[self.id].fetch_add(1, Relaxed);
        if self.id == PARENT {
            push(&self.pool, CHILD, &self.ledger);
        }
        None
    }

    fn cancel(self: Arc<Self>) {
        self.ledger.cancels[self.id].fetch_add(1, Relaxed);
    }
}

/// One worker, with loom's default stack: the pool's default 64 MiB would
/// be mapped again for every execution.
fn one_worker() -> Config {
    Config::new().num_workers(1).stack_size(None)
}

/// At most 3 preemptions per execution, for run time: the six models take
/// about a minute together under `--release`, where unbounded the smallest
/// explores 74 thousand executions and the `Cancel` one without a racer 630
/// thousand (two minutes), and a bound of 4 takes as long for one model with
/// a racer. Each break of the protocol tried against these models (no
/// `wake_all`, the terminate flag read after the search, a gate that does
/// not wait for pushes in flight, the join outside the lock, a `Drain`
/// overwriting a `Cancel`) fails within this bound.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// Every job in `pushed` ended exactly once: run, cancelled by the pool,
/// or handed back to its pusher; never two of these, never none. The
/// child exists iff its parent ran, and then ends once too; it is pushed
/// from the worker, which is never refused.
fn assert_each_job_ended_once(ledger: &Ledger, pushed: &[usize]) {
    for job in [PARENT, RACER] {
        assert_eq!(
            ledger.endings(job),
            usize::from(pushed.contains(&job)),
            "job {job}: runs {}, cancels {}, handed back {}",
            ledger.runs(job),
            ledger.cancels(job),
            ledger.handed_back(job)
        );
    }
    let refused = ledger.handed_back(CHILD);
    assert_eq!(refused, 0, "the worker's push was refused");
    assert_eq!(ledger.endings(CHILD), ledger.runs(PARENT), "the child");
}

/// One worker, started idle; the main thread pushes the parent and then
/// shuts the pool down with `policy`, while another thread pushes the racer
/// (unless `with_racer` is false). The worker is free to be anywhere
/// (searching, getting sleepy, in the sleep CAS, asleep) when each step of
/// the shutdown lands.
fn shutdown_races_the_worker(policy: ShutdownPolicy, with_racer: bool) {
    model(move || {
        let ledger = Arc::new(Ledger::default());
        let pool = ThreadPool::new(one_worker()).unwrap();
        let racer = with_racer.then(|| {
            let (pool, ledger) = (pool.clone(), Arc::clone(&ledger));
            loom::thread::spawn(move || push(&pool, RACER, &ledger))
        });

        push(&pool, PARENT, &ledger);
        // Deadlocks here (reported by loom) if the worker never wakes up.
        pool.shutdown(policy).unwrap();
        if let Some(racer) = racer {
            racer.join().unwrap();
        }

        assert_eq!(
            pool.registry().sleep().num_sleeping(),
            0,
            "a sleeper is still counted"
        );
        // The gate was open when the parent was pushed.
        assert_eq!(ledger.handed_back(PARENT), 0, "the parent was refused");
        let pushed: &[usize] = if with_racer {
            &[PARENT, RACER]
        } else {
            &[PARENT]
        };
        assert_each_job_ended_once(&ledger, pushed);
        if policy == ShutdownPolicy::Drain {
            // Drain: everything accepted runs, nothing is cancelled.
            assert_drain_ran_parent_and_child(&ledger);
            if with_racer {
                assert_eq!(
                    ledger.runs(RACER) + ledger.handed_back(RACER),
                    1,
                    "Drain lost the racing push it accepted"
                );
            }
            for job in 0..JOBS {
                assert_eq!(ledger.cancels(job), 0, "Drain cancelled job {job}");
            }
        }
    });
}

#[test]
fn loom_drain_runs_every_accepted_job_and_wakes_the_worker() {
    shutdown_races_the_worker(ShutdownPolicy::Drain, false);
}

#[test]
fn loom_drain_runs_or_refuses_a_push_racing_it() {
    shutdown_races_the_worker(ShutdownPolicy::Drain, true);
}

#[test]
fn loom_cancel_ends_every_job_once_and_wakes_the_worker() {
    shutdown_races_the_worker(ShutdownPolicy::Cancel, false);
}

#[test]
fn loom_cancel_ends_a_push_racing_it_exactly_once() {
    shutdown_races_the_worker(ShutdownPolicy::Cancel, true);
}

/// Two threads shut the pool down at once, one with `Drain` and one with
/// `Cancel`, while the worker may be anywhere. Each call returns only once
/// the worker has exited (the second waits for the first's join), the pool
/// ends up cancelling (a later `Drain` never weakens a `Cancel`), and every
/// job still ends exactly once.
#[test]
fn loom_concurrent_shutdowns_both_wait_for_the_worker_and_cancel_wins() {
    model(|| {
        let ledger = Arc::new(Ledger::default());
        let exited = Arc::new(AtomicBool::new(false));
        let on_exit = Arc::clone(&exited);
        let config = one_worker().on_worker_exit(move |_| on_exit.store(true, Relaxed));
        let pool = ThreadPool::new(config).unwrap();
        push(&pool, PARENT, &ledger);
        let canceller = {
            let (pool, exited) = (pool.clone(), Arc::clone(&exited));
            loom::thread::spawn(move || {
                pool.shutdown(ShutdownPolicy::Cancel).unwrap();
                assert!(exited.load(Relaxed), "Cancel returned before the join");
            })
        };
        pool.shutdown(ShutdownPolicy::Drain).unwrap();
        assert!(exited.load(Relaxed), "Drain returned before the join");
        canceller.join().unwrap();

        assert!(pool.registry().is_cancelling(), "Drain weakened Cancel");
        assert_eq!(ledger.endings(PARENT), 1);
        assert_eq!(
            ledger.handed_back(CHILD),
            0,
            "the worker's push was refused"
        );
        assert_eq!(ledger.endings(CHILD), ledger.runs(PARENT));
    });
}

/// Two workers: the parent is pushed from outside and its child onto the
/// deque of whichever worker runs it, where the other may steal it; a
/// `Drain` shutdown races both workers searching, stealing and going to
/// sleep. Each job runs exactly once, and both workers end (else the join
/// deadlocks).
#[test]
fn loom_drain_with_two_workers_runs_each_job_once() {
    model(|| {
        let ledger = Arc::new(Ledger::default());
        let pool = ThreadPool::new(one_worker().num_workers(2)).unwrap();
        push(&pool, PARENT, &ledger);
        pool.shutdown(ShutdownPolicy::Drain).unwrap();
        assert_each_job_ended_once(&ledger, &[PARENT]);
        assert_drain_ran_parent_and_child(&ledger);
    });
}

/// Drain's promise for the parent job and the child it pushes while the
/// pool drains: each runs exactly once.
fn assert_drain_ran_parent_and_child(ledger: &Ledger) {
    assert_eq!(
        ledger.runs(PARENT),
        1,
        "Drain lost the job pushed before it"
    );
    assert_eq!(
        ledger.runs(CHILD),
        1,
        "Drain lost the job pushed while draining"
    );
}
