//! Waiting that helps.
//!
//! A pool worker that must wait runs other ready jobs (its own deque first,
//! so a job it pushed and is now waiting for runs right here) and sleeps
//! only when there is nothing to run, woken by the latch. Any other thread
//! parks, waking at the latch, at the deadline, and every
//! [`HOOK_INTERVAL`] to call the hook (the Python layer checks for signals
//! there, with the interpreter detached for the rest of the wait).

use std::time::{Duration, Instant};

use crate::error::WaitError;
use crate::latch::Latch;
use crate::worker::WorkerThread;

/// How often a waiting thread calls its hook.
pub const HOOK_INTERVAL: Duration = Duration::from_millis(20);

/// Waits until `latch` is set, the `deadline` passes, or `hook` returns an
/// error. `latch` must have been created on this thread ([`Latch::new`]).
///
/// On a worker this helps (runs other jobs) and fails with
/// [`WaitError::TooDeep`] rather than nest more than
/// [`Config::max_help_depth`](crate::Config::max_help_depth) waits.
pub fn wait_until<E>(
    latch: &Latch,
    deadline: Option<Instant>,
    hook: &mut dyn FnMut() -> Result<(), E>,
) -> Result<(), WaitError<E>> {
    if latch.probe() {
        return Ok(());
    }
    // Take a handle so no borrow of the thread-local is held while jobs run.
    match crate::worker::current() {
        Some(worker) => wait_on_worker(&worker, latch, deadline, hook),
        None => wait_parked(latch, deadline, hook),
    }
}

/// Waits like [`wait_until`], but a worker runs only the jobs `next_job`
/// hands it (targeted helping) and otherwise parks; `latch` must come from
/// [`Latch::new_parking`].
///
/// General helping can deadlock when tasks block on *sibling* tasks: a
/// worker waiting in task A may pick up task B that waits for A, and A
/// cannot resume until B returns, because B runs on top of A's frames.
/// Running only what the awaited result needs (the graph hands out queued
/// nodes of the awaited node's own ancestry) cannot: anything such a nested
/// job waits for that needed A to finish would be a genuine cycle. A job's
/// tail job is pushed to the pool, not run here, for the same reason.
///
/// While parked the worker wakes at the latch, at the deadline, for the hook,
/// and to ask `next_job` again (every 100 µs at first, backing off to 10 ms):
/// work it needs can become runnable without the latch being set.
pub fn wait_until_helping<E>(
    latch: &Latch,
    deadline: Option<Instant>,
    hook: &mut dyn FnMut() -> Result<(), E>,
    next_job: &mut dyn FnMut() -> Option<crate::JobRef>,
) -> Result<(), WaitError<E>> {
    if latch.probe() {
        return Ok(());
    }
    let Some(worker) = crate::worker::current() else {
        return wait_parked(latch, deadline, hook);
    };
    let limit = worker.registry().config().get_max_help_depth();
    let depth = worker.help_depth().get();
    if depth >= limit {
        return Err(WaitError::TooDeep { limit });
    }
    worker.help_depth().set(depth + 1);
    let _restore = RestoreDepth(&worker, depth);

    const FIRST_POLL: Duration = Duration::from_micros(100);
    const LAST_POLL: Duration = Duration::from_millis(10);
    let mut poll = FIRST_POLL;
    let mut next_hook = Instant::now() + HOOK_INTERVAL;
    loop {
        if latch.probe() {
            return Ok(());
        }
        if let Some(job) = next_job() {
            worker.execute_one(job);
            poll = FIRST_POLL;
            if deadline.is_some() || Instant::now() >= next_hook {
                check_time(deadline, &mut next_hook, hook)?;
            }
            continue;
        }
        if !latch.prepare_park() {
            return Ok(());
        }
        check_time(deadline, &mut next_hook, hook)?;
        if latch.probe() {
            return Ok(());
        }
        let now = Instant::now();
        let wake_at = deadline
            .map_or(next_hook, |d| d.min(next_hook))
            .min(now + poll);
        if wake_at > now {
            std::thread::park_timeout(wake_at - now);
        }
        poll = (poll * 2).min(LAST_POLL);
    }
}

fn wait_on_worker<E>(
    worker: &WorkerThread,
    latch: &Latch,
    deadline: Option<Instant>,
    hook: &mut dyn FnMut() -> Result<(), E>,
) -> Result<(), WaitError<E>> {
    let limit = worker.registry().config().get_max_help_depth();
    let depth = worker.help_depth().get();
    if depth >= limit {
        return Err(WaitError::TooDeep { limit });
    }
    worker.help_depth().set(depth + 1);
    let _restore = RestoreDepth(worker, depth);

    let sleep = worker.registry().sleep();
    let mut idle = None;
    let mut next_hook = Instant::now() + HOOK_INTERVAL;
    loop {
        if latch.probe() {
            return Ok(());
        }
        if let Some(job) = worker.find_work() {
            idle = None;
            worker.execute(job);
            if deadline.is_some() || Instant::now() >= next_hook {
                check_time(deadline, &mut next_hook, hook)?;
            }
            continue;
        }
        check_time(deadline, &mut next_hook, hook)?;
        let state = idle.get_or_insert_with(|| sleep.start_looking());
        let wake_at = deadline.map_or(next_hook, |d| d.min(next_hook));
        // A waiting worker ignores shutdown: the job it is inside must
        // finish first.
        let _ = sleep.no_work_found(state, worker.index(), Some(latch), Some(wake_at), || false);
    }
}

fn wait_parked<E>(
    latch: &Latch,
    deadline: Option<Instant>,
    hook: &mut dyn FnMut() -> Result<(), E>,
) -> Result<(), WaitError<E>> {
    let mut next_hook = Instant::now() + HOOK_INTERVAL;
    loop {
        if !latch.prepare_park() {
            return Ok(());
        }
        check_time(deadline, &mut next_hook, hook)?;
        if latch.probe() {
            return Ok(());
        }
        let wake_at = deadline.map_or(next_hook, |d| d.min(next_hook));
        let now = Instant::now();
        if wake_at > now {
            std::thread::park_timeout(wake_at - now);
        }
    }
}

/// Fails with `Timeout` past the deadline; calls the hook when it is due.
fn check_time<E>(
    deadline: Option<Instant>,
    next_hook: &mut Instant,
    hook: &mut dyn FnMut() -> Result<(), E>,
) -> Result<(), WaitError<E>> {
    let now = Instant::now();
    if deadline.is_some_and(|d| now >= d) {
        return Err(WaitError::Timeout);
    }
    if now >= *next_hook {
        hook().map_err(WaitError::Interrupted)?;
        *next_hook = Instant::now() + HOOK_INTERVAL;
    }
    Ok(())
}

struct RestoreDepth<'a>(&'a WorkerThread, usize);

impl Drop for RestoreDepth<'_> {
    fn drop(&mut self) {
        self.0.help_depth().set(self.1);
    }
}
