//! The JSON export, the Chrome trace and the trace line: shapes, round
//! trips and edge cases.

mod common;

use hpyx_graph::{GraphSnapshot, NodeId, NodeState};
use hpyx_viz::{from_json, to_chrome_trace, to_json, GraphExport, TraceRecord, SCHEMA};
use serde_json::Value;

/// The keys of a compact JSON object, in the order written (serde_json's
/// `Value` sorts them).
fn key_order(object: &str, candidates: &[&str]) -> Vec<String> {
    let mut found: Vec<(usize, String)> = candidates
        .iter()
        .filter_map(|k| {
            object
                .find(&format!("\"{k}\":"))
                .map(|at| (at, (*k).to_owned()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, k)| k).collect()
}

fn sorted_nodes(snapshot: &GraphSnapshot) -> Vec<hpyx_graph::NodeInfo> {
    let mut nodes: Vec<_> = snapshot.nodes().cloned().collect();
    nodes.sort_by_key(|n| n.id);
    nodes
}

fn sorted_edges(snapshot: &GraphSnapshot) -> Vec<(NodeId, NodeId)> {
    let mut edges: Vec<_> = snapshot.edges().collect();
    edges.sort();
    edges
}

#[test]
fn json_round_trips_through_the_types_and_the_snapshot() {
    for (stem, snapshot) in common::fixtures() {
        let json = to_json(&snapshot);
        let export = from_json(&json).unwrap_or_else(|e| panic!("{stem}: {e}"));
        assert_eq!(export, GraphExport::from_snapshot(&snapshot), "{stem}");
        // serde's own compact and pretty forms read back the same.
        assert_eq!(
            from_json(&serde_json::to_string(&export).unwrap()).unwrap(),
            export
        );
        assert_eq!(
            from_json(&serde_json::to_string_pretty(&export).unwrap()).unwrap(),
            export
        );
        assert_eq!(export.to_json(), json, "{stem}: to_json is stable");
        let back = export.into_snapshot();
        assert_eq!(sorted_nodes(&back), sorted_nodes(&snapshot), "{stem}");
        assert_eq!(sorted_edges(&back), sorted_edges(&snapshot), "{stem}");
    }
}

#[test]
fn json_has_the_documented_shape() {
    let json = to_json(&common::states());
    let value: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["schema"], SCHEMA);
    assert_eq!(
        key_order(&json, &["edges", "nodes", "schema"]),
        ["schema", "nodes", "edges"]
    );
    let node_fields = [
        "id",
        "name",
        "state",
        "created_ns",
        "started_ns",
        "finished_ns",
        "worker",
        "error_type",
        "error_message",
    ];
    let first_node = json.lines().find(|l| l.contains("\"id\":")).unwrap();
    assert_eq!(key_order(first_node, &node_fields), node_fields);
    let nodes = value["nodes"].as_array().unwrap();
    assert!(nodes
        .iter()
        .all(|n| n.as_object().unwrap().len() == node_fields.len()));
    let failed = nodes.iter().find(|n| n["state"] == "failed").unwrap();
    assert_eq!(failed["error_type"], "ValueError");
    let pending = nodes.iter().find(|n| n["state"] == "pending").unwrap();
    assert!(pending["started_ns"].is_null() && pending["worker"].is_null());
    let first_edge = json
        .lines()
        .find(|l| l.contains("\"from\":"))
        .unwrap()
        .trim()
        .trim_end_matches(',');
    assert_eq!(first_edge, r#"{"from":1,"to":2}"#);
}

#[test]
fn json_reading_is_strict_about_schema_and_lenient_about_extras() {
    let err = from_json(r#"{"schema": "hpyx.graph/2", "nodes": [], "edges": []}"#).unwrap_err();
    assert!(err.is_unsupported_schema());
    assert!(err.to_string().contains("hpyx.graph/2") && err.to_string().contains(SCHEMA));

    let err = from_json(r#"{"nodes": [], "edges": []}"#).unwrap_err();
    assert!(
        !err.is_unsupported_schema() && err.to_string().contains("schema"),
        "{err}"
    );

    let err = from_json(r#"{"schema": "hpyx.graph/1", "nodes": [{"id": 1, "name": "a", "state": "done"}], "edges": []}"#)
        .unwrap_err();
    assert!(
        err.to_string().contains("done") && err.to_string().contains("succeeded"),
        "{err}"
    );

    let export = from_json(
        r#"{"schema": "hpyx.graph/1", "future": true,
            "nodes": [{"id": 1, "name": "a", "state": "pending", "color": "x"}],
            "edges": [{"from": 1, "to": 9}]}"#,
    )
    .unwrap();
    assert_eq!(export.nodes[0].created_ns, None);
    // A dangling edge is kept in the export and dropped by the snapshot.
    assert_eq!(export.edges.len(), 1);
    assert_eq!(export.into_snapshot().edges().count(), 0);
}

#[test]
fn trace_record_fields_are_exact() {
    let info = common::failed(
        common::ran(7, "parse \"x\"\n", NodeState::Failed, Some(3), 1_000, 4_000),
        "ValueError",
        "bad",
    );
    let record = TraceRecord::from_node(&info).unwrap();
    let line = record.to_json_line();
    assert!(!line.contains('\n'));
    let value: Value = serde_json::from_str(&line).unwrap();
    let fields = [
        "name",
        "node_id",
        "worker_thread_id",
        "start_ns",
        "duration_ns",
        "state",
    ];
    assert_eq!(value.as_object().unwrap().len(), fields.len());
    assert_eq!(key_order(&line, &fields), fields);
    assert_eq!(value["name"], "parse \"x\"\n");
    assert_eq!(value["node_id"], 7);
    assert_eq!(value["worker_thread_id"], 3);
    assert_eq!(value["start_ns"], 1_000);
    assert_eq!(value["duration_ns"], 3_000);
    assert_eq!(value["state"], "failed");
    assert_eq!(
        TraceRecord::from_json_line(&format!("  {line}\n")).unwrap(),
        record
    );
}

#[test]
fn a_cluster_task_s_trace_record_ends_with_its_worker_address() {
    let mut record = TraceRecord::from_node(&common::ran(
        9,
        "inc-0f",
        NodeState::Succeeded,
        None,
        10,
        40,
    ))
    .unwrap();
    record.worker_address = Some("tcp://127.0.0.1:4100".into());
    let line = record.to_json_line();
    let fields = [
        "name",
        "node_id",
        "worker_thread_id",
        "start_ns",
        "duration_ns",
        "state",
        "worker_address",
    ];
    assert_eq!(key_order(&line, &fields), fields);
    let value: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["worker_address"], "tcp://127.0.0.1:4100");
    assert_eq!(TraceRecord::from_json_line(&line).unwrap(), record);
}

#[test]
fn a_cluster_node_s_worker_address_is_written_only_where_known() {
    let mut export = GraphExport::from_snapshot(&common::states());
    assert!(!export.to_json().contains("worker_address"));
    export.nodes[0].worker_address = Some("tcp://127.0.0.1:4100".into());
    let json = export.to_json();
    assert_eq!(
        json.matches("\"worker_address\":\"tcp://127.0.0.1:4100\"")
            .count(),
        1
    );
    assert_eq!(from_json(&json).unwrap(), export);
}

#[test]
fn a_cluster_node_s_tooltip_names_its_worker_address() {
    let snapshot = common::states();
    let first = snapshot.nodes().map(|n| n.id.0).min().unwrap();
    let options = hpyx_viz::DotOptions {
        worker_addresses: [(first, "tcp://127.0.0.1:4100".to_owned())].into(),
        ..hpyx_viz::DotOptions::default()
    };
    let dot = hpyx_viz::to_dot(&snapshot, &options);
    let line = dot
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("n{first}[")))
        .unwrap();
    assert!(line.contains("\\nworker tcp://127.0.0.1:4100"), "{line}");
    assert_eq!(dot.matches("tcp://").count(), 1);
}

#[test]
fn trace_records_only_for_finished_nodes() {
    let mut by_state = Vec::new();
    for node in common::states().nodes() {
        by_state.push((node.state, TraceRecord::from_node(node)));
    }
    for (state, record) in by_state {
        match state {
            NodeState::Pending | NodeState::Ready | NodeState::Running => {
                assert!(record.is_none(), "{state}")
            }
            NodeState::Succeeded | NodeState::Failed => assert!(record.unwrap().duration_ns > 0),
            NodeState::Cancelled => {
                let record = record.unwrap();
                assert_eq!((record.worker_thread_id, record.duration_ns), (-1, 0));
            }
        }
    }
    // Finished but never timed: no record.
    assert!(TraceRecord::from_node(&common::node(1, "x", NodeState::Succeeded)).is_none());
}

#[test]
fn trace_jsonl_golden_parses_line_by_line() {
    let text = std::fs::read_to_string(common::golden_dir().join("states.trace.jsonl")).unwrap();
    let records: Vec<TraceRecord> = text
        .lines()
        .map(|l| TraceRecord::from_json_line(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3);
    assert!(records
        .iter()
        .any(|r| r.worker_thread_id == -1 && r.state == NodeState::Cancelled));
}

#[test]
fn chrome_trace_has_one_track_per_worker() {
    let mut nodes: Vec<_> = (0..8u64)
        .map(|i| {
            common::ran(
                i,
                "work",
                NodeState::Succeeded,
                Some((i % 3) as u32),
                i * 1_000,
                i * 1_000 + 750,
            )
        })
        .collect();
    nodes.push(common::ran(
        100,
        "promise",
        NodeState::Succeeded,
        None,
        50,
        60,
    ));
    nodes.push(common::node(101, "never ran", NodeState::Pending));
    let trace: Value =
        serde_json::from_str(&to_chrome_trace(&GraphSnapshot::from_parts(nodes, []))).unwrap();
    assert_eq!(trace["displayTimeUnit"], "ns");
    let events = trace["traceEvents"].as_array().unwrap();

    let thread_names: Vec<(u64, &str)> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| {
            (
                e["tid"].as_u64().unwrap(),
                e["args"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        thread_names,
        [
            (0, "outside the pool"),
            (1, "worker 0"),
            (2, "worker 1"),
            (3, "worker 2")
        ]
    );
    assert!(events
        .iter()
        .any(|e| e["ph"] == "M" && e["name"] == "process_name" && e["args"]["name"] == "hpyx"));

    let slices: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(slices.len(), 9, "one slice per node that ran");
    for slice in &slices {
        assert_eq!(slice["pid"], 1);
        assert_eq!(slice["cat"], "task");
        let id = slice["args"]["node_id"].as_u64().unwrap();
        let tid = slice["tid"].as_u64().unwrap();
        if id == 100 {
            assert_eq!(tid, 0);
            assert_eq!(
                (slice["ts"].as_f64(), slice["dur"].as_f64()),
                (Some(0.05), Some(0.01))
            );
        } else {
            assert_eq!(tid, id % 3 + 1);
            assert_eq!(slice["ts"].as_f64().unwrap(), id as f64);
            assert_eq!(slice["dur"].as_f64().unwrap(), 0.75);
        }
    }
    // Per track, slices come in time order.
    let keys: Vec<(u64, f64)> = slices
        .iter()
        .map(|e| (e["tid"].as_u64().unwrap(), e["ts"].as_f64().unwrap()))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn chrome_trace_marks_running_nodes_and_failures() {
    let trace: Value = serde_json::from_str(&to_chrome_trace(&common::states())).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    let running = events.iter().find(|e| e["name"] == "parse").unwrap();
    assert_eq!(running["ph"], "B");
    assert!(running.get("dur").is_none());
    let failed = events.iter().find(|e| e["name"] == "validate").unwrap();
    assert_eq!(failed["args"]["error_type"], "ValueError");
    assert!(
        events
            .iter()
            .all(|e| e["name"] != "merge" && e["name"] != "report"),
        "never-run nodes have no slice"
    );
}

#[test]
fn empty_exports_are_valid() {
    let empty = GraphSnapshot::default();
    let trace: Value = serde_json::from_str(&to_chrome_trace(&empty)).unwrap();
    assert_eq!(trace["traceEvents"].as_array().unwrap().len(), 1);
    assert!(from_json(&to_json(&empty)).unwrap().nodes.is_empty());
}
