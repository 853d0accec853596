//! Smoke tests: each combinator once, end to end, plus the sizes the design
//! promises (a 100,000-long chain, a 1,000,000-input fan-in) on small stacks.

mod common;

use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::{get, outcome, small_stack_graph, test_graph, value, wait_node};
use hpyx_engine::WaitError;
use hpyx_graph::{NodeName, NodeState, Outcome, TaskError, TaskGraph};
use hpyx_testkit::{deadline, on_small_stack, recv, silence_expected_panics, wait_for, Calls};

fn fib(g: TaskGraph, n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let a = g.spawn("fib", move || Ok(fib(g, n - 1)));
    let b = fib(g, n - 2);
    // A blocking wait on a worker: it helps instead of blocking.
    *a.get().unwrap() + b
}

#[test]
fn smoke() {
    let g = test_graph(2);
    let a = g.spawn("a", || Ok(20));
    let b = a.then("b", |x: &i32| Ok(x + 1));
    let c = g.dataflow("c", [a.node(), b.node()], |inputs| {
        assert_eq!(inputs.len(), 2);
        assert!(!inputs.is_empty());
        assert_eq!(inputs.value::<u8>(0), None, "wrong type");
        assert_eq!(inputs.value::<i32>(2), None, "out of range");
        assert!(matches!(inputs.outcome::<i32>(1), Some(Outcome::Value(21))));
        Ok(inputs.value::<i32>(0).unwrap() + inputs.value::<i32>(1).unwrap())
    });
    assert_eq!(value(&c), &41);
    assert_eq!(c.state(), NodeState::Succeeded);
    assert!(c.is_finished());
    assert_eq!(c.value(), Some(&41));
    assert_eq!(c.name().as_str(), "c");
    assert_eq!(a.name(), &NodeName::from_static("a"));
    assert_ne!(a.id(), b.id());
    assert!(c.ptr_eq(&c.clone()));
    assert!(!c.ptr_eq(&a));
    assert_eq!(c.node().id(), c.id());
    assert!(c.graph().pool().ptr_eq(g.pool()));
    assert!(format!("{c:?}").contains("Succeeded"));
    // `get` on a finished node from a plain thread.
    assert_eq!(c.get().unwrap(), &41);
}

#[test]
fn a_function_sees_its_node_name() {
    let g = test_graph(2);
    let named = g.dataflow("fetch", std::iter::empty(), |inputs| {
        Ok(inputs.name().as_str().to_owned())
    });
    let a = g.spawn("a", || Ok(1));
    let shared: NodeName = String::from("sum").into();
    let sum = g.dataflow(shared, [a.node()], |inputs| {
        Ok(format!("{} {}", inputs.name().as_str(), inputs.len()))
    });
    let anonymous = g.dataflow(NodeName::anonymous(), std::iter::empty(), |inputs| {
        Ok(inputs.name().as_str().to_owned())
    });
    assert_eq!(value(&named), "fetch");
    assert_eq!(value(&sum), "sum 1");
    assert_eq!(value(&anonymous), NodeName::anonymous().as_str());
}

#[test]
fn nested_fib_one_worker() {
    let g = test_graph(1);
    let g2 = *g;
    let f = g.spawn("fib", move || Ok(fib(g2, 18)));
    assert_eq!(value(&f), &2584);
}

#[test]
fn chain_100k_built_before_the_root_resolves() {
    let g = small_stack_graph(2);
    let g2 = *g;
    on_small_stack("the chain", move || {
        let (p, root) = g2.promise::<u64>("root");
        let mut f = root.clone();
        for _ in 0..100_000 {
            f = f.then("inc", |x| Ok(x + 1));
        }
        assert_eq!(f.state(), NodeState::Pending);
        // Completing the root walks its successors on this small stack.
        p.set_value(0).unwrap();
        assert_eq!(value(&f), &100_000);
        // And dropping the chain does not recurse either.
        drop(root);
        drop(f);
    });
}

#[test]
fn chain_100k_built_on_ready_futures() {
    let g = small_stack_graph(2);
    let g2 = *g;
    on_small_stack("the chain", move || {
        let mut f = g2.ready("root", 0u64);
        for _ in 0..100_000 {
            f = f.then("inc", |x| Ok(x + 1));
        }
        assert_eq!(value(&f), &100_000);
    });
}

#[test]
fn chain_100k_dropped_unresolved() {
    // Nothing ever runs: the whole chain is freed, iteratively, when the
    // promise is dropped (broken) and the handles go.
    let g = small_stack_graph(1);
    let g2 = *g;
    on_small_stack("the chain", move || {
        let (p, root) = g2.promise::<u64>("root");
        let calls = Calls::new();
        let mut f = root.clone();
        for _ in 0..100_000 {
            let calls = calls.clone();
            f = f.then("inc", move |x| {
                calls.hit();
                Ok(x + 1)
            });
        }
        drop(root);
        drop(p);
        let err = get(&f).unwrap_err().expect("failed, not cancelled");
        assert!(err.is_broken_promise());
        assert_eq!(calls.get(), 0);
    });
}

#[test]
fn fan_in_1m() {
    let g = small_stack_graph(2);
    let g2 = *g;
    on_small_stack("the fan-in", move || {
        let (p, root) = g2.promise::<u64>("root");
        let inputs: Vec<_> = (0..1_000_000u64)
            .map(|i| {
                if i % 2 == 0 {
                    g2.ready("r", i)
                } else {
                    root.then("p", move |_| Ok(i))
                }
            })
            .collect();
        let all = g2.when_all(&inputs);
        assert_eq!(all.state(), NodeState::Pending);
        p.set_value(0).unwrap();
        let v = get(&all).unwrap();
        assert_eq!(v.len(), 1_000_000);
        assert!(
            v.iter().enumerate().all(|(i, &x)| x == i as u64),
            "values in input order"
        );
        drop(inputs);
    });
}

#[test]
fn failure_chain_propagates() {
    let g = small_stack_graph(2);
    let g2 = *g;
    on_small_stack("the chain", move || {
        let (p, root) = g2.promise::<u64>("root");
        let mut f = root.clone();
        for _ in 0..100_000 {
            f = f.then("inc", |x| Ok(x + 1));
        }
        let boom = TaskError::msg("ValueError", "boom");
        assert!(p.set_error(boom.clone()));
        let err = get(&f).unwrap_err().unwrap();
        assert!(
            err.ptr_eq(&boom),
            "the very same error reaches the end of the chain"
        );
        assert_eq!(err.type_name(), "ValueError");
        assert_eq!(err.to_string(), "ValueError: boom");
        assert_eq!(f.state(), NodeState::Failed);
    });
}

#[test]
fn when_all_of_nothing_is_empty() {
    let g = test_graph(1);
    let all = g.when_all::<u8>(&[]);
    assert_eq!(get(&all).unwrap(), &Vec::<u8>::new());
}

#[test]
fn when_all_keeps_input_order() {
    let g = test_graph(2);
    let promises: Vec<_> = (0..10).map(|_| g.promise::<usize>("p")).collect();
    let futures: Vec<_> = promises.iter().map(|(_, f)| f.clone()).collect();
    let all = g.when_all(&futures);
    // Complete in reverse order.
    for (i, (p, _)) in promises.into_iter().enumerate().rev() {
        assert_eq!(all.state(), NodeState::Pending);
        p.set_value(i * 10).unwrap();
    }
    assert_eq!(
        get(&all).unwrap(),
        &(0..10).map(|i| i * 10).collect::<Vec<_>>()
    );
}

#[test]
fn when_any_reports_the_first_finisher() {
    let g = test_graph(2);
    let (p0, f0) = g.promise::<u8>("p0");
    let (p1, f1) = g.promise::<u8>("p1");
    let (p2, f2) = g.promise::<u8>("p2");
    let any = g.when_any([f0.node(), f1.node(), f2.node()]).unwrap();
    assert_eq!(any.state(), NodeState::Pending);
    p2.set_value(2).unwrap();
    assert_eq!(value(&any), &2);
    p0.set_value(0).unwrap();
    p1.set_value(1).unwrap();
    assert_eq!(value(&any), &2, "later finishers change nothing");
}

#[test]
fn when_any_counts_a_failure() {
    let g = test_graph(2);
    let (_p0, f0) = g.promise::<u8>("p0");
    let (p1, f1) = g.promise::<u8>("p1");
    let any = g.when_any([f0.node(), f1.node()]).unwrap();
    let after = any.then("after", |i| Ok(*i * 10));
    assert!(p1.set_error(TaskError::msg("E", "failed first")));
    assert_eq!(value(&any), &1);
    assert_eq!(value(&after), &10);
}

#[test]
fn when_any_over_finished_inputs_takes_the_first_in_order() {
    let g = test_graph(1);
    let (_p, pending) = g.promise::<u8>("pending");
    let a = g.ready("a", 1u8);
    let b = g.ready("b", 2u8);
    let any = g.when_any([pending.node(), a.node(), b.node()]).unwrap();
    assert_eq!(value(&any), &1);
    assert!(g.when_any([]).is_none());
}

#[test]
fn promises_complete_fail_and_break() {
    let g = test_graph(2);
    let (p, f) = g.promise::<String>("value");
    assert!(p.future().ptr_eq(&f));
    p.set_value("hello".to_owned()).unwrap();
    assert_eq!(get(&f).unwrap(), "hello");

    let (p, f) = g.promise::<String>("error");
    assert!(p.set_error(TaskError::msg("KeyError", "k")));
    assert_eq!(get(&f).unwrap_err().unwrap().type_name(), "KeyError");

    // A waiter on another thread is released by the drop: no hang.
    let (p, f) = g.promise::<String>("broken");
    let waiter = {
        let f = f.clone();
        std::thread::spawn(move || {
            f.wait_until::<()>(Some(deadline()), &mut || Ok(())).is_ok()
                && f.state() == NodeState::Failed
        })
    };
    std::thread::sleep(Duration::from_millis(10));
    drop(p);
    assert!(
        waiter.join().unwrap(),
        "the waiter was not released by the broken promise"
    );
    let err = get(&f).unwrap_err().unwrap();
    assert!(err.is_broken_promise());
    assert!(!err.is_panic());

    let failed = g.failed::<u8>("failed", TaskError::msg("E", "m"));
    assert_eq!(failed.state(), NodeState::Failed);
    assert_eq!(get(&failed).unwrap_err().unwrap().message(), "m");
}

#[test]
fn a_cancelled_promise_gives_the_value_back() {
    let g = test_graph(1);
    let (p, f) = g.promise::<String>("p");
    assert!(f.cancel());
    assert!(!f.cancel(), "cancel succeeds once");
    assert_eq!(p.set_value("v".to_owned()), Err("v".to_owned()));
    assert!(matches!(outcome(&f), Outcome::Cancelled));
    let (p, f) = g.promise::<String>("p");
    assert!(f.cancel());
    assert!(!p.set_error(TaskError::msg("E", "late")));
    assert!(matches!(get(&f), Err(None)));
}

#[test]
fn on_complete_runs_exactly_once() {
    let g = test_graph(2);
    let calls = Calls::new();
    // Added before completion.
    let (p, f) = g.promise::<u8>("p");
    for _ in 0..3 {
        let c = calls.clone();
        f.on_complete(move || c.hit());
    }
    assert_eq!(calls.get(), 0);
    p.set_value(1).unwrap();
    assert_eq!(calls.get(), 3, "callbacks run on the completing thread");
    // Added after completion: at once, on this thread.
    let c = calls.clone();
    let me = std::thread::current().id();
    let on = Arc::new(Mutex::new(None));
    let o = Arc::clone(&on);
    f.on_complete(move || {
        c.hit();
        *o.lock().unwrap() = Some(std::thread::current().id());
    });
    assert_eq!(calls.get(), 4);
    assert_eq!(*on.lock().unwrap(), Some(me));
    // On failure, on cancellation, and through a NodeRef.
    let failed = g.failed::<u8>("failed", TaskError::msg("E", "m"));
    let c = calls.clone();
    failed.on_complete(move || c.hit());
    let (_p, pending) = g.promise::<u8>("pending");
    let dependent = pending.then("dependent", |x| Ok(*x));
    let c = calls.clone();
    dependent.node().on_complete(move || c.hit());
    assert!(pending.cancel());
    assert_eq!(wait_node(&dependent.node()), NodeState::Cancelled);
    assert_eq!(calls.get(), 6);
    // Pooled nodes call them on a worker.
    let spawned = g.spawn("s", || Ok(()));
    let (tx, rx) = mpsc::channel();
    spawned.on_complete(move || tx.send(()).unwrap());
    recv(&rx, "the callback of a pooled node");
    assert!(
        rx.recv_timeout(Duration::from_millis(50)).is_err(),
        "called twice"
    );
}

#[test]
fn a_panicking_callback_does_not_stop_the_others() {
    silence_expected_panics();
    let g = test_graph(1);
    let calls = Calls::new();
    let (p, f) = g.promise::<u8>("p");
    let c = calls.clone();
    f.on_complete(move || c.hit());
    f.on_complete(|| panic!("callback panics (expected panic)"));
    let c = calls.clone();
    f.on_complete(move || c.hit());
    let after = f.then("after", |x| Ok(*x + 1));
    p.set_value(1).unwrap();
    assert_eq!(calls.get(), 2);
    assert_eq!(value(&after), &2);
}

#[test]
fn panics_become_failures() {
    silence_expected_panics();
    let g = test_graph(2);
    let f = g.spawn("boom", || -> Result<u8, TaskError> {
        panic!("kaboom {} (expected panic)", 42)
    });
    let dependent = f.then("dependent", |x| Ok(*x));
    let err = get(&f).unwrap_err().unwrap().clone();
    assert!(err.is_panic());
    assert_eq!(err.type_name(), "panic");
    assert_eq!(err.message(), "kaboom 42 (expected panic)");
    assert!(get(&dependent).unwrap_err().unwrap().ptr_eq(&err));
    // Inline nodes too (when_all clones values: a panicking Clone).
    #[derive(Debug)]
    struct BadClone;
    impl Clone for BadClone {
        fn clone(&self) -> Self {
            panic!("no clone (expected panic)")
        }
    }
    let all = g.when_all(&[g.ready("bad", BadClone)]);
    let err = get(&all).unwrap_err().unwrap();
    assert!(err.is_panic());
    assert_eq!(err.message(), "no clone (expected panic)");
    // The pool still works.
    assert_eq!(value(&g.spawn("ok", || Ok(1))), &1);
}

#[test]
fn waits_time_out_and_hooks_interrupt() {
    let g = test_graph(1);
    let (_p, f) = g.promise::<u8>("never");
    let start = Instant::now();
    let r = f.wait_until::<()>(Some(start + Duration::from_millis(30)), &mut || Ok(()));
    assert!(matches!(r, Err(WaitError::Timeout)));
    assert!(start.elapsed() >= Duration::from_millis(30));
    let mut calls = 0;
    let r = f.node().wait_until(Some(deadline()), &mut || {
        calls += 1;
        if calls == 2 {
            Err("stop")
        } else {
            Ok(())
        }
    });
    assert!(matches!(r, Err(WaitError::Interrupted("stop"))));
    assert_eq!(f.state(), NodeState::Pending);
    // Waiting on a worker with a timeout works too.
    let f2 = f.clone();
    let on_worker = g.spawn("waiter", move || {
        let r = f2.wait_until::<()>(
            Some(Instant::now() + Duration::from_millis(20)),
            &mut || Ok(()),
        );
        Ok(matches!(r, Err(WaitError::Timeout)))
    });
    assert_eq!(value(&on_worker), &true);
}

#[test]
fn node_refs_see_the_node() {
    let g = test_graph(1);
    let f = g.failed::<u8>("f", TaskError::msg("E", "m"));
    let n = f.node();
    assert_eq!(n.id(), f.id());
    assert_eq!(n.name().as_str(), "f");
    assert_eq!(n.state(), NodeState::Failed);
    assert_eq!(n.error().unwrap().message(), "m");
    assert!(!n.cancel());
    let ok = g.ready("ok", 1u8);
    assert!(ok.node().error().is_none());
    let r: hpyx_graph::NodeRef = (&ok).into();
    assert_eq!(wait_node(&r), NodeState::Succeeded);
}

#[test]
fn a_dependent_of_many_waits_for_all() {
    let g = test_graph(2);
    let promises: Vec<_> = (0..50).map(|_| g.promise::<u32>("p")).collect();
    let sum = g.dataflow("sum", promises.iter().map(|(_, f)| f.node()), |inputs| {
        Ok((0..inputs.len())
            .map(|i| inputs.value::<u32>(i).unwrap())
            .sum::<u32>())
    });
    let mut promises = promises.into_iter();
    for (i, (p, _)) in promises.by_ref().take(49).enumerate() {
        p.set_value(i as u32).unwrap();
    }
    assert_eq!(sum.state(), NodeState::Pending);
    promises.next().unwrap().0.set_value(49).unwrap();
    assert_eq!(value(&sum), &(0..50).sum::<u32>());
    wait_for("nothing", || true);
}
