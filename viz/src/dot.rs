//! DOT text: one statement per node and per edge, built as a graphviz-rust
//! AST and printed by its printer.
//!
//! The AST is flat (a `Vec<Stmt>` under one `digraph`, no subgraphs), and
//! the printer walks that vector with a loop, so neither building nor
//! printing recurses with the size of the graph.

use graphviz_rust::dot_structures::{
    Attribute, Edge, EdgeTy, Graph, GraphAttributes, Id, Node, NodeId as DotNodeId, Stmt, Vertex,
};
use graphviz_rust::printer::{DotPrinter, PrinterContext};
use hpyx_graph::{GraphSnapshot, NodeInfo, NodeState};

use std::collections::BTreeMap;

use crate::collapse;
use crate::escape::{quoted_id, truncate};

/// How [`to_dot`] turns nodes into pictures.
///
/// # Example
///
/// ```
/// use hpyx_viz::{Collapse, DotOptions};
///
/// let options = DotOptions { collapse: Collapse::ByName, ..DotOptions::default() };
/// assert_eq!(options.collapse, Collapse::ByName);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Collapse {
    /// One DOT node per task node.
    #[default]
    None,
    /// One DOT node per distinct name, labelled with the number of nodes and
    /// their states, and one edge per pair of groups labelled with the number
    /// of edges it stands for. A 100,000-node graph made of a few functions
    /// becomes a picture of a few boxes.
    ByName,
}

/// Options for [`to_dot`].
///
/// # Example
///
/// ```
/// use hpyx_viz::DotOptions;
///
/// let options = DotOptions { title: Some("nightly ETL".into()), ..DotOptions::default() };
/// assert!(options.title.is_some());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DotOptions {
    /// Draw every node, or one box per name.
    pub collapse: Collapse,
    /// A caption shown above the graph.
    pub title: Option<String>,
    /// The address of the cluster worker that ran a node, by node id (nodes
    /// of hpyx's cluster mode), shown in the node's tooltip.
    pub worker_addresses: BTreeMap<u64, String>,
}

/// The DOT text of `snapshot`: nodes labelled with their names and filled by
/// state; failed nodes also show their error type; tooltips (shown by SVG
/// viewers) hold the id, state, worker, run time and error message. Nodes
/// are written in id order and edges in `(input, dependent)` order, so the
/// same snapshot always gives the same text.
///
/// # Example
///
/// ```
/// use hpyx_graph::{GraphSnapshot, NodeId, NodeInfo, NodeState};
/// use hpyx_viz::{to_dot, DotOptions};
///
/// let node = |id, name: &str, state| NodeInfo {
///     id: NodeId(id), name: name.into(), state,
///     created_ns: None, started_ns: None, finished_ns: None, worker: None,
///     error_type: None, error_message: None,
/// };
/// let snapshot = GraphSnapshot::from_parts(
///     vec![node(1, "load", NodeState::Succeeded), node(2, "say \"hi\"", NodeState::Pending)],
///     [(NodeId(1), NodeId(2))],
/// );
/// let dot = to_dot(&snapshot, &DotOptions::default());
/// assert!(dot.starts_with("digraph hpyx {"));
/// assert!(dot.contains(r#"n2[label="say \"hi\"""#));
/// assert!(dot.contains("n1 -> n2"));
/// ```
pub fn to_dot(snapshot: &GraphSnapshot, options: &DotOptions) -> String {
    let mut stmts = header(options);
    match options.collapse {
        Collapse::None => node_stmts(snapshot, options, &mut stmts),
        Collapse::ByName => collapse::group_stmts(snapshot, &mut stmts),
    }
    let graph = Graph::DiGraph {
        id: Id::Plain("hpyx".into()),
        strict: false,
        stmts,
    };
    let mut out = graph.print(&mut PrinterContext::default());
    out.push('\n');
    out
}

/// One sans-serif font for labels, edge counts and the title.
const FONT: &str = "Helvetica";

/// The fill colour of a node in `state`.
pub(crate) fn fill_color(state: NodeState) -> &'static str {
    match state {
        NodeState::Pending => "#d9d9d9",
        NodeState::Ready => "#add8e6",
        NodeState::Running => "#ffec6e",
        NodeState::Succeeded => "#98e698",
        NodeState::Failed => "#f26d6d",
        NodeState::Cancelled => "#6e6e6e",
    }
}

/// The text colour that reads well on [`fill_color`].
pub(crate) fn font_color(state: NodeState) -> &'static str {
    match state {
        NodeState::Cancelled => "white",
        _ => "black",
    }
}

pub(crate) fn attr(key: &str, value: Id) -> Attribute {
    Attribute(Id::Plain(key.into()), value)
}

pub(crate) fn plain(key: &str, value: &str) -> Attribute {
    attr(key, Id::Plain(value.into()))
}

pub(crate) fn quoted(key: &str, value: &str) -> Attribute {
    attr(key, quoted_id(value))
}

pub(crate) fn node(id: String, attributes: Vec<Attribute>) -> Stmt {
    Stmt::Node(Node::new(DotNodeId(Id::Plain(id), None), attributes))
}

pub(crate) fn edge(from: String, to: String, attributes: Vec<Attribute>) -> Stmt {
    let vertex = |id| Vertex::N(DotNodeId(Id::Plain(id), None));
    Stmt::Edge(Edge {
        ty: EdgeTy::Pair(vertex(from), vertex(to)),
        attributes,
    })
}

/// A duration for people: `950 ns`, `12.5 µs`, `3.2 ms`, `1.25 s`.
pub(crate) fn human_duration(ns: u64) -> String {
    let ns_f = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", ns_f / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.1} ms", ns_f / 1e6)
    } else {
        format!("{:.2} s", ns_f / 1e9)
    }
}

fn header(options: &DotOptions) -> Vec<Stmt> {
    let mut graph_attrs = vec![quoted("charset", "UTF-8"), quoted("fontname", FONT)];
    if let Some(title) = &options.title {
        graph_attrs.push(quoted("label", title));
        graph_attrs.push(plain("labelloc", "t"));
    }
    vec![
        Stmt::GAttribute(GraphAttributes::Graph(graph_attrs)),
        Stmt::GAttribute(GraphAttributes::Node(vec![
            plain("shape", "box"),
            quoted("style", "rounded,filled"),
            quoted("fontname", FONT),
        ])),
        Stmt::GAttribute(GraphAttributes::Edge(vec![
            quoted("color", "#555555"),
            quoted("fontname", FONT),
        ])),
    ]
}

fn node_stmts(snapshot: &GraphSnapshot, options: &DotOptions, stmts: &mut Vec<Stmt>) {
    let mut nodes: Vec<&NodeInfo> = snapshot.nodes().collect();
    nodes.sort_unstable_by_key(|n| n.id);
    let mut edges: Vec<_> = snapshot.edges().collect();
    edges.sort_unstable();
    stmts.reserve(nodes.len() + edges.len());
    for info in nodes {
        let mut label = info.name.clone();
        if let (NodeState::Failed, Some(error_type)) = (info.state, &info.error_type) {
            label.push('\n');
            label.push_str(error_type);
        }
        let mut attributes = vec![
            quoted("label", &label),
            quoted("fillcolor", fill_color(info.state)),
            quoted(
                "tooltip",
                &tooltip(info, options.worker_addresses.get(&info.id.0)),
            ),
        ];
        if font_color(info.state) != "black" {
            attributes.push(plain("fontcolor", font_color(info.state)));
        }
        stmts.push(node(format!("n{}", info.id), attributes));
    }
    for (from, to) in edges {
        stmts.push(edge(format!("n{from}"), format!("n{to}"), Vec::new()));
    }
}

/// `#id state`, then worker, run time and error, one per line.
fn tooltip(info: &NodeInfo, address: Option<&String>) -> String {
    let mut text = format!("#{} {}", info.id, info.state);
    if let Some(worker) = info.worker {
        text.push_str(&format!("\nworker {worker}"));
    }
    if let Some(address) = address {
        text.push_str(&format!("\nworker {address}"));
    }
    if let (Some(start), Some(end)) = (info.started_ns, info.finished_ns) {
        text.push_str(&format!(
            "\nran {}",
            human_duration(end.saturating_sub(start))
        ));
    }
    match (&info.error_type, &info.error_message) {
        (Some(t), Some(m)) if !m.is_empty() => {
            text.push_str(&format!("\n{t}: {}", truncate(m, 300)))
        }
        (Some(t), _) => text.push_str(&format!("\n{t}")),
        (None, _) => {}
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(950), "950 ns");
        assert_eq!(human_duration(12_500), "12.5 µs");
        assert_eq!(human_duration(3_200_000), "3.2 ms");
        assert_eq!(human_duration(1_250_000_000), "1.25 s");
    }

    #[test]
    fn empty_snapshot_is_a_valid_graph() {
        let dot = to_dot(&GraphSnapshot::default(), &DotOptions::default());
        assert!(dot.starts_with("digraph hpyx {"));
        assert!(dot.ends_with("}\n"));
    }
}
