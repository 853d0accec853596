//! Bounded waits: polling a condition, receiving from a channel, running a
//! closure on a thread of its own. Each fails (or reports failure) after
//! [`TIMEOUT`].

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::TIMEOUT;

/// A stack far too small for recursion over a 100,000-node chain: work
/// done on it shows that the code under test uses O(1) stack.
pub const SMALL_STACK: usize = 512 * 1024;

/// The deadline of a wait that starts now.
pub fn deadline() -> Instant {
    Instant::now() + TIMEOUT
}

/// Polls `cond` until it holds; panics naming `what` after [`TIMEOUT`].
pub fn wait_for(what: &str, cond: impl Fn() -> bool) {
    assert!(try_wait_for(cond), "timed out waiting for {what}");
}

/// Polls `cond` until it holds and returns true, or returns false after
/// [`TIMEOUT`]: for worker threads, where a panic would only be reported,
/// not fail the test.
///
/// Yields between the first polls (a condition about to hold is seen at
/// once), then sleeps briefly so that a long wait leaves the CPU to the
/// threads it waits for.
pub fn try_wait_for(cond: impl Fn() -> bool) -> bool {
    let deadline = deadline();
    let mut polls = 0u32;
    while !cond() {
        if Instant::now() >= deadline {
            return false;
        }
        if polls < 100 {
            thread::yield_now();
            polls += 1;
        } else {
            thread::sleep(Duration::from_micros(200));
        }
    }
    true
}

/// Receives from `rx`; panics naming `what` after [`TIMEOUT`].
pub fn recv<T>(rx: &mpsc::Receiver<T>, what: &str) -> T {
    rx.recv_timeout(TIMEOUT)
        .unwrap_or_else(|e| panic!("timed out waiting for {what}: {e}"))
}

/// Runs `f` on a new thread and returns its result; panics naming `what`
/// if it does not return within [`TIMEOUT`] (the thread is then leaked).
pub fn within_timeout<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    on_thread(thread::Builder::new(), what, f)
}

/// [`within_timeout`] on a thread with a [`SMALL_STACK`].
pub fn on_small_stack<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    on_thread(thread::Builder::new().stack_size(SMALL_STACK), what, f)
}

fn on_thread<R: Send + 'static>(
    builder: thread::Builder,
    what: &str,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let (tx, rx) = mpsc::channel();
    builder
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("the test thread starts");
    recv(&rx, what)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;

    #[test]
    fn wait_for_returns_once_another_thread_sets_the_condition() {
        let flag = Arc::new(AtomicBool::new(false));
        let setter = Arc::clone(&flag);
        let t = thread::spawn(move || setter.store(true, Ordering::SeqCst));
        wait_for("the flag", || flag.load(Ordering::SeqCst));
        t.join().unwrap();
    }

    #[test]
    fn within_timeout_returns_what_the_closure_returns() {
        assert_eq!(within_timeout("the answer", || 42), 42);
    }

    #[test]
    fn on_small_stack_runs_on_another_thread() {
        let here = thread::current().id();
        assert!(on_small_stack("the id", move || thread::current().id() != here));
    }

    #[test]
    #[should_panic(expected = "timed out waiting for the message")]
    fn recv_from_a_disconnected_channel_fails_naming_the_wait() {
        let (_, rx) = mpsc::channel::<()>();
        recv(&rx, "the message");
    }
}
