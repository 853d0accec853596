//! Smoke tests of the pool: each public operation once, end to end.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::{test_pool, test_pool_with};
use hpyx_engine::{
    current_worker_index, wait_until, Config, FnJob, Job, JobRef, Latch, ShutdownPolicy,
    ThreadPool, WaitError, HOOK_INTERVAL,
};
use hpyx_testkit::{deadline, recv, size, try_wait_for, wait_for, TimedBarrier};

fn counters(n: usize) -> Arc<Vec<AtomicUsize>> {
    Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect())
}

fn assert_each_ran_once(runs: &[AtomicUsize]) {
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(
            r.load(Ordering::SeqCst),
            1,
            "job {i} ran a wrong number of times"
        );
    }
}

#[test]
fn smoke() {
    let pool = test_pool(2);
    let (tx, rx) = mpsc::channel();
    pool.spawn(move || tx.send(current_worker_index()).unwrap())
        .unwrap();
    let index = recv(&rx, "the job");
    assert!(matches!(index, Some(0 | 1)), "ran on {index:?}");
    assert_eq!(pool.num_workers(), 2);
    assert_eq!(pool.config().get_num_workers(), 2);
    assert!(!pool.is_shut_down());
}

#[test]
fn spawn_from_outside_runs_each_job_once() {
    const N: usize = size(2_000, 50);
    let pool = test_pool(2);
    let runs = counters(N);
    let done = Arc::new(AtomicUsize::new(0));
    for i in 0..N {
        let (runs, done) = (Arc::clone(&runs), Arc::clone(&done));
        pool.spawn(move || {
            runs[i].fetch_add(1, Ordering::SeqCst);
            done.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    wait_for("all jobs", || done.load(Ordering::SeqCst) == N);
    drop(pool);
    assert_each_ran_once(&runs);
    assert_eq!(done.load(Ordering::SeqCst), N);
}

#[test]
fn spawn_from_inside_runs_each_job_once() {
    const N: usize = size(2_000, 50);
    let pool = test_pool(2);
    let runs = counters(N);
    let done = Arc::new(AtomicUsize::new(0));
    let inner = pool.clone();
    let (r, d) = (Arc::clone(&runs), Arc::clone(&done));
    pool.spawn(move || {
        assert!(inner.current_worker_index().is_some());
        for i in 0..N {
            let (runs, done) = (Arc::clone(&r), Arc::clone(&d));
            inner
                .spawn(move || {
                    runs[i].fetch_add(1, Ordering::SeqCst);
                    done.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
        }
    })
    .unwrap();
    wait_for("all jobs", || done.load(Ordering::SeqCst) == N);
    drop(pool);
    assert_each_ran_once(&runs);
}

#[test]
fn worker_indices_are_zero_based_and_none_outside() {
    let pool = test_pool(3);
    let other = test_pool(1);
    assert_eq!(current_worker_index(), None);
    assert_eq!(pool.current_worker_index(), None);
    let barrier = Arc::new(TimedBarrier::new(3));
    let (tx, rx) = mpsc::channel();
    for _ in 0..3 {
        let (barrier, tx, p, o) = (
            Arc::clone(&barrier),
            tx.clone(),
            pool.clone(),
            other.clone(),
        );
        pool.spawn(move || {
            // Three jobs meet at once: they are on three distinct workers.
            let met = barrier.arrive_and_wait();
            tx.send((
                met,
                current_worker_index(),
                p.current_worker_index(),
                o.current_worker_index(),
            ))
            .unwrap();
        })
        .unwrap();
    }
    let mut seen = BTreeSet::new();
    for _ in 0..3 {
        let (met, global, this, foreign) = recv(&rx, "a job");
        assert!(met, "three jobs did not run at once on three workers");
        assert_eq!(global, this);
        assert_eq!(foreign, None, "another pool's index leaked");
        seen.insert(this.expect("on a worker"));
    }
    assert_eq!(seen, BTreeSet::from([0, 1, 2]));
}

#[test]
fn workers_are_named_and_run_start_and_exit_hooks_once() {
    let started = Arc::new(Mutex::new(Vec::new()));
    let exited = Arc::new(Mutex::new(Vec::new()));
    let (s, e) = (Arc::clone(&started), Arc::clone(&exited));
    let pool = ThreadPool::new(
        Config::new()
            .num_workers(2)
            .thread_name("smoke")
            .on_worker_start(move |i| {
                s.lock()
                    .unwrap()
                    .push((i, std::thread::current().name().map(str::to_owned)))
            })
            .on_worker_exit(move |i| e.lock().unwrap().push(i)),
    )
    .unwrap();
    wait_for("start hooks", || started.lock().unwrap().len() == 2);
    let mut s = started.lock().unwrap().clone();
    s.sort();
    assert_eq!(
        s,
        vec![
            (0, Some("smoke-0".to_owned())),
            (1, Some("smoke-1".to_owned()))
        ]
    );
    assert!(exited.lock().unwrap().is_empty());
    pool.shutdown(ShutdownPolicy::Drain).unwrap();
    let mut e = exited.lock().unwrap().clone();
    e.sort();
    assert_eq!(
        e,
        vec![0, 1],
        "each exit hook runs once, before shutdown returns"
    );
}

#[test]
fn a_worker_runs_its_own_jobs_newest_first() {
    // One worker: nobody steals, so the order is the owner's.
    let pool = test_pool(1);
    let order = Arc::new(Mutex::new(Vec::new()));
    let (p, o) = (pool.clone(), Arc::clone(&order));
    pool.spawn(move || {
        for name in ["a", "b", "c"] {
            let o = Arc::clone(&o);
            p.spawn(move || o.lock().unwrap().push(name)).unwrap();
        }
    })
    .unwrap();
    wait_for("three jobs", || order.lock().unwrap().len() == 3);
    assert_eq!(*order.lock().unwrap(), vec!["c", "b", "a"]);
}

#[test]
fn a_blocked_workers_jobs_are_stolen() {
    const ROUNDS: usize = size(200, 5);
    let pool = test_pool(2);
    for _ in 0..ROUNDS {
        let (tx, rx) = mpsc::channel();
        let p = pool.clone();
        pool.spawn(move || {
            let me = current_worker_index().unwrap();
            let child_ran_on = Arc::new(AtomicUsize::new(usize::MAX));
            let c = Arc::clone(&child_ran_on);
            // Onto this worker's own deque...
            p.spawn(move || c.store(current_worker_index().unwrap(), Ordering::SeqCst))
                .unwrap();
            // ...and block without helping: only the other worker can run it.
            let stolen = try_wait_for(|| child_ran_on.load(Ordering::SeqCst) != usize::MAX);
            tx.send((me, stolen, child_ran_on.load(Ordering::SeqCst)))
                .unwrap();
        })
        .unwrap();
        let (me, stolen, other) = recv(&rx, "the parent job");
        assert!(stolen, "the child pushed by worker {me} was never stolen");
        assert_ne!(me, other);
    }
}

#[test]
fn push_returns_job_after_shutdown() {
    let pool = ThreadPool::new(Config::new().num_workers(1)).unwrap();
    pool.shutdown(ShutdownPolicy::Drain).unwrap();
    assert!(pool.is_shut_down());
    let ran = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&ran);
    let job = FnJob::new(move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    let back = pool
        .push(Arc::clone(&job))
        .expect_err("a shut-down pool hands the job back");
    assert!(Arc::ptr_eq(&back, &job));
    let r = Arc::clone(&ran);
    let err = pool.spawn(move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    assert!(err.unwrap_err().is_shut_down());
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    // Idempotent.
    pool.shutdown(ShutdownPolicy::Cancel).unwrap();
}

#[test]
fn shutdown_from_a_worker_fails() {
    let pool = test_pool(1);
    let (tx, rx) = mpsc::channel();
    let p = pool.clone();
    pool.spawn(move || {
        tx.send(p.shutdown(ShutdownPolicy::Drain).map_err(|e| e.to_string()))
            .unwrap()
    })
    .unwrap();
    let err = recv(&rx, "the job").unwrap_err();
    assert!(err.contains("own workers"), "{err}");
    assert!(!pool.is_shut_down());
}

#[test]
fn invalid_configs_are_rejected() {
    for config in [
        Config::new().num_workers(0),
        Config::new().stack_size(1024),
        Config::new().max_help_depth(0),
        Config::new().num_workers(1 << 20),
    ] {
        let err = ThreadPool::new(config).unwrap_err();
        assert!(err.is_invalid_config(), "{err}");
        assert!(!err.is_shut_down());
    }
    let pool = test_pool_with(Config::new().num_workers(1).stack_size(None));
    let (tx, rx) = mpsc::channel();
    pool.spawn(move || tx.send(()).unwrap()).unwrap();
    recv(&rx, "a job on a default-stack worker");
}

#[test]
fn wait_on_a_set_latch_returns_at_once() {
    let latch = Latch::new();
    latch.set();
    assert!(latch.probe());
    wait_until::<()>(&latch, Some(Instant::now()), &mut || panic!("no hook call")).unwrap();
}

#[test]
fn latch_set_from_another_thread_wakes_a_parked_waiter() {
    const ROUNDS: usize = size(2_000, 20);
    for i in 0..ROUNDS {
        let latch = Arc::new(Latch::new());
        let setter = Arc::clone(&latch);
        let handle = std::thread::spawn(move || {
            if i % 2 == 0 {
                std::thread::yield_now();
            }
            setter.set()
        });
        wait_until::<()>(&latch, Some(deadline()), &mut || Ok(())).expect("woken, not timed out");
        assert!(latch.probe());
        handle.join().unwrap();
    }
}

#[test]
fn wait_times_out_on_a_plain_thread() {
    let latch = Latch::new();
    let start = Instant::now();
    let result = wait_until::<()>(&latch, Some(start + Duration::from_millis(50)), &mut || {
        Ok(())
    });
    assert!(matches!(result, Err(WaitError::Timeout)), "{result:?}");
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert!(!latch.probe());
}

#[test]
fn wait_times_out_on_a_worker() {
    let pool = test_pool(1);
    let (tx, rx) = mpsc::channel();
    pool.spawn(move || {
        let latch = Latch::new();
        let r = wait_until::<()>(
            &latch,
            Some(Instant::now() + Duration::from_millis(50)),
            &mut || Ok(()),
        );
        tx.send(matches!(r, Err(WaitError::Timeout))).unwrap();
    })
    .unwrap();
    assert!(
        recv(&rx, "the waiting job"),
        "a worker's wait did not time out"
    );
}

#[test]
fn hook_is_called_periodically_and_its_error_interrupts() {
    let latch = Latch::new();
    let mut calls = 0;
    let start = Instant::now();
    let result = wait_until(&latch, Some(deadline()), &mut || {
        calls += 1;
        if calls == 3 {
            Err("signal")
        } else {
            Ok(())
        }
    });
    assert!(
        matches!(result, Err(WaitError::Interrupted("signal"))),
        "{result:?}"
    );
    assert_eq!(calls, 3);
    // Three intervals passed before the third call (a lower bound only).
    assert!(start.elapsed() >= HOOK_INTERVAL * 3);
    assert_eq!(
        result.unwrap_err().to_string(),
        "the wait was interrupted: signal"
    );
}

#[test]
fn hook_interrupts_a_worker_wait() {
    let pool = test_pool(1);
    let (tx, rx) = mpsc::channel();
    pool.spawn(move || {
        let latch = Latch::new();
        let mut calls = 0;
        let r = wait_until(&latch, Some(deadline()), &mut || {
            calls += 1;
            if calls == 2 {
                Err(calls)
            } else {
                Ok(())
            }
        });
        tx.send((matches!(r, Err(WaitError::Interrupted(2))), calls))
            .unwrap();
    })
    .unwrap();
    assert_eq!(recv(&rx, "the waiting job"), (true, 2));
}

/// Level `k` pushes level `k + 1` and waits for it, helping: level `limit`
/// is the first whose wait is refused.
fn nest(pool: ThreadPool, k: usize, limit: usize, results: Arc<Mutex<Vec<(usize, String)>>>) {
    let latch = Arc::new(Latch::new());
    if k < limit {
        let (setter, p, r) = (Arc::clone(&latch), pool.clone(), Arc::clone(&results));
        pool.spawn(move || {
            nest(p, k + 1, limit, r);
            setter.set();
        })
        .unwrap();
    }
    let outcome = match wait_until::<()>(&latch, Some(deadline()), &mut || Ok(())) {
        Ok(()) => "ok".to_owned(),
        Err(WaitError::TooDeep { limit }) => format!("too deep {limit}"),
        Err(e) => format!("{e:?}"),
    };
    results.lock().unwrap().push((k, outcome));
}

#[test]
fn nested_waits_fail_too_deep_at_max_help_depth() {
    const LIMIT: usize = 4;
    let pool = test_pool_with(Config::new().num_workers(1).max_help_depth(LIMIT));
    let results = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let (p, r) = (pool.clone(), Arc::clone(&results));
    pool.spawn(move || {
        nest(p, 0, LIMIT, r);
        tx.send(()).unwrap();
    })
    .unwrap();
    recv(&rx, "the nested waits");
    let mut results = results.lock().unwrap().clone();
    results.sort();
    let mut expected: Vec<_> = (0..LIMIT).map(|k| (k, "ok".to_owned())).collect();
    expected.push((LIMIT, format!("too deep {LIMIT}")));
    assert_eq!(results, expected);
    // The depth is restored: a fresh wait on the worker is allowed again.
    let (tx, rx) = mpsc::channel();
    pool.spawn(move || {
        let latch = Latch::new();
        let r = wait_until::<()>(
            &latch,
            Some(Instant::now() + Duration::from_millis(5)),
            &mut || Ok(()),
        );
        tx.send(matches!(r, Err(WaitError::Timeout))).unwrap();
    })
    .unwrap();
    assert!(recv(&rx, "a fresh wait"));
}

#[test]
fn a_worker_wait_helps_with_its_own_jobs() {
    // One worker waits for a job it pushed: it must run that job itself.
    let pool = test_pool(1);
    let (tx, rx) = mpsc::channel();
    let p = pool.clone();
    pool.spawn(move || {
        let latch = Arc::new(Latch::new());
        let setter = Arc::clone(&latch);
        let ran_on = Arc::new(AtomicUsize::new(usize::MAX));
        let r = Arc::clone(&ran_on);
        p.spawn(move || {
            r.store(current_worker_index().unwrap(), Ordering::SeqCst);
            setter.set();
        })
        .unwrap();
        let waited = wait_until::<()>(&latch, Some(deadline()), &mut || Ok(()));
        tx.send((waited.is_ok(), ran_on.load(Ordering::SeqCst)))
            .unwrap();
    })
    .unwrap();
    assert_eq!(recv(&rx, "the waiting job"), (true, 0));
}

/// A job that counts how it ended.
struct CountingJob {
    runs: Arc<AtomicUsize>,
    cancels: Arc<AtomicUsize>,
}

impl Job for CountingJob {
    fn run(self: Arc<Self>) -> Option<JobRef> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        None
    }

    fn cancel(self: Arc<Self>) {
        self.cancels.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn tail_jobs_run_next_on_the_same_worker() {
    struct Chain {
        left: usize,
        on: Arc<Mutex<Vec<usize>>>,
    }
    impl Job for Chain {
        fn run(self: Arc<Self>) -> Option<JobRef> {
            self.on
                .lock()
                .unwrap()
                .push(current_worker_index().unwrap());
            (self.left > 0).then(|| {
                Arc::new(Chain {
                    left: self.left - 1,
                    on: Arc::clone(&self.on),
                }) as JobRef
            })
        }
    }
    let pool = test_pool(2);
    let on = Arc::new(Mutex::new(Vec::new()));
    pool.push(Arc::new(Chain {
        left: 99,
        on: Arc::clone(&on),
    }))
    .unwrap_or_else(|_| panic!("pushed"));
    wait_for("the chain", || on.lock().unwrap().len() == 100);
    let on = on.lock().unwrap();
    assert!(
        on.iter().all(|&w| w == on[0]),
        "a tail job moved to another worker: {on:?}"
    );
}

#[test]
fn custom_jobs_run_exactly_once() {
    let pool = test_pool(2);
    let runs = Arc::new(AtomicUsize::new(0));
    let cancels = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        let job = Arc::new(CountingJob {
            runs: Arc::clone(&runs),
            cancels: Arc::clone(&cancels),
        });
        assert!(pool.push(job).is_ok());
    }
    wait_for("100 runs", || runs.load(Ordering::SeqCst) == 100);
    drop(pool);
    assert_eq!(
        (runs.load(Ordering::SeqCst), cancels.load(Ordering::SeqCst)),
        (100, 0)
    );
}

#[test]
fn error_messages_name_the_problem() {
    let err = ThreadPool::new(Config::new().num_workers(0)).unwrap_err();
    assert!(err.to_string().contains("num_workers"), "{err}");
    let e: WaitError<&str> = WaitError::TooDeep { limit: 7 };
    assert!(e.to_string().contains("max_help_depth=7"), "{e}");
    assert_eq!(WaitError::<&str>::Timeout.to_string(), "the wait timed out");
}
