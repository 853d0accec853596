//! What the engine's tests share beyond `hpyx-testkit`: a pool that is shut
//! down when the test is done with it.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use hpyx_engine::{Config, ShutdownPolicy, ThreadPool};
use hpyx_testkit::ShutdownGuard;

/// A pool of `workers` workers, drained and shut down when dropped.
pub fn test_pool(workers: usize) -> ShutdownGuard<ThreadPool> {
    test_pool_with(Config::new().num_workers(workers))
}

/// A pool made from `config`, drained and shut down when dropped.
pub fn test_pool_with(config: Config) -> ShutdownGuard<ThreadPool> {
    let pool = ThreadPool::new(config).expect("the pool starts");
    let handle = pool.clone();
    ShutdownGuard::new(pool, move || handle.shutdown(ShutdownPolicy::Drain))
}
