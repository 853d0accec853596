//! # hpyx-tests: cross-crate integration tests
//!
//! The tests live in `tests/*.rs`; this library holds what they share:
//! timeouts on every wait (a hang fails the test instead of blocking the
//! run), drop counters, and sizes that shrink under miri.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hpyx_engine::{Config, ShutdownPolicy, ThreadPool};
use hpyx_graph::{Future, Outcome, TaskError, TaskGraph};

/// How long any single wait in a test may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A size that shrinks under miri (crossbeam style).
pub const fn size(normal: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        normal
    }
}

/// The deadline of a wait that starts now.
pub fn deadline() -> Instant {
    Instant::now() + TIMEOUT
}

/// Spins (yielding, then sleeping briefly) until `cond` holds; panics after
/// [`TIMEOUT`].
pub fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = deadline();
    let mut spins = 0u32;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        if spins < 100 {
            std::thread::yield_now();
            spins += 1;
        } else {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// Waits for `future` with a timeout and returns its outcome as a result.
pub fn get<T: Send + Sync + 'static>(future: &Future<T>) -> Result<&T, Option<&TaskError>> {
    match future.wait_until::<()>(Some(deadline()), &mut || Ok(())) {
        Ok(outcome) => outcome.into_result(),
        Err(e) => panic!("waiting for {future:?}: {e:?}"),
    }
}

/// Waits for `future` with a timeout; true if it succeeded.
pub fn succeeded<T: Send + Sync + 'static>(future: &Future<T>) -> bool {
    get(future).is_ok()
}

/// Waits for `future` with a timeout and returns its outcome.
pub fn outcome<T: Send + Sync + 'static>(future: &Future<T>) -> Outcome<'_, T> {
    future
        .wait_until::<()>(Some(deadline()), &mut || Ok(()))
        .unwrap_or_else(|e| panic!("waiting for {future:?}: {e:?}"))
}

/// A graph on its own pool, shut down (draining) when dropped.
pub struct GraphGuard(pub TaskGraph);

impl GraphGuard {
    /// A graph on a new pool of `workers` workers.
    pub fn new(workers: usize) -> GraphGuard {
        GraphGuard(TaskGraph::new(
            ThreadPool::new(Config::new().num_workers(workers)).unwrap(),
        ))
    }
}

impl std::ops::Deref for GraphGuard {
    type Target = TaskGraph;
    fn deref(&self) -> &TaskGraph {
        &self.0
    }
}

impl Drop for GraphGuard {
    fn drop(&mut self) {
        let pool = self.0.pool().clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(pool.shutdown(ShutdownPolicy::Drain).is_ok());
        });
        match rx.recv_timeout(TIMEOUT) {
            Ok(ok) => assert!(ok, "shutdown failed"),
            Err(_) if std::thread::panicking() => {}
            Err(_) => panic!("timed out shutting the pool down"),
        }
    }
}

/// Counts drops of the tokens it hands out.
#[derive(Clone, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

impl DropCounter {
    /// A counter at zero.
    pub fn new() -> DropCounter {
        DropCounter::default()
    }

    /// A token that counts one drop.
    pub fn token(&self) -> DropToken {
        DropToken(Arc::clone(&self.0))
    }

    /// Drops so far.
    pub fn dropped(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Increments its counter when dropped.
pub struct DropToken(Arc<AtomicUsize>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
