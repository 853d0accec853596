//! Recording and snapshots: recorded nodes keep their edges and timings; a
//! 100,000-node recorded graph snapshots fine.

mod common;

use std::collections::HashSet;

use common::{get, small_stack_graph, test_graph, value};
use hpyx_graph::{GraphSnapshot, NodeId, NodeInfo, NodeState, TaskError};
use hpyx_testkit::on_small_stack;

#[test]
fn recording_keeps_nodes_and_edges() {
    let g = test_graph(2);
    let before = g.spawn("before", || Ok(0u32));
    assert!(get(&before).is_ok());
    let recording = g.record();
    assert!(recording.is_active());
    assert!(recording.is_empty());
    let a = g.spawn("a", || Ok(1u32));
    let b = a.then("b", |x| Ok(x + 1));
    let c = a.then("c", |x| Ok(x + 2));
    let d = g.dataflow("d", [b.node(), c.node()], |i| {
        Ok(i.value::<u32>(0).unwrap() + i.value::<u32>(1).unwrap())
    });
    let failed = d.then("failed", |_| -> Result<u32, TaskError> {
        Err(TaskError::msg("KeyError", "missing"))
    });
    assert_eq!(value(&d), &5);
    assert!(get(&failed).is_err());
    recording.stop();
    assert!(!recording.is_active());
    let _after = g.spawn("after", || Ok(9u32));
    assert_eq!(recording.len(), 5, "only nodes made while recording");

    // The edges survive the nodes having run (and their handles dropped).
    let ids = [a.id(), b.id(), c.id(), d.id(), failed.id()];
    drop((a, b, c, d, failed));
    let s = recording.snapshot();
    assert_eq!(s.len(), 5);
    let edges: HashSet<(NodeId, NodeId)> = s.edges().collect();
    let [a, b, c, d, f] = ids;
    assert_eq!(
        edges,
        HashSet::from([(a, b), (a, c), (b, d), (c, d), (d, f)])
    );
    assert_eq!(s.graph().edge_count(), 5);
    for id in [a, b, c, d] {
        let info = s.node(id).unwrap();
        assert_eq!(info.state, NodeState::Succeeded);
        assert!(info.worker.is_some_and(|w| w < 2), "{info:?}");
        let (created, started, finished) = (
            info.created_ns.unwrap(),
            info.started_ns.unwrap(),
            info.finished_ns.unwrap(),
        );
        assert!(created <= started && started <= finished, "{info:?}");
        assert!(info.error_type.is_none());
    }
    assert_eq!(s.node(d).unwrap().name, "d");
    let info = s.node(f).unwrap();
    assert_eq!(info.state, NodeState::Failed);
    assert_eq!(info.error_type.as_deref(), Some("KeyError"));
    assert_eq!(info.error_message.as_deref(), Some("missing"));
    assert!(s.node(before.id()).is_none());
}

#[test]
fn overlapping_recordings_each_see_their_region() {
    let g = test_graph(1);
    let outer = g.record();
    let a = g.ready("a", 1u8);
    let inner = g.record();
    let b = a.then("b", |x| Ok(*x));
    inner.stop();
    let c = b.then("c", |x| Ok(*x));
    assert!(get(&c).is_ok());
    drop(inner.snapshot());
    assert_eq!(inner.len(), 1);
    // The inner recording holds only b: the edge from a is outside it.
    assert_eq!(inner.snapshot().edges().count(), 0);
    outer.stop();
    assert_eq!(outer.len(), 3);
    assert_eq!(outer.snapshot().edges().count(), 2);
    drop(outer);
    assert_eq!(
        inner.snapshot().node(b.id()).unwrap().state,
        NodeState::Succeeded
    );
}

#[test]
fn snapshot_of_a_pending_graph_follows_held_inputs() {
    let g = test_graph(1);
    let (p, root) = g.promise::<u8>("root");
    let x = root.then("x", |v| Ok(*v));
    let y = g.dataflow("y", [root.node(), x.node()], |_| Ok(0u8));
    let s = g.snapshot_of([y.node()]);
    assert_eq!(s.len(), 3);
    assert_eq!(s.edges().count(), 3);
    assert!(s.nodes().all(|n| n.state == NodeState::Pending));
    assert!(
        s.nodes().all(|n| n.created_ns.is_none()),
        "not timed unless recording or timing"
    );
    p.set_value(1).unwrap();
    assert!(get(&y).is_ok());
    // Without a recording, a node lets go of its inputs once it ran.
    let s = g.snapshot_of([y.node()]);
    assert_eq!(s.len(), 1);
    assert_eq!(s.nodes().next().unwrap().state, NodeState::Succeeded);
}

#[test]
fn timing_alone_stamps_the_nodes_made_while_it_is_on() {
    let g = test_graph(1);
    g.set_timing(true);
    let a = g.spawn("a", || Ok(()));
    assert!(get(&a).is_ok());
    g.set_timing(false);
    let info = g.snapshot_of([a.node()]).nodes().next().unwrap().clone();
    assert!(
        info.created_ns.is_some() && info.finished_ns.is_some(),
        "{info:?}"
    );
    assert!(info.finished_ns.unwrap() <= g.now_ns());
    let b = g.spawn("b", || Ok(()));
    assert!(get(&b).is_ok());
    assert!(g
        .snapshot_of([b.node()])
        .nodes()
        .next()
        .unwrap()
        .created_ns
        .is_none());
}

#[test]
fn a_recorded_100k_chain_snapshots_as_one_path() {
    const N: usize = 100_000;
    let g = small_stack_graph(2);
    let g2 = *g;
    on_small_stack("the recorded chain", move || {
        let recording = g2.record();
        let mut f = g2.ready("root", 0u64);
        for _ in 0..N {
            f = f.then("inc", |x| Ok(x + 1));
        }
        assert_eq!(value(&f), &(N as u64));
        recording.stop();
        drop(f);
        let s = recording.snapshot();
        assert_eq!(s.len(), N + 1);
        assert_eq!(s.edges().count(), N);
        assert!(s.nodes().all(|n| n.state == NodeState::Succeeded));
        // petgraph sees a single path: every node but the root has one input.
        let g = s.graph();
        let roots = g.node_indices().filter(|&i| {
            g.neighbors_directed(i, petgraph::Direction::Incoming)
                .count()
                == 0
        });
        assert_eq!(roots.count(), 1);
        drop(s);
        // Dropping the recording frees the whole chain without recursing.
        drop(recording);
    });
}

#[test]
fn a_snapshot_from_parts_keeps_only_edges_between_its_nodes() {
    let info = |id: u64, state: NodeState| NodeInfo {
        id: NodeId(id),
        name: format!("n{id}"),
        state,
        created_ns: None,
        started_ns: None,
        finished_ns: None,
        worker: None,
        error_type: None,
        error_message: None,
    };
    let s = GraphSnapshot::from_parts(
        vec![info(1, NodeState::Succeeded), info(2, NodeState::Running)],
        [(NodeId(1), NodeId(2)), (NodeId(1), NodeId(99))],
    );
    assert_eq!(s.len(), 2);
    assert!(!s.is_empty());
    assert_eq!(
        s.edges().collect::<Vec<_>>(),
        vec![(NodeId(1), NodeId(2))],
        "unknown ids are ignored"
    );
    assert_eq!(s.node(NodeId(2)).unwrap().name, "n2");
    assert!(GraphSnapshot::default().is_empty());
    assert_eq!(NodeState::Cancelled.to_string(), "cancelled");
    assert!(NodeState::Failed.is_finished() && !NodeState::Running.is_finished());
}

#[test]
fn recorded_times_of_nodes_that_never_ran() {
    let g = test_graph(1);
    let recording = g.record();
    let (_p, pending) = g.promise::<u8>("pending");
    let cancelled = pending.then("cancelled", |x| Ok(*x));
    assert!(cancelled.cancel());
    let failed = g.failed::<u8>("failed", TaskError::msg("E", "m"));
    let propagated = failed.then("propagated", |x| Ok(*x));
    let ready = g.ready("ready", 1u8);
    assert!(get(&propagated).is_err());
    recording.stop();
    let s = recording.snapshot();
    let info = |id| s.node(id).unwrap().clone();

    let c = info(cancelled.id());
    assert_eq!(c.state, NodeState::Cancelled);
    assert!(c.created_ns.is_some() && c.finished_ns.is_some(), "{c:?}");
    assert!(
        c.started_ns.is_none(),
        "a cancelled node never started: {c:?}"
    );
    assert!(c.worker.is_none());

    let p = info(propagated.id());
    assert_eq!(p.state, NodeState::Failed);
    assert_eq!(p.error_type.as_deref(), Some("E"));
    assert!(p.finished_ns.is_some());
    assert!(p.started_ns.unwrap() <= p.finished_ns.unwrap());

    let r = info(ready.id());
    assert_eq!(r.state, NodeState::Succeeded);
    assert_eq!(
        (r.created_ns, r.started_ns),
        (r.finished_ns, r.finished_ns),
        "{r:?}"
    );
    assert_eq!(info(pending.id()).state, NodeState::Pending);
    assert!(info(pending.id()).finished_ns.is_none());
}
