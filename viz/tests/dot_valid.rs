//! `dot` accepts every DOT text we write: the golden files, odd names under
//! every option, and odd names as error types and titles. Needs Graphviz;
//! without it these tests print a note and pass, unless HPYX_REQUIRE_DOT=1.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use hpyx_graph::{GraphSnapshot, NodeState};
use hpyx_viz::{render, to_dot, Collapse, DotOptions, Format};

/// Runs `dot -Tsvg`, requiring success and no warnings; returns the SVG.
fn dot_svg(name: &str, text: &str) -> String {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "dot rejected {name}: {stderr}\n{text}"
    );
    assert!(
        stderr.trim().is_empty(),
        "dot warned on {name}: {stderr}\n{text}"
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn dot_accepts_every_golden_file() {
    if !common::dot_available("dot_accepts_every_golden_file") {
        return;
    }
    let mut seen = 0;
    for entry in std::fs::read_dir(common::golden_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "dot") {
            dot_svg(
                &path.display().to_string(),
                &std::fs::read_to_string(&path).unwrap(),
            );
            seen += 1;
        }
    }
    assert!(seen >= 10, "expected the golden DOT files, found {seen}");
}

#[test]
fn odd_names_survive_into_the_picture() {
    if !common::dot_available("odd_names_survive_into_the_picture") {
        return;
    }
    let svg = dot_svg(
        "odd_names",
        &to_dot(&common::odd_names(), &DotOptions::default()),
    );
    // SVG text is XML-escaped; each label line appears once as <text>.
    for expected in [
        "say &quot;hi&quot;",
        "back\\slash",
        "trailing backslash \\",
        "&lt;b&gt;html?&lt;/b&gt;",
        "{braces} | pipes | &lt;port&gt;",
        "Ünïcödé 名前 ✓ 🚀",
        "\\N \\G \\L \\l",
        "x&quot; &#45;&gt; evil [color=red]; y=&quot;",
        "digraph {",
        "Err&lt;&quot;quoted&quot;&gt;\\{x}",
    ] {
        assert!(
            svg.contains(&format!(">{expected}</text>")),
            "label {expected:?} missing from the SVG:\n{svg}"
        );
    }
    // Node ids never carry names.
    assert!(svg.contains("<title>n44</title>"));
}

#[test]
fn every_odd_name_in_every_role() {
    if !common::dot_available("every_odd_name_in_every_role") {
        return;
    }
    for (i, name) in common::ODD_NAMES.iter().enumerate() {
        let node = common::failed(common::node(1, name, NodeState::Failed), name, name);
        let other = common::node(2, name, NodeState::Cancelled);
        let snapshot = GraphSnapshot::from_parts(
            vec![node, other],
            [(hpyx_graph::NodeId(1), hpyx_graph::NodeId(2))],
        );
        for collapse in [Collapse::None, Collapse::ByName] {
            let options = DotOptions {
                collapse,
                title: Some((*name).to_owned()),
                ..DotOptions::default()
            };
            dot_svg(
                &format!("odd name #{i} {name:?} {collapse:?}"),
                &to_dot(&snapshot, &options),
            );
        }
    }
}

#[test]
fn render_gives_svg_and_png() {
    if !common::dot_available("render_gives_svg_and_png") {
        return;
    }
    let dot = to_dot(&common::states(), &DotOptions::default());
    let svg = render(&dot, Format::Svg).unwrap();
    assert!(String::from_utf8(svg).unwrap().contains("<svg"));
    let png = render(&dot, Format::Png).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
}

#[test]
fn render_reports_dot_errors() {
    if !common::dot_available("render_reports_dot_errors") {
        return;
    }
    let err = render("digraph { a -> ", Format::Svg).unwrap_err();
    assert!(!err.is_not_found());
    let message = err.to_string();
    assert!(
        message.contains("`dot`") && message.contains("syntax error"),
        "{message}"
    );
}
