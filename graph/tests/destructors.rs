//! Memory: every value and every node function is dropped exactly once (run,
//! cancelled, failed, panicked, shut down), and a finished node nothing
//! refers to is freed.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{get, small_stack_graph, test_graph, value, wait_node};
use hpyx_engine::{Config, ShutdownPolicy, ThreadPool};
use hpyx_graph::{NodeState, TaskError, TaskGraph};
use hpyx_testkit::{silence_expected_panics, size, wait_for, DropCounter, DropToken};

/// A node value that counts its drops.
struct Counted(#[allow(dead_code)] DropToken);

#[test]
fn destructors() {
    const N: usize = size(1_000, 20);
    let g = test_graph(2);
    let values = DropCounter::new();
    let bodies = DropCounter::new();
    let futures: Vec<_> = (0..N)
        .map(|_| {
            let (v, b) = (values.clone(), bodies.token());
            g.spawn("n", move || {
                let _body = &b;
                Ok(Counted(v.token()))
            })
        })
        .collect();
    for f in &futures {
        assert!(get(f).is_ok());
    }
    assert_eq!(
        bodies.dropped(),
        N,
        "each function is dropped once it has run"
    );
    assert_eq!(values.dropped(), 0, "values live while their futures do");
    drop(futures);
    // A worker may still hold a node for a moment after waking the waiter.
    wait_for("every value dropped", || values.dropped() >= N);
    assert_eq!(
        values.dropped(),
        N,
        "each value is dropped once, with its last future"
    );
}

#[test]
fn a_finished_input_nothing_refers_to_is_freed() {
    let g = test_graph(2);
    let drops = DropCounter::new();
    let (p, root) = g.promise::<Counted>("root");
    let d = drops.clone();
    let a = root.then("a", move |_| Ok(Counted(d.token())));
    let b = a.then("b", |_| Ok(7u8));
    drop(root);
    // `a` is only held by `b` now.
    drop(a);
    assert!(p.set_value(Counted(drops.token())).is_ok());
    assert_eq!(value(&b), &7);
    // b ran and let go of a, which let go of root: both values are freed
    // while b is still held.
    wait_for("the inputs to be freed", || drops.dropped() == 2);
    assert_eq!(b.state(), NodeState::Succeeded);
}

#[test]
fn a_weak_future_finds_a_pending_node_and_keeps_no_finished_value() {
    let g = test_graph(2);
    let drops = DropCounter::new();
    let (p, gate) = g.promise::<u8>("gate");
    let d = drops.clone();
    // Nothing but the graph holds `task` while it waits for its input.
    let weak = gate
        .then("task", move |_| Ok(Counted(d.token())))
        .downgrade();
    let pending = weak.upgrade().expect("the graph holds a pending node");
    assert_eq!(pending.state(), NodeState::Pending);
    assert!(!weak.is_gone());
    assert!(p.set_value(1).is_ok());
    assert!(get(&pending).is_ok());
    drop(pending);
    // The last strong handle gone (a worker may hold one a moment longer),
    // the value is freed although the weak handle lives on.
    wait_for("the value to be freed", || drops.dropped() == 1);
    assert!(weak.is_gone());
    assert!(weak.upgrade().is_none());
}

#[test]
fn a_chain_frees_its_prefix_while_it_runs() {
    const LEN: usize = size(10_000, 50);
    let g = small_stack_graph(2);
    let drops = DropCounter::new();
    let (p, root) = g.promise::<Counted>("root");
    let mut f = root.clone();
    drop(root);
    for _ in 0..LEN {
        let d = drops.clone();
        f = f.then("link", move |_| Ok(Counted(d.token())));
    }
    assert!(p.set_value(Counted(drops.token())).is_ok());
    assert!(get(&f).is_ok());
    // Everything but the last value is freed once the chain has run.
    wait_for("the prefix to be freed", || drops.dropped() == LEN);
    drop(f);
    wait_for("the last value to be freed", || drops.dropped() > LEN);
    assert_eq!(drops.dropped(), LEN + 1);
}

#[test]
fn functions_are_dropped_once_when_they_never_run() {
    silence_expected_panics();
    let g = test_graph(2);
    let bodies = DropCounter::new();
    let values = DropCounter::new();

    // Failed input: the function is dropped without running.
    let failed = g.failed::<u8>("failed", TaskError::msg("E", "m"));
    let b = bodies.token();
    let v = values.clone();
    let f1 = failed.then("f1", move |_| {
        let _keep = &b;
        Ok(Counted(v.token()))
    });
    // Cancelled input.
    let (_p, pending) = g.promise::<u8>("pending");
    let b = bodies.token();
    let v = values.clone();
    let f2 = pending.then("f2", move |_| {
        let _keep = &b;
        Ok(Counted(v.token()))
    });
    assert!(pending.cancel());
    // Cancelled itself while pending.
    let (_p3, pending3) = g.promise::<u8>("pending3");
    let b = bodies.token();
    let v = values.clone();
    let f3 = pending3.then("f3", move |_| {
        let _keep = &b;
        Ok(Counted(v.token()))
    });
    assert!(f3.cancel());
    // Panicked: dropped while unwinding.
    let b = bodies.token();
    let f4 = g.spawn("f4", move || -> Result<Counted, TaskError> {
        let _keep = &b;
        panic!("f4 (expected panic)")
    });
    for f in [&f1, &f2, &f3, &f4] {
        assert!(get(f).is_err());
    }
    assert_eq!(bodies.dropped(), 4);
    assert_eq!(values.dropped(), 0, "no value was ever made");
    drop((f1, f2, f3, f4));
    assert_eq!(bodies.dropped(), 4);
}

#[test]
fn promise_values_are_dropped_once() {
    let g = test_graph(1);
    let drops = DropCounter::new();
    let (p, f) = g.promise::<Counted>("p");
    p.set_value(Counted(drops.token()))
        .unwrap_or_else(|_| panic!("set"));
    assert_eq!(drops.dropped(), 0);
    drop(f);
    assert_eq!(drops.dropped(), 1);

    // Given back when cancelled first; the promise drop does nothing more.
    let (p, f) = g.promise::<Counted>("p");
    assert!(f.cancel());
    let back = p.set_value(Counted(drops.token())).expect_err("given back");
    assert_eq!(drops.dropped(), 1);
    drop(back);
    assert_eq!(drops.dropped(), 2);
    drop(f);
    assert_eq!(drops.dropped(), 2);

    // A promise dropped unset, with nobody else holding the node.
    let (p, f) = g.promise::<Counted>("p");
    drop(f);
    drop(p);
    assert_eq!(drops.dropped(), 2);
}

#[test]
fn when_all_clones_and_drops_once() {
    let g = test_graph(2);
    let drops = DropCounter::new();
    #[derive(Clone)]
    struct Shared(#[allow(dead_code)] Arc<DropToken>);
    let inputs: Vec<_> = (0..10)
        .map(|_| g.ready("v", Shared(Arc::new(drops.token()))))
        .collect();
    let all = g.when_all(&inputs);
    assert_eq!(value(&all).len(), 10);
    drop(inputs);
    assert_eq!(drops.dropped(), 0, "the collected clones keep the tokens");
    drop(all);
    assert_eq!(drops.dropped(), 10);
}

#[test]
fn recording_keeps_nodes_until_dropped() {
    let g = test_graph(2);
    let drops = DropCounter::new();
    let recording = g.record();
    let d = drops.clone();
    let a = g.spawn("a", move || Ok(Counted(d.token())));
    let b = a.then("b", |_| Ok(1u8));
    assert_eq!(value(&b), &1);
    recording.stop();
    drop((a, b));
    assert_eq!(drops.dropped(), 0, "the recording keeps the nodes");
    assert_eq!(recording.len(), 2);
    drop(recording);
    wait_for("the recorded value to be freed", || drops.dropped() >= 1);
    assert_eq!(drops.dropped(), 1);
}

#[test]
fn nodes_cancelled_by_shutdown_drop_their_functions_once() {
    let pool = ThreadPool::new(Config::new().num_workers(1)).unwrap();
    let g = TaskGraph::new(pool.clone());
    let release = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (r, s) = (Arc::clone(&release), Arc::clone(&started));
    let blocker = g.spawn("blocker", move || {
        s.store(true, Ordering::SeqCst);
        wait_for("the release", || r.load(Ordering::SeqCst));
        Ok(())
    });
    wait_for("the blocker", || started.load(Ordering::SeqCst));
    let bodies = DropCounter::new();
    let values = DropCounter::new();
    let queued: Vec<_> = (0..50)
        .map(|_| {
            let (b, v) = (bodies.token(), values.clone());
            g.spawn("queued", move || {
                let _keep = &b;
                Ok(Counted(v.token()))
            })
        })
        .collect();
    let p = pool.clone();
    let shutdown = std::thread::spawn(move || p.shutdown(ShutdownPolicy::Cancel));
    wait_for("the gate to close", || pool.is_shut_down());
    release.store(true, Ordering::SeqCst);
    shutdown.join().unwrap().unwrap();
    assert!(get(&blocker).is_ok());
    for f in &queued {
        wait_node(&f.node());
    }
    assert_eq!(
        bodies.dropped(),
        50,
        "run or cancelled, each function is dropped once"
    );
    let succeeded = queued
        .iter()
        .filter(|f| f.state() == NodeState::Succeeded)
        .count();
    drop(queued);
    assert_eq!(values.dropped(), succeeded);
}
