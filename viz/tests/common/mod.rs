//! Small snapshots shared by the golden, `dot` and format tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use hpyx_graph::{GraphSnapshot, NodeId, NodeInfo, NodeState};

/// A node with no timings, worker or error.
pub fn node(id: u64, name: &str, state: NodeState) -> NodeInfo {
    NodeInfo {
        id: NodeId(id),
        name: name.to_owned(),
        state,
        created_ns: None,
        started_ns: None,
        finished_ns: None,
        worker: None,
        error_type: None,
        error_message: None,
    }
}

/// A node that ran on `worker` from `start` to `end` (ns).
pub fn ran(
    id: u64,
    name: &str,
    state: NodeState,
    worker: Option<u32>,
    start: u64,
    end: u64,
) -> NodeInfo {
    NodeInfo {
        created_ns: Some(start / 2),
        started_ns: Some(start),
        finished_ns: Some(end),
        worker,
        ..node(id, name, state)
    }
}

/// A node that failed with `error_type: message`.
pub fn failed(mut info: NodeInfo, error_type: &str, message: &str) -> NodeInfo {
    info.state = NodeState::Failed;
    info.error_type = Some(error_type.to_owned());
    info.error_message = Some(message.to_owned());
    info
}

fn edges(pairs: &[(u64, u64)]) -> Vec<(NodeId, NodeId)> {
    pairs.iter().map(|&(a, b)| (NodeId(a), NodeId(b))).collect()
}

/// One node in each state: load -> {parse, fetch} -> ... with timings.
pub fn states() -> GraphSnapshot {
    GraphSnapshot::from_parts(
        vec![
            ran(1, "load", NodeState::Succeeded, Some(0), 1_000, 2_500_000),
            NodeInfo {
                created_ns: Some(900),
                started_ns: Some(2_600_000),
                worker: Some(1),
                ..node(2, "parse", NodeState::Running)
            },
            node(3, "fetch", NodeState::Ready),
            node(4, "merge", NodeState::Pending),
            failed(
                ran(
                    5,
                    "validate",
                    NodeState::Failed,
                    Some(0),
                    2_600_000,
                    2_700_500,
                ),
                "ValueError",
                "negative size: -1",
            ),
            NodeInfo {
                finished_ns: Some(2_700_600),
                ..node(6, "report", NodeState::Cancelled)
            },
        ],
        edges(&[(1, 2), (1, 3), (2, 4), (3, 4), (1, 5), (5, 6)]),
    )
}

/// A failure and its propagation: `parse` raises, `transform` fails with
/// the same error without running, `side` is unaffected.
pub fn failure() -> GraphSnapshot {
    let message = "could not convert string to float: 'abc'\nline 2 of the message";
    GraphSnapshot::from_parts(
        vec![
            ran(10, "load", NodeState::Succeeded, Some(0), 0, 1_000_000),
            failed(
                ran(
                    11,
                    "parse",
                    NodeState::Failed,
                    Some(0),
                    1_000_000,
                    1_200_000,
                ),
                "ValueError",
                message,
            ),
            failed(
                NodeInfo {
                    finished_ns: Some(1_200_100),
                    ..node(12, "transform", NodeState::Failed)
                },
                "ValueError",
                message,
            ),
            ran(
                13,
                "side",
                NodeState::Succeeded,
                Some(1),
                1_000_000,
                1_050_000,
            ),
            failed(
                ran(
                    14,
                    "mod.Klass.<locals>.check",
                    NodeState::Failed,
                    None,
                    1_300_000,
                    1_300_050,
                ),
                "mymod.CustomError",
                "",
            ),
        ],
        edges(&[(10, 11), (11, 12), (10, 13), (13, 14)]),
    )
}

/// A cancelled node and its cancelled dependents, next to finished work.
pub fn cancellation() -> GraphSnapshot {
    GraphSnapshot::from_parts(
        vec![
            ran(20, "source", NodeState::Succeeded, Some(0), 100, 200),
            NodeInfo {
                finished_ns: Some(150),
                ..node(21, "slow_step", NodeState::Cancelled)
            },
            NodeInfo {
                finished_ns: Some(151),
                ..node(22, "after_slow", NodeState::Cancelled)
            },
            ran(23, "fast_step", NodeState::Succeeded, Some(1), 210, 400),
            node(24, "when_all", NodeState::Cancelled),
        ],
        edges(&[(20, 21), (21, 22), (20, 23), (22, 24), (23, 24)]),
    )
}

/// The names that break naive DOT writers.
pub const ODD_NAMES: &[&str] = &[
    r#"say "hi""#,
    r"back\slash",
    "trailing backslash \\",
    r#"\""#,
    "two\nlines",
    "windows\r\nline",
    "<lambda>",
    "<b>html?</b>",
    "{braces} | pipes | <port>",
    "Ünïcödé 名前 ✓ 🚀",
    "",
    r"\N \G \L \l",
    "bell\u{7}null\u{0}",
    "tab\there",
    "x\" -> evil [color=red]; y=\"",
    "}\ndigraph {",
    "// comment /* not */ #",
    "right-to-left \u{202e}txet",
];

/// One node per odd name in a chain, plus a failed node with an odd error.
pub fn odd_names() -> GraphSnapshot {
    let mut nodes: Vec<NodeInfo> = ODD_NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| node(30 + i as u64, name, NodeState::Succeeded))
        .collect();
    let last = 30 + ODD_NAMES.len() as u64;
    nodes.push(failed(
        node(last, "odd \"failure\"", NodeState::Failed),
        "Err<\"quoted\">\\{x}",
        "message with \"quotes\"\nand \\N",
    ));
    let pairs: Vec<(u64, u64)> = (30..last).map(|i| (i, i + 1)).collect();
    GraphSnapshot::from_parts(nodes, edges(&pairs))
}

/// Many nodes under few names, for `Collapse::ByName`: a fan-out of
/// `fetch` (mixed states) into `parse`, a `then` chain of `step`, one `merge`.
pub fn repeated_names() -> GraphSnapshot {
    let mut nodes = vec![ran(100, "plan", NodeState::Succeeded, Some(0), 0, 10)];
    let mut pairs = Vec::new();
    for i in 0..12u64 {
        let fetch = 101 + i;
        let state = match i {
            0..=7 => NodeState::Succeeded,
            8 => NodeState::Running,
            9 => NodeState::Ready,
            _ => NodeState::Failed,
        };
        let mut info = ran(fetch, "fetch", state, Some((i % 3) as u32), 10 + i, 20 + i);
        if state == NodeState::Failed {
            info = failed(
                info,
                if i == 10 {
                    "TimeoutError"
                } else {
                    "ConnectionError"
                },
                "gone",
            );
        }
        nodes.push(info);
        pairs.push((100, fetch));
        pairs.push((fetch, 200));
    }
    nodes.push(node(200, "merge", NodeState::Pending));
    for i in 0..5u64 {
        nodes.push(node(300 + i, "step", NodeState::Pending));
        pairs.push((if i == 0 { 200 } else { 300 + i - 1 }, 300 + i));
    }
    nodes.push(node(
        400,
        "name with \"quotes\"\nand lines",
        NodeState::Cancelled,
    ));
    pairs.push((304, 400));
    GraphSnapshot::from_parts(nodes, edges(&pairs))
}

/// The fixtures by golden-file stem.
pub fn fixtures() -> Vec<(&'static str, GraphSnapshot)> {
    vec![
        ("states", states()),
        ("failure", failure()),
        ("cancellation", cancellation()),
        ("odd_names", odd_names()),
        ("repeated_names", repeated_names()),
    ]
}

pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
}

/// `dot` from PATH, if it runs. With `HPYX_REQUIRE_DOT=1` a missing `dot`
/// fails the test instead of skipping it.
pub fn dot_available(test: &str) -> bool {
    let ok = std::process::Command::new("dot")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("HPYX_REQUIRE_DOT").as_deref() == Ok("1") {
            panic!("{test}: Graphviz `dot` is not installed but HPYX_REQUIRE_DOT=1 (apt-get install graphviz)");
        }
        eprintln!("note: {test} skipped: Graphviz `dot` is not installed (set HPYX_REQUIRE_DOT=1 to fail instead)");
    }
    ok
}
