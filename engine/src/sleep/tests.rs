//! Unit tests of sleep and wake-up, with real threads: pushes to workers
//! that are known to be asleep (the sleeper count says so).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::{Idle, Sleep};
use crate::{wait_until, Config, Latch, ShutdownPolicy, ThreadPool};
use hpyx_testkit::{size, wait_for, TIMEOUT};

fn sleepers(pool: &ThreadPool) -> usize {
    pool.registry().sleep().num_sleeping()
}

/// Push after every worker is asleep, thousands of times: the job runs.
#[test]
fn push_after_all_workers_sleep_is_not_lost() {
    const ROUNDS: usize = size(2_000, 10);
    let pool = ThreadPool::new(Config::new().num_workers(2)).unwrap();
    for _ in 0..ROUNDS {
        wait_for("both workers asleep", || sleepers(&pool) == 2);
        let (tx, rx) = mpsc::channel();
        pool.spawn(move || tx.send(()).unwrap()).unwrap();
        rx.recv_timeout(TIMEOUT)
            .expect("a job pushed to sleeping workers runs");
        assert!(sleepers(&pool) <= 2);
    }
    pool.shutdown(ShutdownPolicy::Drain).unwrap();
    assert_eq!(
        sleepers(&pool),
        0,
        "shutdown leaves a worker counted as asleep"
    );
}

/// A worker pushes onto its own deque while the other sleeps, then blocks:
/// the push must wake the sleeper, which steals the job.
#[test]
fn local_push_wakes_the_sleeper() {
    const ROUNDS: usize = size(500, 5);
    let pool = ThreadPool::new(Config::new().num_workers(2)).unwrap();
    for _ in 0..ROUNDS {
        wait_for("both workers asleep", || sleepers(&pool) == 2);
        let (tx, rx) = mpsc::channel();
        let p = pool.clone();
        pool.spawn(move || {
            // The other worker is (most likely) still asleep.
            let ran = Arc::new(AtomicBool::new(false));
            let r = Arc::clone(&ran);
            p.spawn(move || r.store(true, Ordering::SeqCst)).unwrap();
            let deadline = Instant::now() + TIMEOUT;
            while !ran.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::hint::spin_loop();
            }
            tx.send(ran.load(Ordering::SeqCst)).unwrap();
        })
        .unwrap();
        assert!(
            rx.recv_timeout(TIMEOUT).unwrap(),
            "the sleeping worker was not woken"
        );
    }
    pool.shutdown(ShutdownPolicy::Drain).unwrap();
}

/// A worker asleep inside a helping wait is woken by its latch.
#[test]
fn latch_wakes_a_worker_asleep_in_a_wait() {
    const ROUNDS: usize = size(300, 5);
    let pool = ThreadPool::new(Config::new().num_workers(1)).unwrap();
    for _ in 0..ROUNDS {
        let (tx, rx) = mpsc::channel();
        let (latch_tx, latch_rx) = mpsc::channel();
        pool.spawn(move || {
            let latch = Arc::new(Latch::new());
            latch_tx.send(Arc::clone(&latch)).unwrap();
            let r = wait_until::<()>(&latch, Some(Instant::now() + TIMEOUT), &mut || Ok(()));
            tx.send(r.is_ok()).unwrap();
        })
        .unwrap();
        let latch = latch_rx.recv_timeout(TIMEOUT).unwrap();
        wait_for("the waiting worker asleep", || sleepers(&pool) == 1);
        latch.set();
        assert!(
            rx.recv_timeout(TIMEOUT).unwrap(),
            "the wait did not end with the latch"
        );
    }
    pool.shutdown(ShutdownPolicy::Drain).unwrap();
}

/// `Sleep` alone: a sleeper and a publisher on real threads, many rounds.
#[test]
fn sleep_handshake_with_real_threads() {
    const ROUNDS: usize = size(2_000, 10);
    let sleep = Arc::new(Sleep::new(1));
    let published = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(AtomicUsize::new(0));
    let (s, p, n) = (
        Arc::clone(&sleep),
        Arc::clone(&published),
        Arc::clone(&seen),
    );
    let worker = std::thread::spawn(move || {
        for round in 1..=ROUNDS {
            let mut idle = s.start_looking();
            while p.load(Ordering::SeqCst) < round {
                let r = s.no_work_found(&mut idle, 0, None, None, || false);
                assert_eq!(r, Idle::KeepLooking);
            }
            n.store(round, Ordering::SeqCst);
        }
    });
    for round in 1..=ROUNDS {
        if round % 3 == 0 {
            wait_for("the worker asleep", || sleep.num_sleeping() == 1);
        }
        published.store(round, Ordering::SeqCst);
        sleep.new_jobs(1);
        wait_for("the worker to see the job", || {
            seen.load(Ordering::SeqCst) == round
        });
    }
    worker.join().unwrap();
    assert_eq!(sleep.num_sleeping(), 0);
}

/// A sleeper with a deadline times out and takes itself out of the count.
#[test]
fn sleep_with_a_deadline_times_out() {
    let sleep = Sleep::new(1);
    let mut idle = sleep.start_looking();
    let deadline = Instant::now() + Duration::from_millis(20);
    let outcome = loop {
        match sleep.no_work_found(&mut idle, 0, None, Some(deadline), || false) {
            Idle::KeepLooking => continue,
            other => break other,
        }
    };
    assert_eq!(outcome, Idle::TimedOut);
    assert!(Instant::now() >= deadline);
    assert_eq!(sleep.num_sleeping(), 0);
}

/// `wake_all` (shutdown) wakes every sleeper, and a worker about to sleep
/// sees the terminate flag instead.
#[test]
fn wake_all_wakes_every_sleeper() {
    const ROUNDS: usize = size(200, 3);
    for round in 0..ROUNDS {
        let sleep = Arc::new(Sleep::new(2));
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..2)
            .map(|i| {
                let (s, stop) = (Arc::clone(&sleep), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let mut idle = s.start_looking();
                    while !stop.load(Ordering::SeqCst) {
                        let _ = s.no_work_found(&mut idle, i, None, None, || {
                            stop.load(Ordering::SeqCst)
                        });
                    }
                })
            })
            .collect();
        if round % 2 == 0 {
            wait_for("both asleep", || sleep.num_sleeping() == 2);
        }
        stop.store(true, Ordering::SeqCst);
        sleep.wake_all();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for w in workers {
                w.join().unwrap();
            }
            tx.send(()).unwrap();
        });
        rx.recv_timeout(TIMEOUT).expect("every sleeper woke up");
        assert_eq!(sleep.num_sleeping(), 0);
    }
}
