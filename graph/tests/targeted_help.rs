//! A worker that waits helps only with what the awaited node needs.
//!
//! Tasks that block on *sibling* tasks (each link of a chain waits for the
//! previous link's future) deadlocked with general helping: a worker
//! waiting in link k could pick up link k+1, which waits for link k, and link
//! k cannot resume under it. Every wait here has a deadline, so a deadlock
//! fails the test instead of hanging it.

mod common;

use std::time::Duration;

use common::{test_graph, value};
use hpyx_graph::NodeRef;

#[test]
fn tasks_blocking_on_sibling_tasks_do_not_deadlock() {
    for workers in [1, 2, 3] {
        let g = test_graph(workers);
        for _ in 0..50 {
            let (gate_promise, gate) = g.promise::<u64>("gate");
            let mut prev = gate.clone();
            let mut chain = Vec::new();
            for _ in 0..16 {
                let before = prev.clone();
                prev = g.spawn("link", move || Ok(*value(&before) + 1));
                chain.push(prev.clone());
            }
            std::thread::sleep(Duration::from_millis(1));
            gate_promise.set_value(0).unwrap();
            assert_eq!(*value(chain.last().unwrap()), 16);
        }
    }
}

#[test]
fn a_wait_runs_the_queued_ancestry_of_what_it_awaits() {
    // One worker, inside a task: `spawn(f).then(g)` awaited there can only
    // finish if the waiting worker runs f, then g, itself.
    let guard = test_graph(1);
    let g = *guard;
    let outer = g.spawn("outer", move || {
        let inner = g.spawn("f", || Ok(20u64)).then("g", |x| Ok(x + 1));
        let both = g.dataflow(
            "sum",
            [inner.node(), g.spawn("h", || Ok(1u64)).node()] as [NodeRef; 2],
            |i| Ok(i.value::<u64>(0).unwrap() + i.value::<u64>(1).unwrap()),
        );
        Ok(*value(&both))
    });
    assert_eq!(*value(&outer), 22);
}
