//! `shutdown_global` before the global pool was ever used also forbids
//! starting it later, and starts no thread. (Own binary: process-global
//! state.)

use hpyx_engine::{
    global_pool, global_pool_or_init, init_global, is_global_running, shutdown_global, Config,
    ShutdownPolicy,
};

#[test]
fn shutdown_before_first_use_forbids_starting_later() {
    assert!(global_pool().unwrap_err().is_not_started());
    shutdown_global(ShutdownPolicy::Cancel).unwrap();
    assert!(!is_global_running());
    assert!(global_pool().unwrap_err().is_shut_down());
    assert!(init_global(Config::new().num_workers(1))
        .unwrap_err()
        .is_shut_down());
    assert!(global_pool_or_init(|| Config::new().num_workers(1))
        .unwrap_err()
        .is_shut_down());
}
