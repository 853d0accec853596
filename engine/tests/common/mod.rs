//! Helpers shared by the engine's integration tests: every wait has a
//! timeout, so a hang fails the test instead of blocking the run.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hpyx_engine::{Config, ShutdownPolicy, ThreadPool};

/// How long any single wait in a test may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(30);

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

/// Like [`wait_for`] but returns false at the timeout instead of panicking
/// (for use on worker threads, where a panic would only be reported).
pub fn try_wait_for(cond: impl Fn() -> bool) -> bool {
    let deadline = deadline();
    while !cond() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

/// Receives from `rx` or fails the test after [`TIMEOUT`].
pub fn recv<T>(rx: &mpsc::Receiver<T>, what: &str) -> T {
    rx.recv_timeout(TIMEOUT)
        .unwrap_or_else(|e| panic!("timed out waiting for {what}: {e}"))
}

/// Runs `f` on a fresh thread and fails if it does not return within
/// [`TIMEOUT`] (the thread is then leaked).
pub fn within_timeout<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    recv(&rx, what)
}

/// A pool that is shut down (draining) when the guard is dropped, with a
/// timeout on the shutdown.
pub struct PoolGuard(pub ThreadPool);

impl PoolGuard {
    pub fn new(workers: usize) -> PoolGuard {
        PoolGuard::with_config(Config::new().num_workers(workers))
    }

    pub fn with_config(config: Config) -> PoolGuard {
        PoolGuard(ThreadPool::new(config).expect("pool starts"))
    }
}

impl std::ops::Deref for PoolGuard {
    type Target = ThreadPool;
    fn deref(&self) -> &ThreadPool {
        &self.0
    }
}

impl Drop for PoolGuard {
    fn drop(&mut self) {
        let pool = self.0.clone();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(pool.shutdown(ShutdownPolicy::Drain));
        });
        match rx.recv_timeout(TIMEOUT) {
            Ok(result) => result.expect("shutdown succeeds"),
            Err(_) if std::thread::panicking() => {}
            Err(_) => panic!("timed out shutting the pool down"),
        }
    }
}

/// Counts drops of the values it hands out.
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

/// A barrier with a timeout: `arrive_and_wait` returns false if not all
/// `n` parties arrived in time.
pub struct TimedBarrier {
    n: usize,
    arrived: AtomicUsize,
}

impl TimedBarrier {
    pub fn new(n: usize) -> TimedBarrier {
        TimedBarrier {
            n,
            arrived: AtomicUsize::new(0),
        }
    }

    pub fn arrive_and_wait(&self) -> bool {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        try_wait_for(|| self.arrived.load(Ordering::SeqCst) >= self.n)
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
