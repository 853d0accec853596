//! Helpers shared by the graph's integration tests: every wait has a
//! timeout, so a hang fails the test instead of blocking the run.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hpyx_engine::{Config, ShutdownPolicy, ThreadPool};
use hpyx_graph::{Future, NodeRef, NodeState, Outcome, TaskError, TaskGraph};

/// How long any single wait in a test may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A stack far too small for recursion over a 100,000-node chain: work
/// done on it proves the graph uses O(1) stack.
pub const SMALL_STACK: usize = 512 * 1024;

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

/// Waits for `future` (with a timeout) and returns its outcome as a result.
pub fn get<T: Send + Sync + 'static>(future: &Future<T>) -> Result<&T, Option<&TaskError>> {
    outcome(future).into_result()
}

/// Waits for `future` (with a timeout) and returns its outcome.
pub fn outcome<T: Send + Sync + 'static>(future: &Future<T>) -> Outcome<'_, T> {
    future
        .wait_until::<()>(Some(deadline()), &mut || Ok(()))
        .unwrap_or_else(|e| panic!("waiting for {future:?}: {e:?}"))
}

/// Waits for `node` (with a timeout) and returns its final state.
pub fn wait_node(node: &NodeRef) -> NodeState {
    node.wait_until::<()>(Some(deadline()), &mut || Ok(()))
        .unwrap_or_else(|e| panic!("waiting for node {}: {e:?}", node.id()))
}

/// Runs `f` on a thread with a small stack, failing after [`TIMEOUT`].
pub fn on_small_stack<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap();
    rx.recv_timeout(TIMEOUT)
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// A graph on its own pool, shut down (draining) when dropped.
pub struct GraphGuard(pub TaskGraph);

impl GraphGuard {
    /// A graph on a new pool of `workers` workers with default stacks.
    pub fn new(workers: usize) -> GraphGuard {
        GraphGuard::with_config(Config::new().num_workers(workers))
    }

    /// A graph whose workers have [`SMALL_STACK`]s.
    pub fn small_stacks(workers: usize) -> GraphGuard {
        GraphGuard::with_config(Config::new().num_workers(workers).stack_size(SMALL_STACK))
    }

    pub fn with_config(config: Config) -> GraphGuard {
        GraphGuard(TaskGraph::new(ThreadPool::new(config).unwrap()))
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
        let (tx, rx) = mpsc::channel();
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
    pub fn new() -> DropCounter {
        DropCounter::default()
    }

    pub fn token(&self) -> DropToken {
        DropToken(Arc::clone(&self.0))
    }

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

/// A shared call counter.
#[derive(Clone, Default)]
pub struct Calls(Arc<AtomicUsize>);

impl Calls {
    pub fn new() -> Calls {
        Calls::default()
    }

    pub fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Marks a panic message as expected: [`silence_expected_panics`] keeps it
/// out of the output.
pub const EXPECTED: &str = "(expected panic)";

/// Installs (once) a panic hook that stays silent for panics whose message
/// contains [`EXPECTED`] and reports every other panic as usual.
pub fn silence_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !hpyx_engine::panic_message(info.payload()).contains(EXPECTED) {
                default(info);
            }
        }));
    });
}

/// Waits for `future` (with a timeout) and returns its value; panics with
/// the error if it did not succeed.
pub fn value<T: Send + Sync + 'static>(future: &Future<T>) -> &T {
    match get(future) {
        Ok(v) => v,
        Err(Some(e)) => panic!("{future:?} failed: {e}"),
        Err(None) => panic!("{future:?} was cancelled"),
    }
}
