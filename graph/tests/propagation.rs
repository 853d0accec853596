//! Failure and cancellation: they propagate to dependents without running
//! them, and `cancel` succeeds only before a node starts.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::{get, outcome, test_graph, value, wait_node};
use hpyx_engine::{Config, ShutdownPolicy, ThreadPool};
use hpyx_graph::{Future, NodeState, Outcome, TaskError, TaskGraph};
use hpyx_testkit::{size, wait_for, Calls};

/// A `then` that counts its calls.
fn counted(f: &Future<u32>, calls: &Calls) -> Future<u32> {
    let calls = calls.clone();
    f.then("counted", move |x| {
        calls.hit();
        Ok(x + 1)
    })
}

#[test]
fn failure_propagates_without_running_dependents() {
    let g = test_graph(2);
    let calls = Calls::new();
    let (p, root) = g.promise::<u32>("root");
    let a = counted(&root, &calls);
    let b = counted(&root, &calls);
    let c = counted(&a, &calls);
    let joined = {
        let calls = calls.clone();
        g.dataflow("join", [b.node(), c.node()], move |_| {
            calls.hit();
            Ok(0u32)
        })
    };
    let all = g.when_all(&[a.clone(), b.clone(), c.clone()]);
    let boom = TaskError::msg("ValueError", "boom");
    assert!(p.set_error(boom.clone()));
    for f in [&a, &b, &c, &joined] {
        assert!(get(f).unwrap_err().unwrap().ptr_eq(&boom));
        assert_eq!(f.state(), NodeState::Failed);
    }
    assert!(get(&all).unwrap_err().unwrap().ptr_eq(&boom));
    assert_eq!(calls.get(), 0, "a dependent of a failed node ran");
}

#[test]
fn the_first_unsuccessful_input_in_argument_order_wins() {
    let g = test_graph(2);
    let calls = Calls::new();
    let ok = g.ready("ok", 1u32);
    let (pa, a) = g.promise::<u32>("a");
    let (pb, b) = g.promise::<u32>("b");
    let dependent = {
        let calls = calls.clone();
        g.dataflow("d", [ok.node(), a.node(), b.node()], move |_| {
            calls.hit();
            Ok(0u32)
        })
    };
    let err_b = TaskError::msg("B", "second input");
    let err_a = TaskError::msg("A", "first input");
    // b fails first in time, but a comes first in argument order.
    assert!(pb.set_error(err_b));
    assert_eq!(
        dependent.state(),
        NodeState::Pending,
        "waits for every input"
    );
    assert!(pa.set_error(err_a.clone()));
    assert!(get(&dependent).unwrap_err().unwrap().ptr_eq(&err_a));

    // A cancelled input before a failed one: the dependent is cancelled.
    let (px, x) = g.promise::<u32>("x");
    let (py, y) = g.promise::<u32>("y");
    let d2 = {
        let calls = calls.clone();
        g.dataflow("d2", [x.node(), y.node()], move |_| {
            calls.hit();
            Ok(0u32)
        })
    };
    assert!(py.set_error(TaskError::msg("Y", "y")));
    assert!(x.cancel());
    drop(px);
    assert!(matches!(get(&d2), Err(None)));
    assert_eq!(d2.state(), NodeState::Cancelled);
    assert_eq!(calls.get(), 0);
}

#[test]
fn cancellation_propagates_without_running_dependents() {
    let g = test_graph(2);
    let calls = Calls::new();
    let (p, root) = g.promise::<u32>("root");
    let mut chain = vec![counted(&root, &calls)];
    for _ in 0..1_000 {
        let next = counted(chain.last().unwrap(), &calls);
        chain.push(next);
    }
    let other = counted(&root, &calls);
    assert!(root.cancel());
    assert!(!root.cancel());
    for f in chain.iter().chain([&other]) {
        assert!(matches!(get(f), Err(None)));
        assert_eq!(f.state(), NodeState::Cancelled);
        assert!(!f.cancel(), "finished nodes cannot be cancelled");
    }
    assert!(p.set_value(1).is_err());
    assert_eq!(calls.get(), 0);
}

#[test]
fn cancelling_a_middle_node_spares_the_rest() {
    let g = test_graph(2);
    let calls = Calls::new();
    let (p, root) = g.promise::<u32>("root");
    let middle = counted(&root, &calls);
    let after_middle = counted(&middle, &calls);
    let sibling = counted(&root, &calls);
    assert!(middle.cancel());
    // Cancelled at once, while its input is still pending.
    assert_eq!(middle.state(), NodeState::Cancelled);
    assert!(matches!(get(&after_middle), Err(None)));
    p.set_value(1).unwrap();
    assert_eq!(value(&sibling), &2);
    assert_eq!(root.state(), NodeState::Succeeded);
    assert_eq!(calls.get(), 1, "only the sibling ran");
}

#[test]
fn cancel_succeeds_only_before_start() {
    let g = test_graph(1);
    // Pending: on an unresolved promise.
    let (_p, root) = g.promise::<u32>("root");
    let pending = root.then("pending", |x| Ok(*x));
    assert!(pending.cancel());

    // Running: blocks until released.
    let release = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (r, s) = (Arc::clone(&release), Arc::clone(&started));
    let running = g.spawn("running", move || {
        s.store(true, Ordering::SeqCst);
        wait_for("the release", || r.load(Ordering::SeqCst));
        Ok(1u32)
    });
    wait_for("the node to start", || started.load(Ordering::SeqCst));
    assert_eq!(running.state(), NodeState::Running);
    // Ready: queued behind the running node on the only worker.
    let calls = Calls::new();
    let c = calls.clone();
    let queued = g.spawn("queued", move || {
        c.hit();
        Ok(2u32)
    });
    assert_eq!(queued.state(), NodeState::Ready);
    let queued_dependent = counted(&queued, &calls);
    assert!(!running.cancel(), "a running node cannot be cancelled");
    assert!(queued.cancel(), "a queued node can");
    release.store(true, Ordering::SeqCst);
    assert_eq!(value(&running), &1);
    assert!(!running.cancel(), "nor a finished one");
    assert!(matches!(get(&queued), Err(None)));
    assert!(matches!(get(&queued_dependent), Err(None)));
    // The cancelled job still comes off the queue; it must not run.
    assert_eq!(value(&g.spawn("after", || Ok(3u32))), &3);
    assert_eq!(calls.get(), 0);
}

/// Cancel races completion: each node either ran exactly once and its
/// cancel returned false, or never ran and its cancel returned true.
#[test]
fn cancel_races_completion() {
    const N: usize = size(3_000, 30);
    let g = test_graph(2);
    let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
    // The canceller gets each node as soon as it is spawned.
    let (tx, rx) = std::sync::mpsc::channel::<Future<usize>>();
    let canceller = std::thread::spawn(move || rx.iter().map(|f| f.cancel()).collect::<Vec<_>>());
    let futures: Vec<_> = (0..N)
        .map(|i| {
            let runs = Arc::clone(&runs);
            let f = g.spawn("racer", move || {
                runs[i].fetch_add(1, Ordering::SeqCst);
                Ok(i)
            });
            tx.send(f.clone()).unwrap();
            f
        })
        .collect();
    drop(tx);
    let dependents: Vec<_> = futures
        .iter()
        .map(|f| f.then("dependent", |i| Ok(*i)))
        .collect();
    let cancelled = canceller.join().unwrap();
    let mut won = 0;
    for (i, f) in futures.iter().enumerate() {
        let ran = runs[i].load(Ordering::SeqCst);
        match (cancelled[i], ran) {
            (true, 0) => {
                won += 1;
                assert!(matches!(get(f), Err(None)));
                assert!(matches!(get(&dependents[i]), Err(None)));
            }
            (false, 1) | (false, 0) => {
                assert_eq!(
                    value(f),
                    &i,
                    "node {i}: cancel lost but the node did not succeed"
                );
                assert_eq!(value(&dependents[i]), &i);
            }
            (c, r) => panic!("node {i}: cancel returned {c} and it ran {r} times"),
        }
    }
    for (i, r) in runs.iter().enumerate() {
        let expected = usize::from(!cancelled[i]);
        assert_eq!(r.load(Ordering::SeqCst), expected, "node {i}");
    }
    eprintln!("cancel won {won} of {N} races");
}

#[test]
fn shutdown_cancel_cancels_queued_nodes_and_their_dependents() {
    let pool = ThreadPool::new(Config::new().num_workers(1)).unwrap();
    let g = TaskGraph::new(pool.clone());
    let release = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (r, s) = (Arc::clone(&release), Arc::clone(&started));
    let blocker = g.spawn("blocker", move || {
        s.store(true, Ordering::SeqCst);
        wait_for("the release", || r.load(Ordering::SeqCst));
        Ok(0u32)
    });
    wait_for("the blocker", || started.load(Ordering::SeqCst));
    let calls = Calls::new();
    let queued: Vec<_> = (0..100)
        .map(|_| {
            let c = calls.clone();
            g.spawn("queued", move || {
                c.hit();
                Ok(1u32)
            })
        })
        .collect();
    let dependents: Vec<_> = queued.iter().map(|f| counted(f, &calls)).collect();
    let p = pool.clone();
    let shutdown = std::thread::spawn(move || p.shutdown(ShutdownPolicy::Cancel));
    wait_for("the gate to close", || pool.is_shut_down());
    release.store(true, Ordering::SeqCst);
    shutdown.join().unwrap().unwrap();
    assert_eq!(value(&blocker), &0, "the running node finished");
    let ran = calls.get();
    for f in queued.iter().chain(&dependents) {
        let state = wait_node(&f.node());
        assert!(
            matches!(state, NodeState::Succeeded | NodeState::Cancelled),
            "{state:?}"
        );
    }
    let succeeded = queued
        .iter()
        .chain(&dependents)
        .filter(|f| f.state() == NodeState::Succeeded)
        .count();
    assert_eq!(
        succeeded, ran,
        "every node that ran succeeded, the rest were cancelled"
    );
    // A node spawned after shutdown ends cancelled at once, never runs.
    let c = calls.clone();
    let late = g.spawn("late", move || {
        c.hit();
        Ok(())
    });
    assert!(matches!(outcome(&late), Outcome::Cancelled));
    assert_eq!(calls.get(), ran);
}

/// A failure settles a dependent at once when every input before it (in
/// argument order) has already succeeded, without waiting for later inputs.
#[test]
fn failure_settles_early_when_it_is_first_in_argument_order() {
    let g = TaskGraph::new(ThreadPool::new(Config::new().num_workers(2)).unwrap());
    let (done_first, first) = g.promise::<u32>("first");
    let (failing, second) = g.promise::<u32>("second");
    let (never, third) = g.promise::<u32>("third (still pending)");
    let called = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&called);
    let out = g.dataflow(
        "out",
        [first.node(), second.node(), third.node()],
        move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(0u32)
        },
    );
    done_first.set_value(1).unwrap();
    assert!(failing.set_error(TaskError::msg("ValueError", "second failed")));
    // `third` is still pending, yet `out` is already failed.
    assert_eq!(out.state(), NodeState::Failed);
    assert_eq!(
        out.outcome()
            .unwrap()
            .into_result()
            .unwrap_err()
            .unwrap()
            .message(),
        "second failed"
    );
    assert_eq!(third.state(), NodeState::Pending);
    never.set_value(3).unwrap();
    assert_eq!(called.load(Ordering::SeqCst), 0);
}

/// A failure does not settle a dependent while an earlier input is still
/// running: that one could fail too, and it would come first.
#[test]
fn failure_waits_for_earlier_inputs() {
    let g = TaskGraph::new(ThreadPool::new(Config::new().num_workers(2)).unwrap());
    for earlier_fails in [false, true] {
        let (earlier_p, earlier) = g.promise::<u32>("earlier");
        let (later_p, later) = g.promise::<u32>("later");
        let out = g.dataflow("out", [earlier.node(), later.node()], |_| Ok(0u32));
        assert!(later_p.set_error(TaskError::msg("LaterError", "later")));
        assert_eq!(
            out.state(),
            NodeState::Pending,
            "must wait for the earlier input"
        );
        if earlier_fails {
            assert!(earlier_p.set_error(TaskError::msg("EarlierError", "earlier")));
        } else {
            earlier_p.set_value(1).unwrap();
        }
        let err = out
            .outcome()
            .expect("settled")
            .into_result()
            .unwrap_err()
            .unwrap()
            .type_name()
            .to_owned();
        assert_eq!(
            err,
            if earlier_fails {
                "EarlierError"
            } else {
                "LaterError"
            }
        );
    }
}

/// Cancellation settles early the same way.
#[test]
fn cancellation_settles_early() {
    let g = TaskGraph::new(ThreadPool::new(Config::new().num_workers(2)).unwrap());
    let (_keep, pending) = g.promise::<u32>("pending");
    let (p, cancelled) = g.promise::<u32>("cancelled");
    let out = g.dataflow("out", [cancelled.node(), pending.node()], |_| Ok(0u32));
    assert!(cancelled.cancel());
    assert_eq!(out.state(), NodeState::Cancelled);
    drop(p);
}
