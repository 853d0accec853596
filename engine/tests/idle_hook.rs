//! `Config::on_worker_idle` runs when a worker runs out of work, never
//! inside a job, and at least once per idle period.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use hpyx_engine::{Config, ShutdownPolicy, ThreadPool};
use hpyx_testkit::{recv, wait_for};

#[test]
fn idle_hook_runs_after_work_runs_out() {
    let idle = Arc::new(AtomicUsize::new(0));
    let in_job = Arc::new(AtomicUsize::new(0));
    let (hook_idle, hook_in_job) = (Arc::clone(&idle), Arc::clone(&in_job));
    let pool = ThreadPool::new(Config::new().num_workers(1).on_worker_idle(move |index| {
        assert_eq!(index, 0);
        // Never called while a job runs on this worker.
        assert_eq!(hook_in_job.load(Ordering::SeqCst), 0);
        hook_idle.fetch_add(1, Ordering::SeqCst);
    }))
    .unwrap();
    for round in 1..=3 {
        let (tx, rx) = mpsc::channel();
        let flag = Arc::clone(&in_job);
        pool.spawn(move || {
            flag.store(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            flag.store(0, Ordering::SeqCst);
            tx.send(()).unwrap();
        })
        .unwrap();
        recv(&rx, "the job");
        // The worker goes idle after each job, so the hook has run at least
        // once per round (plus once at start if it was idle before the first
        // job arrived).
        wait_for(&format!("the idle hook after round {round}"), || {
            idle.load(Ordering::SeqCst) >= round
        });
    }
    pool.shutdown(ShutdownPolicy::Drain).unwrap();
}
