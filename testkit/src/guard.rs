//! [`ShutdownGuard`]: a pool (or something running on one) that is shut down
//! when the test is done with it, with a bound on how long that may take.

use std::fmt::Debug;
use std::ops::Deref;
use std::sync::mpsc;

use crate::TIMEOUT;

type Shutdown = Box<dyn FnOnce() -> Result<(), String> + Send>;

/// Holds `value` and runs its shutdown when dropped.
///
/// The shutdown runs on a thread of its own and must finish within
/// [`TIMEOUT`]; a failed or late shutdown fails the test. If the test is
/// already failing (the guard drops while a panic unwinds), the guard adds
/// no panic of its own: a second panic would abort the test binary and hide
/// the first message.
pub struct ShutdownGuard<T> {
    value: T,
    shutdown: Option<Shutdown>,
}

impl<T> ShutdownGuard<T> {
    /// Guards `value`; `shutdown` runs when the guard is dropped.
    pub fn new<E: Debug>(
        value: T,
        shutdown: impl FnOnce() -> Result<(), E> + Send + 'static,
    ) -> ShutdownGuard<T> {
        ShutdownGuard {
            value,
            shutdown: Some(Box::new(move || shutdown().map_err(|e| format!("{e:?}")))),
        }
    }
}

impl<T> Deref for ShutdownGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> Drop for ShutdownGuard<T> {
    fn drop(&mut self) {
        let Some(shutdown) = self.shutdown.take() else {
            return;
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(shutdown());
        });
        let failure = match rx.recv_timeout(TIMEOUT) {
            Ok(Ok(())) => return,
            Ok(Err(e)) => format!("the shutdown failed: {e}"),
            Err(_) => "timed out shutting down".to_owned(),
        };
        if !std::thread::panicking() {
            panic!("{failure}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;

    #[test]
    fn dropping_the_guard_runs_the_shutdown() {
        let shut = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&shut);
        let guard = ShutdownGuard::new(7, move || {
            flag.store(true, Ordering::SeqCst);
            Ok::<(), ()>(())
        });
        assert_eq!(*guard, 7);
        assert!(!shut.load(Ordering::SeqCst));
        drop(guard);
        assert!(shut.load(Ordering::SeqCst));
    }

    #[test]
    #[should_panic(expected = "the shutdown failed: \"busy\"")]
    fn a_failed_shutdown_fails_the_test() {
        drop(ShutdownGuard::new((), || Err("busy")));
    }
}
