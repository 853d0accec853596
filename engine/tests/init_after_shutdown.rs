//! After `shutdown_global`, the global pool cannot be started or used
//! again. (Own binary: process-global state.)

use hpyx_engine::{
    global_pool, global_pool_or_init, init_global, is_global_running, shutdown_global, Config,
    ShutdownPolicy,
};

#[test]
fn the_global_pool_cannot_start_again_after_shutdown() {
    let pool = init_global(Config::new().num_workers(1)).unwrap();
    shutdown_global(ShutdownPolicy::Drain).unwrap();
    assert!(pool.is_shut_down());
    assert!(!is_global_running());
    // Idempotent.
    shutdown_global(ShutdownPolicy::Cancel).unwrap();

    let err = init_global(Config::new().num_workers(1)).unwrap_err();
    assert!(err.is_shut_down(), "{err}");
    assert!(global_pool().unwrap_err().is_shut_down());
    let err = global_pool_or_init(|| panic!("no config is needed to fail")).unwrap_err();
    assert!(err.is_shut_down(), "{err}");
    assert!(pool.spawn(|| ()).unwrap_err().is_shut_down());
}
