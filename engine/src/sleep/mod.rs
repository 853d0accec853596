//! Sleep and wake-up of idle workers. The protocol and why it loses no
//! wake-up are in `README.md` beside this file.

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;

use std::time::Instant;

use crossbeam_utils::CachePadded;

use crate::loom::sync::atomic::{fence, AtomicU64, Ordering};
use crate::loom::sync::{Condvar, Mutex, MutexGuard};

/// Rounds of searching with `yield_now` before a worker gets sleepy (none
/// under loom: the models need the protocol, not the spinning).
#[cfg(not(loom))]
const ROUNDS_UNTIL_SLEEPY: u32 = 32;
#[cfg(loom)]
const ROUNDS_UNTIL_SLEEPY: u32 = 0;
/// One more round after getting sleepy, then sleep.
const ROUNDS_UNTIL_SLEEPING: u32 = ROUNDS_UNTIL_SLEEPY + 1;

const SLEEPER_BITS: u32 = 16;
const SLEEPER_MASK: u64 = (1 << SLEEPER_BITS) - 1;
const JEC_ONE: u64 = 1 << SLEEPER_BITS;

/// The largest pool the sleeper count can represent.
pub(crate) const MAX_WORKERS: usize = (1 << SLEEPER_BITS) - 1;

fn jec(counters: u64) -> u64 {
    counters >> SLEEPER_BITS
}

fn sleepers(counters: u64) -> u64 {
    counters & SLEEPER_MASK
}

/// Something a sleeping worker is also waiting for (a latch); see
/// [`crate::latch::Latch`].
pub(crate) trait SleepCondition {
    /// Marks the condition "worker is sleeping"; false if it already holds.
    fn try_mark_sleeping(&self) -> bool;
    /// Undoes `try_mark_sleeping` after waking.
    fn unmark_sleeping(&self);
}

/// The shared sleep state of one pool.
pub(crate) struct Sleep {
    counters: CachePadded<AtomicU64>,
    workers: Box<[CachePadded<WorkerSleepState>]>,
}

struct WorkerSleepState {
    is_blocked: Mutex<bool>,
    condvar: Condvar,
}

/// A worker's progress towards sleep, reset whenever it finds work.
pub(crate) struct IdleState {
    rounds: u32,
    jec: u64,
}

/// How a call to [`Sleep::no_work_found`] ended.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Idle {
    /// Keep searching.
    KeepLooking,
    /// The latch-like condition passed in holds.
    ConditionMet,
    /// The deadline passed while asleep (or before sleeping).
    TimedOut,
}

fn lock(m: &Mutex<bool>) -> MutexGuard<'_, bool> {
    // A panic while holding this lock cannot leave the bool inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sleep {
    pub(crate) fn new(num_workers: usize) -> Sleep {
        Sleep {
            counters: CachePadded::new(AtomicU64::new(0)),
            workers: (0..num_workers)
                .map(|_| {
                    CachePadded::new(WorkerSleepState {
                        is_blocked: Mutex::new(false),
                        condvar: Condvar::new(),
                    })
                })
                .collect(),
        }
    }

    pub(crate) fn start_looking(&self) -> IdleState {
        IdleState { rounds: 0, jec: 0 }
    }

    /// Called by an idle worker after a search found nothing.
    #[cfg_attr(loom, allow(clippy::absurd_extreme_comparisons))]
    pub(crate) fn no_work_found(
        &self,
        idle: &mut IdleState,
        worker_index: usize,
        condition: Option<&dyn SleepCondition>,
        deadline: Option<Instant>,
        is_terminating: impl Fn() -> bool,
    ) -> Idle {
        if idle.rounds < ROUNDS_UNTIL_SLEEPY {
            std::thread::yield_now();
            idle.rounds += 1;
            Idle::KeepLooking
        } else if idle.rounds == ROUNDS_UNTIL_SLEEPY {
            idle.jec = self.announce_sleepy();
            idle.rounds += 1;
            Idle::KeepLooking
        } else {
            debug_assert_eq!(idle.rounds, ROUNDS_UNTIL_SLEEPING);
            self.sleep(idle, worker_index, condition, deadline, is_terminating)
        }
    }

    /// Step 2: make the JEC odd (if it is not already) and return it.
    fn announce_sleepy(&self) -> u64 {
        let mut current = self.counters.load(Ordering::SeqCst);
        loop {
            if jec(current) % 2 == 1 {
                return jec(current);
            }
            match self.counters.compare_exchange_weak(
                current,
                current.wrapping_add(JEC_ONE),
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return jec(current.wrapping_add(JEC_ONE)),
                Err(actual) => current = actual,
            }
        }
    }

    /// Step 4: fall asleep unless a job was published since step 2.
    fn sleep(
        &self,
        idle: &mut IdleState,
        worker_index: usize,
        condition: Option<&dyn SleepCondition>,
        deadline: Option<Instant>,
        is_terminating: impl Fn() -> bool,
    ) -> Idle {
        let state = &self.workers[worker_index];
        let mut is_blocked = lock(&state.is_blocked);
        if let Some(condition) = condition {
            if !condition.try_mark_sleeping() {
                idle.rounds = 0;
                return Idle::ConditionMet;
            }
        }
        *is_blocked = true;
        let mut current = self.counters.load(Ordering::SeqCst);
        loop {
            if jec(current) != idle.jec || is_terminating() {
                // A job (or shutdown) was published after we got sleepy.
                *is_blocked = false;
                drop(is_blocked);
                if let Some(condition) = condition {
                    condition.unmark_sleeping();
                }
                idle.rounds = ROUNDS_UNTIL_SLEEPY;
                return Idle::KeepLooking;
            }
            match self.counters.compare_exchange_weak(
                current,
                current + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }

        let mut timed_out = false;
        while *is_blocked {
            match deadline {
                None => {
                    is_blocked = state
                        .condvar
                        .wait(is_blocked)
                        .unwrap_or_else(|e| e.into_inner());
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        // Still counted as a sleeper: take ourselves out under
                        // our own lock, where a waker would have done it.
                        *is_blocked = false;
                        self.counters.fetch_sub(1, Ordering::SeqCst);
                        timed_out = true;
                        break;
                    }
                    let (guard, _) = state
                        .condvar
                        .wait_timeout(is_blocked, deadline - now)
                        .unwrap_or_else(|e| e.into_inner());
                    is_blocked = guard;
                }
            }
        }
        drop(is_blocked);
        if let Some(condition) = condition {
            condition.unmark_sleeping();
        }
        idle.rounds = 0;
        if timed_out {
            Idle::TimedOut
        } else {
            Idle::KeepLooking
        }
    }

    /// A pusher's side: call after publishing `num_jobs` jobs.
    #[inline]
    pub(crate) fn new_jobs(&self, num_jobs: usize) {
        // Orders the job write before the read of `counters` (see README).
        fence(Ordering::SeqCst);
        let counters = self.counters.load(Ordering::SeqCst);
        if jec(counters) % 2 == 1 || sleepers(counters) != 0 {
            self.new_jobs_cold(counters, num_jobs);
        }
    }

    #[cold]
    fn new_jobs_cold(&self, mut current: u64, num_jobs: usize) {
        while jec(current) % 2 == 1 {
            match self.counters.compare_exchange_weak(
                current,
                current.wrapping_add(JEC_ONE),
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        let to_wake = (sleepers(current) as usize).min(num_jobs);
        for _ in 0..to_wake {
            if !self.wake_any() {
                break;
            }
        }
    }

    /// Wakes one blocked worker, if any; true if one was woken.
    fn wake_any(&self) -> bool {
        (0..self.workers.len()).any(|i| self.wake_specific(i))
    }

    /// Wakes worker `index` if it is blocked; true if it was.
    pub(crate) fn wake_specific(&self, index: usize) -> bool {
        let state = &self.workers[index];
        let mut is_blocked = lock(&state.is_blocked);
        if *is_blocked {
            *is_blocked = false;
            self.counters.fetch_sub(1, Ordering::SeqCst);
            state.condvar.notify_one();
            true
        } else {
            false
        }
    }

    /// Shutdown: make every sleepy worker re-check, wake every sleeper.
    pub(crate) fn wake_all(&self) {
        self.counters.fetch_add(JEC_ONE * 2, Ordering::SeqCst);
        for i in 0..self.workers.len() {
            self.wake_specific(i);
        }
    }

    /// The number of workers currently asleep (for tests and stats).
    #[cfg(test)]
    pub(crate) fn num_sleeping(&self) -> usize {
        sleepers(self.counters.load(Ordering::SeqCst)) as usize
    }
}
