//! Stress tests of the pool: many jobs, many pushers, sleep and wake-up.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::test_pool;
use hpyx_engine::{wait_until, Latch, ThreadPool};
use hpyx_testkit::{deadline, recv, size, try_wait_for, wait_for, TimedBarrier};

fn counters(n: usize) -> Arc<Vec<AtomicUsize>> {
    Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect())
}

/// Recursive spawning from inside the pool, mixed with helping waits: every
/// job runs exactly once.
#[test]
fn stress() {
    const ROOTS: usize = size(64, 4);
    const FANOUT: usize = size(64, 4);
    let pool = test_pool(2);
    let runs = counters(ROOTS * FANOUT);
    let roots_done = Arc::new(AtomicUsize::new(0));
    for root in 0..ROOTS {
        let (p, runs, done) = (pool.clone(), Arc::clone(&runs), Arc::clone(&roots_done));
        pool.spawn(move || {
            let latches: Vec<_> = (0..FANOUT)
                .map(|i| {
                    let latch = Arc::new(Latch::new());
                    let (setter, runs) = (Arc::clone(&latch), Arc::clone(&runs));
                    p.spawn(move || {
                        runs[root * FANOUT + i].fetch_add(1, Ordering::SeqCst);
                        setter.set();
                    })
                    .unwrap();
                    latch
                })
                .collect();
            // Helping waits, in push order (the deque pops the other end).
            for latch in &latches {
                wait_until::<()>(latch, Some(deadline()), &mut || Ok(())).unwrap();
            }
            done.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    wait_for("all roots", || roots_done.load(Ordering::SeqCst) == ROOTS);
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r.load(Ordering::SeqCst), 1, "job {i}");
    }
}

/// Many threads push at once, to a pool whose workers keep falling asleep.
#[test]
fn stampede() {
    const THREADS: usize = 6;
    const JOBS: usize = size(3_000, 20);
    let pool = test_pool(2);
    let runs = counters(THREADS * JOBS);
    let go = Arc::new(AtomicBool::new(false));
    let pushers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (p, runs, go) = (pool.clone(), Arc::clone(&runs), Arc::clone(&go));
            std::thread::spawn(move || {
                while !go.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
                for i in 0..JOBS {
                    let runs = Arc::clone(&runs);
                    p.spawn(move || {
                        runs[t * JOBS + i].fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
                    if i % 512 == 0 {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    go.store(true, Ordering::SeqCst);
    for p in pushers {
        p.join().unwrap();
    }
    wait_for("every job", || {
        runs.iter().all(|r| r.load(Ordering::SeqCst) >= 1)
    });
    drop(pool);
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r.load(Ordering::SeqCst), 1, "job {i}");
    }
}

/// A job pushed from outside runs even while the workers' own deques never
/// empty: a job that keeps respawning itself must not starve the injector.
#[test]
fn no_starvation() {
    const CAP: usize = size(100_000, 1_000);

    /// The streams' shared state.
    #[derive(Clone, Default)]
    struct Streams {
        /// The outside job ran: stop.
        stop: Arc<AtomicBool>,
        /// The outside job is in the injector: count from now on.
        pushed: Arc<AtomicBool>,
        count: Arc<AtomicUsize>,
        /// `CAP` jobs ran after the push: the outside job was starved.
        capped: Arc<AtomicBool>,
    }

    /// One self-respawning stream.
    fn respawn(pool: ThreadPool, s: Streams) {
        if s.stop.load(Ordering::SeqCst) {
            return;
        }
        if s.pushed.load(Ordering::SeqCst) && s.count.fetch_add(1, Ordering::SeqCst) >= CAP {
            s.capped.store(true, Ordering::SeqCst);
            return;
        }
        let p = pool.clone();
        pool.spawn(move || respawn(p, s)).unwrap();
    }

    for workers in [1, 2] {
        let pool = test_pool(workers);
        let streams = Streams::default();
        let ran_before_cap = Arc::new(AtomicBool::new(false));
        let busy = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(TimedBarrier::new(workers));
        for _ in 0..workers {
            let (p, s, barrier, busy) = (
                pool.clone(),
                streams.clone(),
                Arc::clone(&barrier),
                Arc::clone(&busy),
            );
            pool.spawn(move || {
                // Every worker has a stream before the outside job arrives.
                barrier.arrive_and_wait();
                busy.fetch_add(1, Ordering::SeqCst);
                respawn(p, s);
            })
            .unwrap();
        }
        wait_for("the streams to start", || {
            busy.load(Ordering::SeqCst) == workers
        });
        let (s, before) = (streams.clone(), Arc::clone(&ran_before_cap));
        pool.spawn(move || {
            before.store(!s.capped.load(Ordering::SeqCst), Ordering::SeqCst);
            s.stop.store(true, Ordering::SeqCst);
        })
        .unwrap();
        streams.pushed.store(true, Ordering::SeqCst);
        wait_for("the outside job", || streams.stop.load(Ordering::SeqCst));
        assert!(
            ran_before_cap.load(Ordering::SeqCst),
            "{workers} worker(s): the outside job waited for {CAP} local jobs to run first"
        );
    }
}

/// Jobs pushed at every phase of a worker's idle loop (spinning, sleepy,
/// asleep) all run: no lost wake-up.
#[test]
fn push_to_idle_workers_is_never_lost() {
    const ROUNDS: usize = size(3_000, 20);
    let pool = test_pool(2);
    for round in 0..ROUNDS {
        let (tx, rx) = mpsc::channel();
        pool.spawn(move || tx.send(()).unwrap()).unwrap();
        recv(&rx, "a job pushed to idle workers");
        // Vary how far the workers got towards sleep.
        match round % 4 {
            0 => {}
            1 => std::thread::yield_now(),
            2 => std::thread::sleep(Duration::from_micros(50)),
            _ => std::thread::sleep(Duration::from_micros(500)),
        }
    }
}

/// A worker blocked in a job pushes onto its own deque; a sleeping worker
/// must be woken to steal it.
#[test]
fn local_push_wakes_a_sleeping_worker() {
    const ROUNDS: usize = size(300, 5);
    let pool = test_pool(2);
    for _ in 0..ROUNDS {
        // Let the other worker fall asleep.
        std::thread::sleep(Duration::from_micros(300));
        let (tx, rx) = mpsc::channel();
        let p = pool.clone();
        pool.spawn(move || {
            let ran = Arc::new(AtomicBool::new(false));
            let r = Arc::clone(&ran);
            p.spawn(move || r.store(true, Ordering::SeqCst)).unwrap();
            tx.send(try_wait_for(|| ran.load(Ordering::SeqCst)))
                .unwrap();
        })
        .unwrap();
        assert!(
            recv(&rx, "the parent"),
            "the child was not stolen by the sleeping worker"
        );
    }
}

/// Many non-worker threads wait on latches set from the pool.
#[test]
fn parked_waiters_are_woken() {
    const THREADS: usize = 4;
    const ROUNDS: usize = size(500, 5);
    let pool = test_pool(2);
    let waiters: Vec<_> = (0..THREADS)
        .map(|_| {
            let p = pool.clone();
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let latch = Arc::new(Latch::new());
                    let setter = Arc::clone(&latch);
                    p.spawn(move || setter.set()).unwrap();
                    wait_until::<()>(&latch, Some(deadline()), &mut || Ok(())).unwrap();
                }
            })
        })
        .collect();
    for w in waiters {
        w.join().unwrap();
    }
}
