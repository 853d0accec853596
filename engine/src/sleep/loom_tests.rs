//! Loom models of the sleep/wake handshake (`README.md` beside this file).
//!
//! The queues are stand-ins: a `loom::sync::Mutex<VecDeque>` per model,
//! because crossbeam-deque is not loom-aware. Deadlines are `None`
//! (`Instant` is not modelled). A lost wake-up leaves a worker blocked on
//! its condvar forever, which loom reports as a deadlock.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p hpyx-engine --release --lib loom`

use std::collections::VecDeque;

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};

use super::Sleep;
use crate::latch::Latch;

type Queue = Arc<Mutex<VecDeque<u32>>>;

/// A worker's main loop, reduced: search the queue, else go towards sleep.
/// Returns the job it found.
fn work_until_found(sleep: &Sleep, index: usize, queue: &Queue) -> u32 {
    let mut idle = sleep.start_looking();
    loop {
        if let Some(job) = queue.lock().unwrap().pop_front() {
            return job;
        }
        let _ = sleep.no_work_found(&mut idle, index, None, None, || false);
    }
}

/// One worker going to sleep races a pusher: the worker always sees the job.
#[test]
fn loom_push_is_never_lost() {
    loom::model(|| {
        let sleep = Arc::new(Sleep::new(1));
        let queue: Queue = Arc::new(Mutex::new(VecDeque::new()));
        let (s, q) = (Arc::clone(&sleep), Arc::clone(&queue));
        let worker = loom::thread::spawn(move || work_until_found(&s, 0, &q));
        queue.lock().unwrap().push_back(7);
        sleep.new_jobs(1);
        assert_eq!(worker.join().unwrap(), 7);
        assert_eq!(sleep.num_sleeping(), 0);
    });
}

/// Two jobs pushed by two threads: the worker sees both (the second push
/// can come while the worker, having taken the first, heads back to sleep).
#[test]
fn loom_two_pushers() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let sleep = Arc::new(Sleep::new(1));
        let queue: Queue = Arc::new(Mutex::new(VecDeque::new()));
        let (s, q) = (Arc::clone(&sleep), Arc::clone(&queue));
        let worker = loom::thread::spawn(move || {
            let a = work_until_found(&s, 0, &q);
            let b = work_until_found(&s, 0, &q);
            a + b
        });
        let (s, q) = (Arc::clone(&sleep), Arc::clone(&queue));
        let pusher = loom::thread::spawn(move || {
            q.lock().unwrap().push_back(1);
            s.new_jobs(1);
        });
        queue.lock().unwrap().push_back(2);
        sleep.new_jobs(1);
        pusher.join().unwrap();
        assert_eq!(worker.join().unwrap(), 3);
    });
}

/// Two workers, one job: one of them gets it; shutdown (`wake_all`) then
/// ends the other, whether it is searching, sleepy or asleep.
#[test]
fn loom_two_workers_and_shutdown() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let sleep = Arc::new(Sleep::new(2));
        let queue: Queue = Arc::new(Mutex::new(VecDeque::new()));
        let terminate = Arc::new(AtomicBool::new(false));
        let taken = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..2)
            .map(|index| {
                let (s, q, t, n) = (
                    Arc::clone(&sleep),
                    Arc::clone(&queue),
                    Arc::clone(&terminate),
                    Arc::clone(&taken),
                );
                loom::thread::spawn(move || {
                    let mut idle = s.start_looking();
                    loop {
                        // As in the pool: read the flag before searching.
                        let terminating = t.load(Ordering::Acquire);
                        if q.lock().unwrap().pop_front().is_some() {
                            n.fetch_add(1, Ordering::SeqCst);
                            idle = s.start_looking();
                            continue;
                        }
                        if terminating {
                            return;
                        }
                        let _ = s.no_work_found(&mut idle, index, None, None, || {
                            t.load(Ordering::Acquire)
                        });
                    }
                })
            })
            .collect();
        queue.lock().unwrap().push_back(1);
        sleep.new_jobs(1);
        terminate.store(true, Ordering::Release);
        sleep.wake_all();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(taken.load(Ordering::SeqCst), 1);
        assert_eq!(sleep.num_sleeping(), 0);
    });
}

/// A worker waiting on a latch (asleep inside a helping wait) races the
/// latch being set: it always wakes up and sees it set.
#[test]
fn loom_latch_set_wakes_the_waiter() {
    loom::model(|| {
        let sleep = Arc::new(Sleep::new(1));
        let latch = Arc::new(Latch::for_model(Arc::clone(&sleep), 0));
        let (s, l) = (Arc::clone(&sleep), Arc::clone(&latch));
        let waiter = loom::thread::spawn(move || {
            let mut idle = s.start_looking();
            while !l.probe() {
                let _ = s.no_work_found(&mut idle, 0, Some(&*l), None, || false);
            }
        });
        latch.set();
        assert!(latch.probe());
        waiter.join().unwrap();
        assert_eq!(sleep.num_sleeping(), 0);
    });
}

/// The latch waiter also races a job push: whichever comes, it wakes, and
/// the latch set after the job still ends the wait.
#[test]
fn loom_latch_waiter_woken_by_a_push() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let sleep = Arc::new(Sleep::new(1));
        let queue: Queue = Arc::new(Mutex::new(VecDeque::new()));
        let latch = Arc::new(Latch::for_model(Arc::clone(&sleep), 0));
        let (s, l, q) = (Arc::clone(&sleep), Arc::clone(&latch), Arc::clone(&queue));
        let waiter = loom::thread::spawn(move || {
            // A helping wait: run jobs until the latch is set.
            let mut idle = s.start_looking();
            let mut ran = 0;
            while !l.probe() {
                if let Some(job) = q.lock().unwrap().pop_front() {
                    ran += job;
                    idle = s.start_looking();
                    continue;
                }
                let _ = s.no_work_found(&mut idle, 0, Some(&*l), None, || false);
            }
            ran
        });
        // The job sets nothing; the latch is set afterwards by this thread.
        queue.lock().unwrap().push_back(1);
        sleep.new_jobs(1);
        latch.set();
        let ran = waiter.join().unwrap();
        assert!(ran <= 1);
    });
}
