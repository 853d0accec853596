//! The graph and the pool together: several graphs and raw jobs on one pool,
//! waits across pools, depth limits, and shutdown under a running graph.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use hpyx_engine::{wait_until, Config, Latch, ShutdownPolicy, ThreadPool, WaitError};
use hpyx_graph::{NodeState, Outcome, TaskError, TaskGraph};
use hpyx_testkit::{deadline, recv, size, wait_for, DropCounter};
use hpyx_tests::{get, outcome, test_graph, test_graph_with};

#[test]
fn graphs_and_raw_jobs_share_a_pool() {
    let pool = ThreadPool::new(Config::new().num_workers(2)).unwrap();
    let g1 = TaskGraph::new(pool.clone());
    let g2 = TaskGraph::new(pool.clone());
    assert!(g1.pool().ptr_eq(g2.pool()));
    let raw = Arc::new(AtomicUsize::new(0));
    let mut futures = Vec::new();
    for i in 0..size(200, 10) as u64 {
        let r = Arc::clone(&raw);
        pool.spawn(move || {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        // A node of one graph waits (helping) on a node of the other.
        let other = g2.spawn("other", move || Ok(i));
        futures.push(g1.spawn("mine", move || Ok(*other.get().unwrap() * 2)));
    }
    for (i, f) in futures.iter().enumerate() {
        assert_eq!(get(f).unwrap(), &(i as u64 * 2));
    }
    wait_for("the raw jobs", || {
        raw.load(Ordering::SeqCst) == futures.len()
    });
    pool.shutdown(ShutdownPolicy::Drain).unwrap();
}

#[test]
fn a_worker_waits_on_a_node_of_another_pool() {
    let a = test_graph(1);
    let b = test_graph(1);
    let (p, in_b) = b.promise::<u32>("in b");
    let waiter = a.spawn("waits on b", move || Ok(*in_b.get().unwrap() + 1));
    // The waiting worker of `a` falls asleep inside its wait; a node of `b`
    // completing must wake it through its latch.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let setter = b.spawn("sets", move || Ok(p.set_value(41).is_ok()));
    assert_eq!(get(&setter).unwrap(), &true);
    assert_eq!(get(&waiter).unwrap(), &42);
}

#[test]
fn a_latch_set_on_one_pool_wakes_a_waiter_on_another() {
    let a = ThreadPool::new(Config::new().num_workers(1)).unwrap();
    let b = ThreadPool::new(Config::new().num_workers(1)).unwrap();
    for _ in 0..size(200, 5) {
        let (tx, rx) = mpsc::channel();
        let b2 = b.clone();
        a.spawn(move || {
            let latch = Arc::new(Latch::new());
            let setter = Arc::clone(&latch);
            b2.spawn(move || setter.set()).unwrap();
            tx.send(wait_until::<()>(&latch, Some(deadline()), &mut || Ok(())).is_ok())
                .unwrap();
        })
        .unwrap();
        assert!(recv(&rx, "the wait on the latch"));
    }
    a.shutdown(ShutdownPolicy::Drain).unwrap();
    b.shutdown(ShutdownPolicy::Drain).unwrap();
}

#[test]
fn nested_graph_waits_hit_the_depth_limit() {
    const LIMIT: usize = 3;
    let g = test_graph_with(Config::new().num_workers(1).max_help_depth(LIMIT));

    /// Level `k` spawns level `k + 1` and waits for it on the worker.
    fn level(g: TaskGraph, k: usize) -> Result<String, TaskError> {
        if k == 10 {
            return Ok("bottom".to_owned());
        }
        let child = g.spawn("level", move || level(g, k + 1));
        match child.wait_until::<()>(Some(deadline()), &mut || Ok(())) {
            Ok(Outcome::Value(v)) => Ok(v.clone()),
            Ok(Outcome::Failed(e)) => Err(e.clone()),
            Ok(Outcome::Cancelled) => Err(TaskError::msg("Cancelled", "")),
            Err(WaitError::TooDeep { limit }) => Err(TaskError::msg(
                "TooDeep",
                format!("at level {k}, limit {limit}"),
            )),
            Err(e) => Err(TaskError::msg("Wait", format!("{e:?}"))),
        }
    }
    let g2 = *g;
    let root = g.spawn("root", move || level(g2, 0));
    let err = get(&root).unwrap_err().expect("failed");
    assert_eq!(err.type_name(), "TooDeep");
    assert_eq!(err.message(), format!("at level {LIMIT}, limit {LIMIT}"));
    // The worker is fine afterwards.
    assert_eq!(get(&g.spawn("after", || Ok(1))).unwrap(), &1);
}

#[test]
fn drain_shutdown_finishes_a_running_graph() {
    const LEN: usize = size(20_000, 50);
    const FANOUT: usize = size(100, 5);
    let pool = ThreadPool::new(Config::new().num_workers(2)).unwrap();
    let g = TaskGraph::new(pool.clone());
    let (p, root) = g.promise::<u64>("root");
    let mut f = root.clone();
    for _ in 0..LEN {
        f = f.then("inc", |x| Ok(x + 1));
    }
    // A node that spawns more nodes from inside while the pool drains.
    let spawned = Arc::new(AtomicUsize::new(0));
    let s = Arc::clone(&spawned);
    let fanout = root.then("fanout", move |_| {
        for _ in 0..FANOUT {
            let s = Arc::clone(&s);
            let _ = g.spawn("child", move || {
                s.fetch_add(1, Ordering::SeqCst);
                Ok(())
            });
        }
        Ok(())
    });
    p.set_value(0).unwrap();
    let (tx, rx) = mpsc::channel();
    let p2 = pool.clone();
    std::thread::spawn(move || tx.send(p2.shutdown(ShutdownPolicy::Drain).is_ok()).unwrap());
    assert!(recv(&rx, "the shutdown"));
    assert_eq!(f.state(), NodeState::Succeeded, "Drain ran the whole chain");
    assert_eq!(get(&f).unwrap(), &(LEN as u64));
    assert_eq!(fanout.state(), NodeState::Succeeded);
    assert_eq!(
        spawned.load(Ordering::SeqCst),
        FANOUT,
        "and what it spawned"
    );
}

#[test]
fn values_outlive_the_pool() {
    let drops = DropCounter::new();
    let pool = ThreadPool::new(Config::new().num_workers(1)).unwrap();
    let g = TaskGraph::new(pool.clone());
    let d = drops.clone();
    let f = g.spawn("v", move || Ok(d.token()));
    assert!(get(&f).is_ok());
    pool.shutdown(ShutdownPolicy::Cancel).unwrap();
    assert_eq!(drops.dropped(), 0);
    assert!(matches!(outcome(&f), Outcome::Value(_)));
    let later = f.then("later", |_| Ok(()));
    assert!(
        matches!(outcome(&later), Outcome::Cancelled),
        "nothing runs after shutdown"
    );
    drop(f);
    assert_eq!(drops.dropped(), 1);
}

/// A node runs on its own graph's pool, whichever graph's node made it
/// ready (and whichever pool that node ran on).
#[test]
fn nodes_run_on_their_own_graphs_pool() {
    const ROUNDS: usize = size(50, 3);
    let a = test_graph(1);
    let b = test_graph(1);
    let (ga, gb) = (*a, *b);
    for round in 0..ROUNDS {
        let (p, root) = ga.promise::<u32>("root");
        // Inputs finished by `a`'s worker: dependents in both graphs become
        // ready in the same completion walk.
        let on_a = ga.spawn("on a", || Ok(1u32));
        let mut checks = Vec::new();
        for i in 0..4 {
            let (g, other) = if (i + round) % 2 == 0 {
                (ga, gb)
            } else {
                (gb, ga)
            };
            let inputs = [on_a.node(), root.node()];
            checks.push(g.dataflow("check", inputs, move |_| {
                Ok(g.pool().current_worker_index().is_some()
                    && other.pool().current_worker_index().is_none())
            }));
        }
        // From a worker of `a`, and from a plain thread.
        if round % 2 == 0 {
            let setter = ga.spawn("setter", move || Ok(p.set_value(0).is_ok()));
            assert_eq!(get(&setter).unwrap(), &true);
        } else {
            p.set_value(0).unwrap();
        }
        for (i, c) in checks.iter().enumerate() {
            assert_eq!(
                get(c).unwrap(),
                &true,
                "round {round}: node {i} ran on the wrong pool"
            );
        }
    }
}
