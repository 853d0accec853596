//! `Collapse::ByName`: one DOT node per distinct name.
//!
//! A group's box is striped by state like a progress bar (succeeded, failed,
//! cancelled, running, ready, pending, widths proportional to the counts,
//! any non-zero count at least a visible sliver). Its label gives the name,
//! the counts per state and, when some failed, the most common error types.
//! Edges between groups carry the number of task edges they stand for;
//! edges inside a group become one self-loop.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use hpyx_graph::{GraphSnapshot, NodeState};

use crate::dot::{edge, fill_color, font_color, human_duration, node, plain, quoted};

/// Stripe order: done work first, like a progress bar.
const STRIPE_ORDER: [NodeState; 6] = [
    NodeState::Succeeded,
    NodeState::Failed,
    NodeState::Cancelled,
    NodeState::Running,
    NodeState::Ready,
    NodeState::Pending,
];

/// The narrowest stripe, as a fraction of the box, for a non-zero count.
const MIN_STRIPE: f64 = 0.04;

/// Error types listed in a group's label; the rest are counted.
const MAX_ERROR_TYPES: usize = 3;

#[derive(Default)]
struct Group<'a> {
    name: &'a str,
    count: u64,
    by_state: [u64; 6],
    errors: BTreeMap<&'a str, u64>,
    run_ns: u64,
    timed: u64,
}

/// Appends the statements of the collapsed picture of `snapshot`.
pub(crate) fn group_stmts(
    snapshot: &GraphSnapshot,
    stmts: &mut Vec<graphviz_rust::dot_structures::Stmt>,
) {
    let graph = snapshot.graph();
    // Groups in order of their smallest node id, for stable output.
    let mut order: Vec<_> = graph.node_indices().collect();
    order.sort_unstable_by_key(|&ix| graph[ix].id);
    let mut group_of = vec![0usize; graph.node_count()];
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<Group<'_>> = Vec::new();
    for ix in order {
        let info = &graph[ix];
        let k = *by_name.entry(info.name.as_str()).or_insert_with(|| {
            groups.push(Group {
                name: info.name.as_str(),
                ..Group::default()
            });
            groups.len() - 1
        });
        group_of[ix.index()] = k;
        let group = &mut groups[k];
        group.count += 1;
        group.by_state[info.state as usize] += 1;
        if let Some(error_type) = info
            .error_type
            .as_deref()
            .filter(|_| info.state == NodeState::Failed)
        {
            *group.errors.entry(error_type).or_default() += 1;
        }
        if let (Some(start), Some(end)) = (info.started_ns, info.finished_ns) {
            group.run_ns = group.run_ns.saturating_add(end.saturating_sub(start));
            group.timed += 1;
        }
    }
    let mut edges: HashMap<(usize, usize), u64> = HashMap::new();
    for e in graph.raw_edges() {
        *edges
            .entry((group_of[e.source().index()], group_of[e.target().index()]))
            .or_default() += 1;
    }
    let mut edges: Vec<_> = edges.into_iter().collect();
    edges.sort_unstable();

    stmts.reserve(groups.len() + edges.len());
    for (k, group) in groups.iter().enumerate() {
        let mut attributes = vec![
            quoted("label", &label(group)),
            // `striped` fills by itself; adding `filled` makes Graphviz read
            // the colour list as a gradient and warn.
            quoted("style", "striped"),
            quoted("fillcolor", &stripes(group)),
            quoted("tooltip", &tooltip(group)),
        ];
        if 2 * group.by_state[NodeState::Cancelled as usize] > group.count {
            attributes.push(plain("fontcolor", font_color(NodeState::Cancelled)));
        }
        stmts.push(node(format!("g{k}"), attributes));
    }
    for ((from, to), count) in edges {
        let mut attributes = Vec::new();
        if count > 1 {
            attributes.push(quoted("label", &format!("×{count}")));
            let width = (1.0 + (count as f64).log10()).min(6.0);
            attributes.push(plain("penwidth", &format!("{width:.1}")));
        }
        stmts.push(edge(format!("g{from}"), format!("g{to}"), attributes));
    }
}

/// `name`, the counts by state, and the commonest error types.
fn label(group: &Group<'_>) -> String {
    let mut text = format!("{}\n", group.name);
    let present: Vec<NodeState> = STRIPE_ORDER
        .into_iter()
        .filter(|&s| group.by_state[s as usize] > 0)
        .collect();
    if present.len() == 1 {
        let _ = write!(text, "{} {}", group.count, present[0]);
    } else {
        let noun = if group.count == 1 { "node" } else { "nodes" };
        let _ = write!(text, "{} {noun}:", group.count);
        for (i, state) in present.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            let _ = write!(text, "{sep}{} {state}", group.by_state[*state as usize]);
        }
    }
    if !group.errors.is_empty() {
        let mut errors: Vec<(&str, u64)> = group.errors.iter().map(|(t, n)| (*t, *n)).collect();
        errors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        text.push('\n');
        for (i, (error_type, n)) in errors.iter().take(MAX_ERROR_TYPES).enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            text.push_str(error_type);
            if *n > 1 {
                let _ = write!(text, " ×{n}");
            }
        }
        if errors.len() > MAX_ERROR_TYPES {
            let _ = write!(text, ", +{} more", errors.len() - MAX_ERROR_TYPES);
        }
    }
    text
}

/// A Graphviz colour list such as `#98e698;0.900:#f26d6d`: every present
/// state gets at least [`MIN_STRIPE`]; the last stripe takes the rest.
fn stripes(group: &Group<'_>) -> String {
    let present: Vec<(NodeState, u64)> = STRIPE_ORDER
        .into_iter()
        .map(|s| (s, group.by_state[s as usize]))
        .filter(|&(_, n)| n > 0)
        .collect();
    let widths: Vec<f64> = present
        .iter()
        .map(|&(_, n)| (n as f64 / group.count as f64).max(MIN_STRIPE))
        .collect();
    let total: f64 = widths.iter().sum();
    let mut text = String::new();
    for (i, ((state, _), width)) in present.iter().zip(&widths).enumerate() {
        if i > 0 {
            text.push(':');
        }
        text.push_str(fill_color(*state));
        if i + 1 < present.len() {
            // Rounded down, so the fractions never add up to more than 1.
            let _ = write!(text, ";{:.3}", (width / total * 1000.0).floor() / 1000.0);
        }
    }
    text
}

fn tooltip(group: &Group<'_>) -> String {
    let mut text = label(group);
    if let Some(mean) = group.run_ns.checked_div(group.timed) {
        let _ = write!(
            text,
            "\nran {} in total, {} on average",
            human_duration(group.run_ns),
            human_duration(mean)
        );
    }
    text
}
