//! A task graph on the process-global pool, through its whole life: lazy
//! start, work, `shutdown_global`, and what happens to nodes afterwards.
//! (Own binary: process-global state.)

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use hpyx_engine::{
    global_pool, global_pool_or_init, is_global_running, shutdown_global, Config, ShutdownPolicy,
};
use hpyx_graph::{NodeState, Outcome, TaskGraph};
use hpyx_testkit::wait_for;
use hpyx_tests::{get, outcome};

#[test]
fn a_graph_on_the_global_pool_drains_at_shutdown_and_cancels_later_nodes() {
    assert!(!is_global_running());
    let pool = global_pool_or_init(|| Config::new().num_workers(2)).unwrap();
    let g = TaskGraph::new(pool.clone());
    assert!(g.pool().ptr_eq(&global_pool().unwrap()));
    let a = g.spawn("a", || Ok(20));
    let b = a.then("b", |x| Ok(x + 22));
    assert_eq!(get(&b).unwrap(), &42);

    // Queue work behind a blocked node, then drain on shutdown.
    let release = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let blockers: Vec<_> = (0..2)
        .map(|_| {
            let (r, s) = (Arc::clone(&release), Arc::clone(&started));
            g.spawn("blocker", move || {
                s.fetch_add(1, Ordering::SeqCst);
                wait_for("the release", || r.load(Ordering::SeqCst));
                Ok(())
            })
        })
        .collect();
    wait_for("both blockers", || started.load(Ordering::SeqCst) == 2);
    let queued: Vec<_> = (0..100).map(|i| g.spawn("queued", move || Ok(i))).collect();
    let shutdown = std::thread::spawn(|| shutdown_global(ShutdownPolicy::Drain));
    wait_for("the gate to close", || pool.is_shut_down());
    assert!(global_pool().unwrap_err().is_shut_down());
    release.store(true, Ordering::SeqCst);
    shutdown.join().unwrap().unwrap();
    assert!(!is_global_running());
    for b in &blockers {
        assert!(get(b).is_ok());
    }
    for (i, f) in queued.iter().enumerate() {
        assert_eq!(get(f).unwrap(), &i, "Drain ran every queued node");
    }
    // After shutdown: new pooled nodes end cancelled, never hang; inline
    // ones (ready values, promises, when_all) still work.
    let late = g.spawn("late", || Ok(1));
    assert!(matches!(outcome(&late), Outcome::Cancelled));
    let (p, f) = g.promise::<u8>("p");
    let all = g.when_all(&[f.clone(), g.ready("r", 2)]);
    p.set_value(1).unwrap();
    assert_eq!(get(&all).unwrap(), &vec![1, 2]);
    assert_eq!(f.then("then", |x| Ok(*x)).state(), NodeState::Cancelled);
    assert!(global_pool_or_init(|| Config::new().num_workers(2))
        .unwrap_err()
        .is_shut_down());
}
