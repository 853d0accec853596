//! Shutdown: `Drain` runs everything queued and everything it spawns,
//! `Cancel` cancels what is queued, and every accepted job ends exactly once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use hpyx_engine::{Config, Job, JobRef, ShutdownPolicy, ThreadPool};
use hpyx_testkit::{recv, silence_expected_panics, size, try_wait_for, wait_for, within_timeout};

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

fn pool(workers: usize) -> ThreadPool {
    ThreadPool::new(Config::new().num_workers(workers)).unwrap()
}

/// Blocks the pool's single worker until the returned flag is set.
fn block_worker(pool: &ThreadPool) -> Arc<AtomicBool> {
    let release = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (r, s) = (Arc::clone(&release), Arc::clone(&started));
    pool.spawn(move || {
        s.store(true, Ordering::SeqCst);
        try_wait_for(|| r.load(Ordering::SeqCst));
    })
    .unwrap();
    wait_for("the blocker to start", || started.load(Ordering::SeqCst));
    release
}

/// Spawns a binary tree of jobs `depth` levels below the calling one.
fn tree(pool: ThreadPool, depth: u32, count: Arc<AtomicUsize>) {
    count.fetch_add(1, Ordering::SeqCst);
    if depth > 0 {
        for _ in 0..2 {
            let (p, c) = (pool.clone(), Arc::clone(&count));
            pool.spawn(move || tree(p, depth - 1, c)).unwrap();
        }
    }
}

#[test]
fn drain_runs_everything_queued_and_spawned() {
    const ROOTS: usize = size(200, 10);
    const DEPTH: u32 = 4;
    let pool = pool(2);
    let count = Arc::new(AtomicUsize::new(0));
    for _ in 0..ROOTS {
        let (p, c) = (pool.clone(), Arc::clone(&count));
        pool.spawn(move || tree(p, DEPTH, c)).unwrap();
    }
    let p = pool.clone();
    within_timeout("shutdown", move || p.shutdown(ShutdownPolicy::Drain)).unwrap();
    assert_eq!(
        count.load(Ordering::SeqCst),
        ROOTS * ((1 << (DEPTH + 1)) - 1)
    );
}

#[test]
fn drain_with_a_blocked_worker_runs_the_backlog() {
    let pool = pool(1);
    let release = block_worker(&pool);
    let runs = Arc::new(AtomicUsize::new(0));
    let cancels = Arc::new(AtomicUsize::new(0));
    for _ in 0..1000 {
        let job = Arc::new(CountingJob {
            runs: Arc::clone(&runs),
            cancels: Arc::clone(&cancels),
        });
        assert!(pool.push(job).is_ok());
    }
    let p = pool.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(p.shutdown(ShutdownPolicy::Drain)).unwrap());
    wait_for("the gate to close", || pool.is_shut_down());
    release.store(true, Ordering::SeqCst);
    recv(&rx, "shutdown").unwrap();
    assert_eq!(
        (runs.load(Ordering::SeqCst), cancels.load(Ordering::SeqCst)),
        (1000, 0)
    );
}

/// A job pushed from outside just before `shutdown(Drain)` runs: an idle
/// worker must not see the terminate flag before it sees the job.
#[test]
fn drain_right_after_a_push_runs_the_job() {
    const ROUNDS: usize = size(3_000, 10);
    let mut lost = 0;
    for round in 0..ROUNDS {
        let pool = pool(1);
        // Let the worker reach its idle loop (spinning or asleep).
        for _ in 0..round % 7 {
            std::thread::yield_now();
        }
        let runs = Arc::new(AtomicUsize::new(0));
        let cancels = Arc::new(AtomicUsize::new(0));
        let job = Arc::new(CountingJob {
            runs: Arc::clone(&runs),
            cancels: Arc::clone(&cancels),
        });
        assert!(pool.push(job).is_ok());
        pool.shutdown(ShutdownPolicy::Drain).unwrap();
        assert_eq!(
            runs.load(Ordering::SeqCst) + cancels.load(Ordering::SeqCst),
            1
        );
        lost += cancels.load(Ordering::SeqCst);
    }
    assert_eq!(
        lost, 0,
        "Drain cancelled {lost} of {ROUNDS} jobs pushed before it"
    );
}

#[test]
fn cancel_cancels_the_backlog_and_counts_add_up() {
    const ROUNDS: usize = size(20, 2);
    const JOBS: usize = size(1_000, 20);
    for _ in 0..ROUNDS {
        let pool = pool(2);
        let runs = Arc::new(AtomicUsize::new(0));
        let cancels = Arc::new(AtomicUsize::new(0));
        let mut pushed = 0;
        for _ in 0..JOBS {
            let job = Arc::new(CountingJob {
                runs: Arc::clone(&runs),
                cancels: Arc::clone(&cancels),
            });
            if pool.push(job).is_ok() {
                pushed += 1;
            }
        }
        let p = pool.clone();
        within_timeout("shutdown", move || p.shutdown(ShutdownPolicy::Cancel)).unwrap();
        assert_eq!(pushed, JOBS);
        assert_eq!(
            runs.load(Ordering::SeqCst) + cancels.load(Ordering::SeqCst),
            pushed
        );
    }
}

#[test]
fn cancel_with_a_blocked_worker_cancels_jobs_spawned_inside() {
    // The blocked job itself queues work on its own deque, then returns
    // after shutdown began: that work is cancelled, not run and not lost.
    let pool = pool(1);
    let runs = Arc::new(AtomicUsize::new(0));
    let cancels = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let queued = Arc::new(AtomicBool::new(false));
    let (p, r, c, rel, q) = (
        pool.clone(),
        Arc::clone(&runs),
        Arc::clone(&cancels),
        Arc::clone(&release),
        Arc::clone(&queued),
    );
    pool.spawn(move || {
        for _ in 0..100 {
            let job = Arc::new(CountingJob {
                runs: Arc::clone(&r),
                cancels: Arc::clone(&c),
            });
            assert!(p.push(job).is_ok());
        }
        q.store(true, Ordering::SeqCst);
        try_wait_for(|| rel.load(Ordering::SeqCst));
        // Let shutdown publish its policy.
        std::thread::sleep(Duration::from_millis(20));
    })
    .unwrap();
    wait_for("the jobs to be queued", || queued.load(Ordering::SeqCst));
    let p = pool.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(p.shutdown(ShutdownPolicy::Cancel)).unwrap());
    wait_for("the gate to close", || pool.is_shut_down());
    release.store(true, Ordering::SeqCst);
    recv(&rx, "shutdown").unwrap();
    assert_eq!(
        runs.load(Ordering::SeqCst) + cancels.load(Ordering::SeqCst),
        100
    );
}

#[test]
fn pushes_racing_shutdown_are_run_cancelled_or_handed_back() {
    const PUSHERS: usize = 3;
    const JOBS: usize = size(2_000, 20);
    for policy in [ShutdownPolicy::Drain, ShutdownPolicy::Cancel] {
        let pool = pool(2);
        let runs = Arc::new(AtomicUsize::new(0));
        let cancels = Arc::new(AtomicUsize::new(0));
        let handed_back = Arc::new(AtomicUsize::new(0));
        let pushers: Vec<_> = (0..PUSHERS)
            .map(|_| {
                let (p, r, c, h) = (
                    pool.clone(),
                    Arc::clone(&runs),
                    Arc::clone(&cancels),
                    Arc::clone(&handed_back),
                );
                std::thread::spawn(move || {
                    for _ in 0..JOBS {
                        let job = Arc::new(CountingJob {
                            runs: Arc::clone(&r),
                            cancels: Arc::clone(&c),
                        });
                        if p.push(job).is_err() {
                            h.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        wait_for("some jobs to run", || runs.load(Ordering::SeqCst) > 0);
        let p = pool.clone();
        within_timeout("shutdown", move || p.shutdown(policy)).unwrap();
        for pusher in pushers {
            pusher.join().unwrap();
        }
        let (r, c, h) = (
            runs.load(Ordering::SeqCst),
            cancels.load(Ordering::SeqCst),
            handed_back.load(Ordering::SeqCst),
        );
        assert_eq!(
            r + c + h,
            PUSHERS * JOBS,
            "{policy:?}: run {r} + cancelled {c} + handed back {h}"
        );
        if policy == ShutdownPolicy::Drain {
            assert_eq!(c, 0, "Drain cancelled accepted jobs");
        }
    }
}

/// A second `shutdown` returns only once the first has joined the workers,
/// as documented: after it returns, the drained work is done.
#[test]
fn concurrent_shutdowns_both_wait_for_the_workers() {
    let pool = pool(1);
    let done = Arc::new(AtomicBool::new(false));
    let release = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (d, r, s) = (
        Arc::clone(&done),
        Arc::clone(&release),
        Arc::clone(&started),
    );
    pool.spawn(move || {
        s.store(true, Ordering::SeqCst);
        try_wait_for(|| r.load(Ordering::SeqCst));
        d.store(true, Ordering::SeqCst);
    })
    .unwrap();
    wait_for("the job to start", || started.load(Ordering::SeqCst));
    let mut results = Vec::new();
    for policy in [ShutdownPolicy::Drain, ShutdownPolicy::Drain] {
        let (p, d) = (pool.clone(), Arc::clone(&done));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let r = p.shutdown(policy);
            tx.send((r.is_ok(), d.load(Ordering::SeqCst))).unwrap();
        });
        wait_for("the gate to close", || pool.is_shut_down());
        results.push(rx);
    }
    // Give the second call time to return early if it is going to.
    std::thread::sleep(Duration::from_millis(100));
    release.store(true, Ordering::SeqCst);
    for rx in results {
        assert_eq!(
            recv(&rx, "a shutdown"),
            (true, true),
            "a shutdown returned before the workers finished"
        );
    }
}

#[test]
fn cancel_after_drain_began_is_not_weakened() {
    // Drain then Cancel: the later, stronger policy wins and every job ends once.
    let pool = pool(1);
    let release = block_worker(&pool);
    let runs = Arc::new(AtomicUsize::new(0));
    let cancels = Arc::new(AtomicUsize::new(0));
    for _ in 0..500 {
        let job = Arc::new(CountingJob {
            runs: Arc::clone(&runs),
            cancels: Arc::clone(&cancels),
        });
        assert!(pool.push(job).is_ok());
    }
    let (p1, p2) = (pool.clone(), pool.clone());
    let first = std::thread::spawn(move || p1.shutdown(ShutdownPolicy::Drain));
    wait_for("the gate to close", || pool.is_shut_down());
    let second = std::thread::spawn(move || p2.shutdown(ShutdownPolicy::Cancel));
    std::thread::sleep(Duration::from_millis(20));
    release.store(true, Ordering::SeqCst);
    within_timeout("shutdowns", move || {
        (first.join().unwrap(), second.join().unwrap())
    })
    .0
    .unwrap();
    assert_eq!(
        runs.load(Ordering::SeqCst) + cancels.load(Ordering::SeqCst),
        500
    );
}

/// A job whose `cancel` panics: the panic is caught like a panic in `run`,
/// shutdown still returns, and the other queued jobs are still cancelled.
#[test]
fn a_panicking_cancel_does_not_escape_shutdown() {
    struct PanicOnCancel;
    impl Job for PanicOnCancel {
        fn run(self: Arc<Self>) -> Option<JobRef> {
            None
        }
        fn cancel(self: Arc<Self>) {
            panic!("cancel panics (expected panic)");
        }
    }
    silence_expected_panics();
    let pool = pool(1);
    let release = block_worker(&pool);
    let runs = Arc::new(AtomicUsize::new(0));
    let cancels = Arc::new(AtomicUsize::new(0));
    for i in 0..20 {
        if i % 5 == 0 {
            assert!(pool.push(Arc::new(PanicOnCancel)).is_ok());
        }
        let job = Arc::new(CountingJob {
            runs: Arc::clone(&runs),
            cancels: Arc::clone(&cancels),
        });
        assert!(pool.push(job).is_ok());
    }
    let p = pool.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(p.shutdown(ShutdownPolicy::Cancel).is_ok()).unwrap());
    wait_for("the gate to close", || pool.is_shut_down());
    std::thread::sleep(Duration::from_millis(10));
    release.store(true, Ordering::SeqCst);
    assert!(recv(&rx, "shutdown (it must not panic)"));
    assert_eq!(
        runs.load(Ordering::SeqCst) + cancels.load(Ordering::SeqCst),
        20
    );
}

/// A job pushed from a worker's exit hook (after its last job) is not
/// silently dropped: it is run or cancelled.
#[test]
fn a_push_from_an_exit_hook_is_not_lost() {
    let runs = Arc::new(AtomicUsize::new(0));
    let cancels = Arc::new(AtomicUsize::new(0));
    let slot: Arc<std::sync::OnceLock<ThreadPool>> = Arc::new(std::sync::OnceLock::new());
    // A weak reference: the pool owns the hook, so a strong one would be a
    // cycle (the pool would never be freed; LeakSanitizer reports it).
    let (r, c, s) = (
        Arc::clone(&runs),
        Arc::clone(&cancels),
        Arc::downgrade(&slot),
    );
    let pool = ThreadPool::new(Config::new().num_workers(2).on_worker_exit(move |_| {
        let job = Arc::new(CountingJob {
            runs: Arc::clone(&r),
            cancels: Arc::clone(&c),
        });
        let slot = s.upgrade().expect("the test still holds the pool");
        if let Err(job) = slot.get().unwrap().push(job) {
            job.cancel();
        }
    }))
    .unwrap();
    slot.set(pool.clone()).unwrap();
    let p = pool.clone();
    within_timeout("shutdown", move || p.shutdown(ShutdownPolicy::Drain)).unwrap();
    assert_eq!(
        runs.load(Ordering::SeqCst) + cancels.load(Ordering::SeqCst),
        2,
        "each exit hook's job ends once"
    );
}

#[test]
fn a_failed_thread_spawn_is_reported() {
    // No machine gives a thread a 256 TiB stack.
    let err = ThreadPool::new(Config::new().num_workers(2).stack_size(1usize << 48)).unwrap_err();
    assert!(
        err.to_string().contains("could not start a worker thread"),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());
    assert!(!err.is_shut_down() && !err.is_invalid_config() && !err.is_forked());
}
