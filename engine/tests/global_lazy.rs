//! The global pool starts no thread before first use. (Own binary:
//! process-global state and a count of this process's threads.)

use hpyx_engine::{
    global_pool, global_pool_or_init, is_global_running, shutdown_global, Config, ShutdownPolicy,
};

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

#[test]
fn the_global_pool_starts_no_thread_before_first_use() {
    if std::fs::metadata("/proc/self/task").is_err() {
        eprintln!("no /proc/self/task: skipped");
        return;
    }
    let before = threads();
    // Looking at the global pool does not start it.
    assert!(!is_global_running());
    assert!(global_pool().unwrap_err().is_not_started());
    assert_eq!(threads(), before, "a thread started before first use");
    // A rejected config starts nothing and leaves the pool startable.
    assert!(global_pool_or_init(|| Config::new().max_help_depth(0))
        .unwrap_err()
        .is_invalid_config());
    assert!(global_pool().unwrap_err().is_not_started());
    assert_eq!(threads(), before);

    let pool = global_pool_or_init(|| Config::new().num_workers(3)).unwrap();
    assert_eq!(pool.num_workers(), 3);
    assert_eq!(threads(), before + 3, "exactly the workers started");
    // A second call reuses the pool (and ignores its config).
    let again = global_pool_or_init(|| Config::new().num_workers(5)).unwrap();
    assert!(again.ptr_eq(&pool));
    assert_eq!(threads(), before + 3);

    shutdown_global(ShutdownPolicy::Drain).unwrap();
    assert_eq!(threads(), before, "shutdown joins every worker");
}
