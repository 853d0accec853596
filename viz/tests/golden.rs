//! Golden files: every export of the small fixtures is compared with
//! `tests/golden/`. `HPYX_BLESS=1 cargo test -p hpyx-viz --test golden`
//! rewrites them; review the diff before committing.

mod common;

use std::fs;

use hpyx_graph::GraphSnapshot;
use hpyx_viz::{to_chrome_trace, to_dot, to_json, Collapse, DotOptions, TraceRecord};

fn check(file: &str, actual: &str) -> Result<(), String> {
    let path = common::golden_dir().join(file);
    if std::env::var("HPYX_BLESS").as_deref() == Ok("1") {
        fs::create_dir_all(common::golden_dir()).unwrap();
        fs::write(&path, actual).unwrap();
        return Ok(());
    }
    match fs::read_to_string(&path) {
        Ok(expected) if expected == actual => Ok(()),
        Ok(expected) => {
            let line = expected
                .lines()
                .zip(actual.lines())
                .position(|(a, b)| a != b);
            Err(format!(
                "{file} differs from the golden file (first differing line: {}); \
                 rerun with HPYX_BLESS=1 to accept\n--- actual ---\n{actual}",
                line.map_or("the tail".to_owned(), |l| (l + 1).to_string())
            ))
        }
        Err(e) => Err(format!("{file}: {e}; run with HPYX_BLESS=1 to create it")),
    }
}

fn title_for(stem: &str) -> Option<String> {
    (stem == "odd_names").then(|| "odd \"title\" \\ with\nsecond line {<>}".to_owned())
}

fn trace_lines(snapshot: &GraphSnapshot) -> String {
    let mut nodes: Vec<_> = snapshot.nodes().collect();
    nodes.sort_by_key(|n| n.id);
    nodes
        .into_iter()
        .filter_map(TraceRecord::from_node)
        .map(|r| r.to_json_line() + "\n")
        .collect()
}

#[test]
fn golden_files_match() {
    let mut failures = Vec::new();
    for (stem, snapshot) in common::fixtures() {
        let title = title_for(stem);
        let full = DotOptions {
            collapse: Collapse::None,
            title: title.clone(),
            ..DotOptions::default()
        };
        let collapsed = DotOptions {
            collapse: Collapse::ByName,
            title,
            ..DotOptions::default()
        };
        let outputs = [
            (format!("{stem}.dot"), to_dot(&snapshot, &full)),
            (
                format!("{stem}.collapsed.dot"),
                to_dot(&snapshot, &collapsed),
            ),
            (format!("{stem}.json"), to_json(&snapshot)),
            (
                format!("{stem}.chrome-trace.json"),
                to_chrome_trace(&snapshot),
            ),
            (format!("{stem}.trace.jsonl"), trace_lines(&snapshot)),
        ];
        for (file, actual) in outputs {
            if let Err(e) = check(&file, &actual) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every golden file is produced by some fixture (no stale files).
#[test]
fn no_stale_golden_files() {
    let known: Vec<String> = common::fixtures()
        .iter()
        .flat_map(|(stem, _)| {
            [
                "dot",
                "collapsed.dot",
                "json",
                "chrome-trace.json",
                "trace.jsonl",
            ]
            .map(|ext| format!("{stem}.{ext}"))
        })
        .collect();
    for entry in fs::read_dir(common::golden_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(known.contains(&name), "stale golden file {name}");
    }
}
