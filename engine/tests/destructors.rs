//! Every job, closure and captured value is dropped exactly once: when it
//! runs, when it panics, when it is cancelled, and when it is handed back.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use common::test_pool;
use hpyx_engine::{Config, FnJob, Job, JobRef, ShutdownPolicy, ThreadPool};
use hpyx_testkit::{
    recv, silence_expected_panics, size, try_wait_for, wait_for, within_timeout, DropCounter,
    DropToken,
};

/// A job that counts its runs, cancels and drops.
struct Tracked {
    runs: Arc<AtomicUsize>,
    cancels: Arc<AtomicUsize>,
    _token: DropToken,
}

impl Job for Tracked {
    fn run(self: Arc<Self>) -> Option<JobRef> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        None
    }

    fn cancel(self: Arc<Self>) {
        self.cancels.fetch_add(1, Ordering::SeqCst);
    }
}

struct Counts {
    runs: Arc<AtomicUsize>,
    cancels: Arc<AtomicUsize>,
    drops: DropCounter,
}

impl Counts {
    fn new() -> Counts {
        Counts {
            runs: Arc::default(),
            cancels: Arc::default(),
            drops: DropCounter::new(),
        }
    }

    fn job(&self) -> Arc<Tracked> {
        Arc::new(Tracked {
            runs: Arc::clone(&self.runs),
            cancels: Arc::clone(&self.cancels),
            _token: self.drops.token(),
        })
    }

    fn get(&self) -> (usize, usize, usize) {
        (
            self.runs.load(Ordering::SeqCst),
            self.cancels.load(Ordering::SeqCst),
            self.drops.dropped(),
        )
    }
}

#[test]
fn destructors() {
    const N: usize = size(1_000, 20);
    let pool = test_pool(2);
    let drops = DropCounter::new();
    let runs = Arc::new(AtomicUsize::new(0));
    for _ in 0..N {
        let (token, runs) = (drops.token(), Arc::clone(&runs));
        pool.spawn(move || {
            let _keep = &token;
            runs.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    wait_for("every closure dropped", || drops.dropped() == N);
    drop(pool);
    assert_eq!((runs.load(Ordering::SeqCst), drops.dropped()), (N, N));
}

#[test]
fn custom_jobs_are_dropped_once_after_running() {
    const N: usize = size(1_000, 20);
    let pool = test_pool(2);
    let counts = Counts::new();
    for _ in 0..N {
        assert!(pool.push(counts.job()).is_ok());
    }
    wait_for("every job dropped", || counts.drops.dropped() == N);
    drop(pool);
    assert_eq!(counts.get(), (N, 0, N));
}

#[test]
fn panicking_closures_are_dropped_once() {
    silence_expected_panics();
    const N: usize = size(20, 4);
    let pool = test_pool(2);
    let drops = DropCounter::new();
    for _ in 0..N {
        let token = drops.token();
        pool.spawn(move || {
            let _keep = &token;
            panic!("destructors test (expected panic)");
        })
        .unwrap();
    }
    wait_for("every closure dropped", || drops.dropped() == N);
    drop(pool);
    assert_eq!(drops.dropped(), N);
}

#[test]
fn cancelled_jobs_and_closures_are_dropped_once() {
    const N: usize = size(1_000, 20);
    let pool = ThreadPool::new(Config::new().num_workers(1)).unwrap();
    // Keep the only worker busy until shutdown has begun.
    let release = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (r, s) = (Arc::clone(&release), Arc::clone(&started));
    pool.spawn(move || {
        s.store(true, Ordering::SeqCst);
        try_wait_for(|| r.load(Ordering::SeqCst));
    })
    .unwrap();
    wait_for("the blocker", || started.load(Ordering::SeqCst));
    let counts = Counts::new();
    let closure_drops = DropCounter::new();
    let closure_runs = Arc::new(AtomicUsize::new(0));
    for _ in 0..N {
        assert!(pool.push(counts.job()).is_ok());
        let (token, runs) = (closure_drops.token(), Arc::clone(&closure_runs));
        pool.spawn(move || {
            let _keep = &token;
            runs.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    let p = pool.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(p.shutdown(ShutdownPolicy::Cancel)).unwrap());
    wait_for("the gate to close", || pool.is_shut_down());
    release.store(true, Ordering::SeqCst);
    recv(&rx, "shutdown").unwrap();
    let (runs, cancels, drops) = counts.get();
    assert_eq!(runs + cancels, N, "each job ends exactly once");
    assert_eq!(drops, N, "each job is dropped exactly once");
    assert_eq!(
        closure_drops.dropped(),
        N,
        "each closure is dropped exactly once"
    );
    assert!(closure_runs.load(Ordering::SeqCst) <= N);
}

#[test]
fn jobs_handed_back_are_dropped_by_their_owner() {
    let pool = ThreadPool::new(Config::new().num_workers(1)).unwrap();
    within_timeout("shutdown", {
        let p = pool.clone();
        move || p.shutdown(ShutdownPolicy::Drain)
    })
    .unwrap();
    let counts = Counts::new();
    let back = pool.push(counts.job()).expect_err("handed back");
    assert_eq!(
        counts.get(),
        (0, 0, 0),
        "neither run, cancelled nor dropped by the pool"
    );
    drop(back);
    assert_eq!(counts.get(), (0, 0, 1));

    // `spawn` cancels (drops) the closure it could not push, without running it.
    let drops = DropCounter::new();
    let token = drops.token();
    let ran = Arc::new(AtomicBool::new(false));
    let r = Arc::clone(&ran);
    assert!(pool
        .spawn(move || {
            let _keep = &token;
            r.store(true, Ordering::SeqCst);
        })
        .is_err());
    assert_eq!(drops.dropped(), 1);
    assert!(!ran.load(Ordering::SeqCst));

    // An `FnJob` cancelled directly drops its closure without running it.
    let drops = DropCounter::new();
    let token = drops.token();
    let job = FnJob::new(move || {
        let _keep = &token;
        unreachable!("a cancelled job never runs");
    });
    job.cancel();
    assert_eq!(drops.dropped(), 1);
}

#[test]
fn tail_jobs_are_dropped_once() {
    struct Chain {
        left: usize,
        _token: DropToken,
        drops: DropCounter,
    }
    impl Job for Chain {
        fn run(self: Arc<Self>) -> Option<JobRef> {
            (self.left > 0).then(|| {
                Arc::new(Chain {
                    left: self.left - 1,
                    _token: self.drops.token(),
                    drops: self.drops.clone(),
                }) as JobRef
            })
        }
    }
    const LEN: usize = size(1_000, 20);
    let pool = test_pool(2);
    let drops = DropCounter::new();
    let head = Arc::new(Chain {
        left: LEN - 1,
        _token: drops.token(),
        drops: drops.clone(),
    });
    assert!(pool.push(head).is_ok());
    wait_for("the chain", || drops.dropped() == LEN);
    drop(pool);
    assert_eq!(drops.dropped(), LEN);
}
