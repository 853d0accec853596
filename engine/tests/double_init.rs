//! The global pool started twice: same size returns the same pool, a
//! different size fails naming both. (Own binary: process-global state.)

use hpyx_engine::{
    global_pool, init_global, is_global_running, shutdown_global, Config, ShutdownPolicy,
};
use hpyx_testkit::recv;

#[test]
fn a_second_init_returns_the_same_pool_or_names_both_sizes() {
    assert!(!is_global_running());
    assert!(global_pool().unwrap_err().is_not_started());
    // A rejected config leaves the global pool unstarted.
    assert!(init_global(Config::new().num_workers(0))
        .unwrap_err()
        .is_invalid_config());
    assert!(!is_global_running());
    // Racing first starts all get the one pool.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let barrier = std::sync::Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                init_global(Config::new().num_workers(2)).unwrap()
            })
        })
        .collect();
    let pools: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    assert!(pools.iter().all(|p| p.ptr_eq(&pools[0])));
    let first = init_global(Config::new().num_workers(2)).unwrap();
    assert!(first.ptr_eq(&pools[0]));
    assert!(is_global_running());
    let second = init_global(Config::new().num_workers(2)).unwrap();
    assert!(first.ptr_eq(&second), "the same size returns the same pool");
    assert!(global_pool().unwrap().ptr_eq(&first));

    let err = init_global(Config::new().num_workers(3)).unwrap_err();
    assert!(err.is_already_started(), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains('2') && msg.contains('3'),
        "the error names both sizes: {msg}"
    );
    assert!(
        global_pool().unwrap().ptr_eq(&first),
        "the failed init changed nothing"
    );
    assert_eq!(global_pool().unwrap().num_workers(), 2);

    let (tx, rx) = std::sync::mpsc::channel();
    first.spawn(move || tx.send(()).unwrap()).unwrap();
    recv(&rx, "a job on the global pool");
    shutdown_global(ShutdownPolicy::Drain).unwrap();
    assert!(!is_global_running());
}
