//! Panics in jobs are caught at the job boundary: the worker lives on, and
//! the pool keeps all its workers.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use common::test_pool;
use hpyx_engine::{panic_message, Config, ShutdownPolicy, ThreadPool};
use hpyx_testkit::{recv, silence_expected_panics, size, wait_for, TimedBarrier};

#[test]
fn panics_are_caught_and_every_worker_lives_on() {
    silence_expected_panics();
    const WORKERS: usize = 3;
    const PANICS: usize = size(30, 3);
    let pool = test_pool(WORKERS);
    let attempted = Arc::new(AtomicUsize::new(0));
    for i in 0..PANICS {
        let attempted = Arc::clone(&attempted);
        pool.spawn(move || {
            attempted.fetch_add(1, Ordering::SeqCst);
            if i % 2 == 0 {
                panic!("job {i} panics (expected panic)");
            } else {
                std::panic::panic_any(format!("job {i} (expected panic)"));
            }
        })
        .unwrap();
    }
    wait_for("every panicking job", || {
        attempted.load(Ordering::SeqCst) == PANICS
    });
    // All workers are still there: WORKERS jobs can meet at once.
    for _ in 0..3 {
        let barrier = Arc::new(TimedBarrier::new(WORKERS));
        let (tx, rx) = mpsc::channel();
        for _ in 0..WORKERS {
            let (barrier, tx) = (Arc::clone(&barrier), tx.clone());
            pool.spawn(move || tx.send(barrier.arrive_and_wait()).unwrap())
                .unwrap();
        }
        for _ in 0..WORKERS {
            assert!(recv(&rx, "a barrier job"), "a worker died after a panic");
        }
    }
}

#[test]
fn the_next_job_runs_on_the_same_worker() {
    silence_expected_panics();
    let pool = test_pool(1);
    let (tx, rx) = mpsc::channel();
    pool.spawn(|| panic!("first (expected panic)")).unwrap();
    pool.spawn(move || tx.send(hpyx_engine::current_worker_index()).unwrap())
        .unwrap();
    assert_eq!(recv(&rx, "the job after the panic"), Some(0));
}

#[test]
fn panicking_hooks_do_not_kill_the_pool() {
    silence_expected_panics();
    let exits = Arc::new(Mutex::new(0));
    let e = Arc::clone(&exits);
    let pool = ThreadPool::new(
        Config::new()
            .num_workers(2)
            .on_worker_start(|i| panic!("start hook {i} (expected panic)"))
            .on_worker_exit(move |i| {
                *e.lock().unwrap() += 1;
                panic!("exit hook {i} (expected panic)")
            }),
    )
    .unwrap();
    let (tx, rx) = mpsc::channel();
    pool.spawn(move || tx.send(()).unwrap()).unwrap();
    recv(&rx, "a job after a panicking start hook");
    pool.shutdown(ShutdownPolicy::Drain).unwrap();
    assert_eq!(*exits.lock().unwrap(), 2);
}

#[test]
fn panic_message_reads_common_payloads() {
    let s: Box<dyn std::any::Any + Send> = Box::new("static");
    assert_eq!(panic_message(&*s), "static");
    let s: Box<dyn std::any::Any + Send> = Box::new(String::from("owned"));
    assert_eq!(panic_message(&*s), "owned");
    let s: Box<dyn std::any::Any + Send> = Box::new(42u8);
    assert_eq!(panic_message(&*s), "<non-string panic payload>");
    silence_expected_panics();
    let payload =
        std::panic::catch_unwind(|| panic!("formatted {} (expected panic)", 7)).unwrap_err();
    assert_eq!(panic_message(&*payload), "formatted 7 (expected panic)");
}
