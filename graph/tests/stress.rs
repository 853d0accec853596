//! Stress tests of the graph: random DAGs, many threads on one node, nested
//! waits, fairness, and snapshots taken while a graph runs.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use common::{get, test_graph, value};
use hpyx_graph::{Future, NodeId, NodeState, TaskGraph};
use hpyx_testkit::{size, wait_for, Calls};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Builds a random DAG of `n` nodes (each sums up to 3 earlier ones, plus
/// one) and returns the futures with their expected values.
fn random_dag(g: TaskGraph, n: usize, seed: u64) -> Vec<(Future<u64>, u64)> {
    let mut rng = Rng(seed);
    let mut nodes: Vec<(Future<u64>, u64)> = Vec::with_capacity(n);
    for i in 0..n {
        let k = if i == 0 { 0 } else { rng.below(4) };
        let picks: Vec<usize> = (0..k).map(|_| rng.below(i)).collect();
        let expected = picks
            .iter()
            .fold(1u64, |acc, &p| acc.wrapping_add(nodes[p].1));
        let future = if picks.is_empty() {
            g.spawn("leaf", || Ok(1u64))
        } else {
            let inputs: Vec<_> = picks.iter().map(|&p| nodes[p].0.node()).collect();
            g.dataflow("sum", inputs, |inputs| {
                Ok((0..inputs.len()).fold(1u64, |acc, i| {
                    acc.wrapping_add(*inputs.value::<u64>(i).unwrap())
                }))
            })
        };
        nodes.push((future, expected));
    }
    nodes
}

#[test]
fn stress() {
    const N: usize = size(2_000, 30);
    let g = test_graph(2);
    // Two builders at once, one on a plain thread and one on a worker.
    let g2 = *g;
    let on_worker = g.spawn("builder", move || Ok(random_dag(g2, N, 0x1234_5678)));
    let here = random_dag(*g, N, 0x9abc_def0);
    for (f, expected) in here.iter().chain(value(&on_worker).iter()) {
        assert_eq!(value(f), expected);
    }
}

#[test]
fn stampede() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = size(500, 10);
    let g = test_graph(2);
    let (p, root) = g.promise::<u64>("root");
    let callbacks = Calls::new();
    let runs = Calls::new();
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (root, callbacks, runs, barrier) = (
                root.clone(),
                callbacks.clone(),
                runs.clone(),
                Arc::clone(&barrier),
            );
            std::thread::spawn(move || {
                barrier.wait();
                let mut out = Vec::with_capacity(PER_THREAD);
                for i in 0..PER_THREAD {
                    let c = callbacks.clone();
                    root.on_complete(move || c.hit());
                    let r = runs.clone();
                    out.push(root.then("c", move |x| {
                        r.hit();
                        Ok(x + i as u64)
                    }));
                }
                out
            })
        })
        .collect();
    barrier.wait();
    // Complete the root while the others are still adding to it.
    std::thread::yield_now();
    p.set_value(1000).unwrap();
    for t in threads {
        for (i, f) in t.join().unwrap().iter().enumerate() {
            assert_eq!(value(f), &(1000 + i as u64));
        }
    }
    assert_eq!(
        runs.get(),
        THREADS * PER_THREAD,
        "each continuation runs once"
    );
    assert_eq!(
        callbacks.get(),
        THREADS * PER_THREAD,
        "each callback runs once"
    );
}

/// A node spawned from outside runs while nodes on the worker keep
/// spawning more nodes from inside.
#[test]
fn no_starvation() {
    const CAP: usize = size(50_000, 500);

    #[derive(Clone, Default)]
    struct Stream {
        /// The outside node ran: stop.
        stop: Arc<AtomicBool>,
        /// The outside node is queued: count from now on.
        pushed: Arc<AtomicBool>,
        count: Arc<AtomicUsize>,
        /// `CAP` nodes ran after the push: the outside node was starved.
        capped: Arc<AtomicBool>,
    }

    fn respawn(g: TaskGraph, s: Stream) {
        if s.stop.load(Ordering::SeqCst) {
            return;
        }
        if s.pushed.load(Ordering::SeqCst) && s.count.fetch_add(1, Ordering::SeqCst) >= CAP {
            s.capped.store(true, Ordering::SeqCst);
            return;
        }
        let _ = g.spawn("stream", move || {
            respawn(g, s);
            Ok(())
        });
    }

    let g = test_graph(1);
    let stream = Stream::default();
    let started = Arc::new(AtomicBool::new(false));
    let (g2, s, started2) = (*g, stream.clone(), Arc::clone(&started));
    let _stream = g.spawn("stream", move || {
        started2.store(true, Ordering::SeqCst);
        respawn(g2, s);
        Ok(())
    });
    wait_for("the stream", || started.load(Ordering::SeqCst));
    let s = stream.clone();
    let outside = g.spawn("outside", move || {
        let before_cap = !s.capped.load(Ordering::SeqCst);
        s.stop.store(true, Ordering::SeqCst);
        Ok(before_cap)
    });
    stream.pushed.store(true, Ordering::SeqCst);
    assert!(
        value(&outside),
        "the outside node waited for {CAP} nodes spawned inside"
    );
}

fn fib(g: TaskGraph, n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let a = g.spawn("fib", move || Ok(fib(g, n - 1)));
    let b = g.spawn("fib", move || Ok(fib(g, n - 2)));
    *a.get().unwrap() + *b.get().unwrap()
}

#[test]
fn recursive_nested_waits_finish_on_two_workers() {
    let g = test_graph(2);
    let g2 = *g;
    let roots: Vec<_> = (0..4)
        .map(|_| g.spawn("fib", move || Ok(fib(g2, 15))))
        .collect();
    for r in &roots {
        assert_eq!(value(r), &610);
    }
}

/// Snapshots taken in a loop while a recorded DAG runs never show a node
/// ready, running or finished while one of its inputs is unfinished.
#[test]
fn snapshots_never_show_a_node_ahead_of_its_inputs() {
    const LAYERS: usize = size(12, 3);
    const WIDTH: usize = size(40, 4);
    let g = test_graph(2);
    let recording = g.record();
    let mut rng = Rng(42);
    let (gate, root) = g.promise::<u64>("root");
    let mut layer = vec![root.clone()];
    let mut all = vec![root.clone()];
    for _ in 0..LAYERS {
        let next: Vec<_> = (0..WIDTH)
            .map(|_| {
                let k = 1 + rng.below(3);
                let inputs: Vec<_> = (0..k)
                    .map(|_| layer[rng.below(layer.len())].node())
                    .collect();
                g.dataflow("work", inputs, |inputs| {
                    // A little work, so that snapshots catch nodes running.
                    let mut x = *inputs.value::<u64>(0).unwrap();
                    for i in 0..50_000u64 {
                        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
                    }
                    Ok(x)
                })
            })
            .collect();
        all.extend(next.iter().cloned());
        layer = next;
    }
    let total = all.len();
    let check = |snapshot: &hpyx_graph::GraphSnapshot| -> (usize, usize) {
        let states: HashMap<NodeId, NodeState> =
            snapshot.nodes().map(|n| (n.id, n.state)).collect();
        for (input, dependent) in snapshot.edges() {
            let (si, sd) = (states[&input], states[&dependent]);
            assert!(
                sd == NodeState::Pending || si.is_finished(),
                "node {dependent} is {sd:?} while its input {input} is {si:?}"
            );
        }
        let running = states
            .values()
            .filter(|s| **s == NodeState::Running)
            .count();
        let finished = states.values().filter(|s| s.is_finished()).count();
        (running, finished)
    };
    let s = recording.snapshot();
    assert_eq!(s.len(), total);
    assert_eq!(check(&s).1, 0);
    gate.set_value(1).unwrap();
    let mut snapshots = 0;
    let mut saw_running = 0;
    loop {
        let s = recording.snapshot();
        assert_eq!(s.len(), total);
        let (running, finished) = check(&s);
        // Without recording, the ancestry still held is consistent too.
        check(&g.snapshot_of(layer.iter().map(Future::node)));
        snapshots += 1;
        saw_running += usize::from(running > 0);
        if finished == total {
            break;
        }
        assert!(snapshots < 1_000_000, "the DAG did not finish");
    }
    for f in &all {
        assert!(get(f).is_ok());
    }
    eprintln!("{snapshots} snapshots, {saw_running} caught a node running");
}

/// Completing a promise races cancelling it: exactly one wins, and the
/// dependents follow the winner.
#[test]
fn promise_completion_races_cancel() {
    const N: usize = size(2_000, 20);
    let g = test_graph(2);
    let runs = Calls::new();
    let mut promises = Vec::with_capacity(N);
    let mut futures = Vec::with_capacity(N);
    let mut dependents = Vec::with_capacity(N);
    for _ in 0..N {
        let (p, f) = g.promise::<usize>("p");
        let r = runs.clone();
        dependents.push(f.then("d", move |x| {
            r.hit();
            Ok(*x)
        }));
        promises.push(p);
        futures.push(f);
    }
    let barrier = Arc::new(Barrier::new(2));
    let b = Arc::clone(&barrier);
    let setter = std::thread::spawn(move || {
        b.wait();
        promises
            .into_iter()
            .enumerate()
            .map(|(i, p)| p.set_value(i).is_ok())
            .collect::<Vec<_>>()
    });
    let to_cancel = futures.clone();
    let b = Arc::clone(&barrier);
    let canceller = std::thread::spawn(move || {
        b.wait();
        to_cancel
            .iter()
            .rev()
            .map(|f| f.cancel())
            .rev()
            .collect::<Vec<_>>()
    });
    let set = setter.join().unwrap();
    let cancelled = canceller.join().unwrap();
    let mut set_won = 0;
    for i in 0..N {
        assert!(
            set[i] != cancelled[i],
            "promise {i}: set {} and cancel {}",
            set[i],
            cancelled[i]
        );
        if set[i] {
            set_won += 1;
            assert_eq!(value(&futures[i]), &i);
            assert_eq!(value(&dependents[i]), &i);
        } else {
            assert!(matches!(get(&futures[i]), Err(None)));
            assert!(matches!(get(&dependents[i]), Err(None)));
        }
    }
    assert_eq!(runs.get(), set_won);
}

/// Inputs of `when_any` finish at once on several threads: one winner, which
/// has finished, and the dependents run once.
#[test]
fn when_any_reports_one_finished_input_of_racing_completions() {
    const ROUNDS: usize = size(300, 5);
    const INPUTS: usize = 3;
    let g = test_graph(2);
    let runs = Calls::new();
    for _ in 0..ROUNDS {
        let (promises, futures): (Vec<_>, Vec<_>) =
            (0..INPUTS).map(|_| g.promise::<u8>("p")).unzip();
        let any = g.when_any(futures.iter().map(Future::node)).unwrap();
        let r = runs.clone();
        let after = any.then("after", move |w| {
            r.hit();
            Ok(*w)
        });
        let barrier = Arc::new(Barrier::new(INPUTS));
        let threads: Vec<_> = promises
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let b = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    b.wait();
                    if i == 0 {
                        assert!(p.set_error(hpyx_graph::TaskError::msg("E", "a failure counts")));
                    } else {
                        p.set_value(i as u8).unwrap();
                    }
                })
            })
            .collect();
        let winner = *value(&any);
        assert!(winner < INPUTS);
        assert!(futures[winner].is_finished());
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(value(&after), &winner);
    }
    assert_eq!(runs.get(), ROUNDS);
}
