//! Chrome trace-event export of a recorded run (opens in Perfetto and
//! `chrome://tracing`).
//!
//! Layout: one process (`pid` 1, named `hpyx`), one track per worker
//! (`tid` = worker index + 1, named `worker N`) and one track, `tid` 0,
//! named `outside the pool`, for nodes that ran without a worker (promises,
//! inline completions). Each node that started and finished is a complete
//! (`"X"`) event; a node still running is a begin (`"B"`) event without an
//! end, which viewers draw as not yet finished. Nodes that never started
//! (pending, ready, cancelled before running) have no slice. Times are
//! microseconds (`ts`, `dur`, fractional, so nanoseconds survive).
//! A worker that waits inside a task helps: it runs other nodes until what
//! it waits for is done. Such a node runs on the same worker within the
//! waiter's interval, which the viewers draw as a nested slice.
//! Nodes of hpyx's cluster mode that ran on a dask worker
//! ([`to_chrome_trace_with`]) get one track per worker address, after the
//! pool's workers, named `worker <address>`.

use std::collections::{BTreeMap, BTreeSet};

use hpyx_graph::{GraphSnapshot, NodeInfo, NodeState};
use serde::Serialize;

use crate::json::{push_array, to_string};

const PID: u32 = 1;
const OUTSIDE_TID: u32 = 0;
/// The first track of cluster workers (pool workers stay far below it).
const CLUSTER_TID: u32 = 1 << 24;

#[derive(Serialize)]
struct Event<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cat: Option<&'static str>,
    ph: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<f64>,
    pid: u32,
    tid: u32,
    args: Args<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Args<'a> {
    Name { name: &'a str },
    SortIndex { sort_index: u32 },
    Task(TaskArgs<'a>),
}

#[derive(Serialize)]
struct TaskArgs<'a> {
    node_id: u64,
    #[serde(with = "crate::state_serde")]
    state: NodeState,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
}

/// The Chrome trace-event JSON of `snapshot` (a JSON object with
/// `traceEvents` and `displayTimeUnit`), one event per line.
///
/// # Example
///
/// ```
/// use hpyx_graph::{GraphSnapshot, NodeId, NodeInfo, NodeState};
///
/// let ran = NodeInfo {
///     id: NodeId(1), name: "load".into(), state: NodeState::Succeeded,
///     created_ns: Some(0), started_ns: Some(1_000), finished_ns: Some(3_500), worker: Some(0),
///     error_type: None, error_message: None,
/// };
/// let trace = hpyx_viz::to_chrome_trace(&GraphSnapshot::from_parts(vec![ran], []));
/// let value: serde_json::Value = serde_json::from_str(&trace).unwrap();
/// let slice = value["traceEvents"].as_array().unwrap().iter().find(|e| e["ph"] == "X").unwrap();
/// assert_eq!((slice["ts"].as_f64(), slice["dur"].as_f64()), (Some(1.0), Some(2.5)));
/// assert_eq!(slice["tid"], 1);
/// ```
pub fn to_chrome_trace(snapshot: &GraphSnapshot) -> String {
    to_chrome_trace_with(snapshot, &BTreeMap::new())
}

/// [`to_chrome_trace`], with the nodes of `worker_addresses` (node id ->
/// the address of the dask worker that ran it, in hpyx's cluster mode) on
/// one track per address.
///
/// # Example
///
/// ```
/// use hpyx_graph::{GraphSnapshot, NodeId, NodeInfo, NodeState};
///
/// let ran = NodeInfo {
///     id: NodeId(1), name: "inc-0f".into(), state: NodeState::Succeeded,
///     created_ns: Some(0), started_ns: Some(1_000), finished_ns: Some(3_500), worker: None,
///     error_type: None, error_message: None,
/// };
/// let addresses = [(1, "tcp://127.0.0.1:4100".to_owned())].into();
/// let trace = hpyx_viz::to_chrome_trace_with(&GraphSnapshot::from_parts(vec![ran], []), &addresses);
/// assert!(trace.contains(r#""name":"worker tcp://127.0.0.1:4100""#));
/// ```
pub fn to_chrome_trace_with(
    snapshot: &GraphSnapshot,
    worker_addresses: &BTreeMap<u64, String>,
) -> String {
    let cluster: Vec<&String> = worker_addresses
        .values()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let tid = |node: &NodeInfo| match worker_addresses.get(&node.id.0) {
        Some(address) => {
            let index = cluster.binary_search(&address).unwrap_or_default();
            CLUSTER_TID.saturating_add(u32::try_from(index).unwrap_or(u32::MAX))
        }
        None => pool_tid(node),
    };
    let mut ran: Vec<&NodeInfo> = snapshot
        .nodes()
        .filter(|n| n.started_ns.is_some())
        .collect();
    ran.sort_unstable_by_key(|n| (tid(n), n.started_ns, n.id));
    let tids: BTreeSet<u32> = ran.iter().map(|n| tid(n)).collect();
    let names: Vec<String> = tids
        .iter()
        .map(|&t| {
            if t == OUTSIDE_TID {
                "outside the pool".to_owned()
            } else if t >= CLUSTER_TID {
                format!("worker {}", cluster[(t - CLUSTER_TID) as usize])
            } else {
                format!("worker {}", t - 1)
            }
        })
        .collect();

    let mut events = Vec::with_capacity(1 + 2 * tids.len() + ran.len());
    events.push(metadata(
        "process_name",
        OUTSIDE_TID,
        Args::Name { name: "hpyx" },
    ));
    for (&t, name) in tids.iter().zip(&names) {
        events.push(metadata("thread_name", t, Args::Name { name }));
        // Workers in index order, the outside track last.
        let sort_index = if t == OUTSIDE_TID { u32::MAX } else { t };
        events.push(metadata(
            "thread_sort_index",
            t,
            Args::SortIndex { sort_index },
        ));
    }
    for node in ran {
        let start = node.started_ns.unwrap_or_default();
        let dur = node
            .finished_ns
            .map(|end| micros(end.saturating_sub(start)));
        events.push(Event {
            name: &node.name,
            cat: Some("task"),
            ph: if dur.is_some() { "X" } else { "B" },
            ts: Some(micros(start)),
            dur,
            pid: PID,
            tid: tid(node),
            args: Args::Task(TaskArgs {
                node_id: node.id.0,
                state: node.state,
                error_type: node.error_type.as_deref(),
                error_message: node.error_message.as_deref(),
            }),
        });
    }

    let mut out = String::with_capacity(64 + events.len() * 160);
    out.push_str("{\n");
    push_array(&mut out, "traceEvents", &events);
    out.push_str(",\n  \"displayTimeUnit\": ");
    out.push_str(&to_string("ns"));
    out.push_str("\n}\n");
    out
}

fn pool_tid(node: &NodeInfo) -> u32 {
    node.worker.map_or(OUTSIDE_TID, |w| w.saturating_add(1))
}

fn micros(ns: u64) -> f64 {
    ns as f64 / 1_000.0
}

fn metadata<'a>(name: &'a str, tid: u32, args: Args<'a>) -> Event<'a> {
    Event {
        name,
        cat: None,
        ph: "M",
        ts: None,
        dur: None,
        pid: PID,
        tid,
        args,
    }
}
