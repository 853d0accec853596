//! # hpyx-viz: seeing the task graph
//!
//! Exports a [`GraphSnapshot`] (from `hpyx-graph`: a recording of a run, or
//! a future's ancestry) as
//!
//! - **DOT** text ([`to_dot`]): one box per node, labelled with its name and
//!   filled by state; failed nodes add their error type on a second line.
//!   [`Collapse::ByName`] draws one striped box per distinct name instead,
//!   which keeps a 100,000-node graph readable;
//! - **JSON** ([`to_json`] / [`from_json`], schema [`SCHEMA`] =
//!   `hpyx.graph/1`, see `SCHEMA.md`): the nodes with their timings and the
//!   edges; it round-trips through [`GraphExport`] and back to a snapshot;
//! - a **Chrome trace** ([`to_chrome_trace`]) with one track per worker,
//!   for Perfetto or `chrome://tracing`;
//! - **pictures** ([`render`]) in SVG or PNG through Graphviz's `dot`, with
//!   a [`RenderError`] naming the missing program when Graphviz is absent;
//! - and it defines the per-task **trace line** ([`TraceRecord`]) that the
//!   Python layer writes as JSONL.
//!
//! ## Design
//!
//! - **Nothing recurses with the graph's size.** The DOT text is a flat
//!   list of statements built as a `graphviz-rust` AST and printed by its
//!   printer (a loop over that list); JSON and trace events are vectors
//!   serialized one element at a time. Exporting 100,000 nodes takes well
//!   under a second in release builds (`tests/large.rs` checks).
//! - **Names never reach DOT ids.** Node ids are `n<id>` (`g<k>` for
//!   groups); names, error types and messages only appear as quoted
//!   escString values, escaped by hand (`escape.rs`) because graphviz-rust
//!   prints ids verbatim: `"` and `\` are escaped, line breaks become `\n`,
//!   other control characters become visible text. Any name gives DOT that
//!   `dot` accepts.
//! - **Deterministic output.** Nodes are written by id and edges by
//!   `(input, dependent)`, so golden files (`tests/golden/`) stay stable.
//! - **Colours by state**: pending grey, ready light blue, running yellow,
//!   succeeded green, failed red, cancelled dark grey (white text).
//!
//! ## Example
//!
//! ```
//! use hpyx_graph::{GraphSnapshot, NodeId, NodeInfo, NodeState};
//! use hpyx_viz::{to_dot, to_json, from_json, Collapse, DotOptions};
//!
//! let node = |id, name: &str, state| NodeInfo {
//!     id: NodeId(id), name: name.into(), state,
//!     created_ns: None, started_ns: None, finished_ns: None, worker: None,
//!     error_type: None, error_message: None,
//! };
//! let snapshot = GraphSnapshot::from_parts(
//!     vec![node(1, "load", NodeState::Succeeded), node(2, "parse", NodeState::Running)],
//!     [(NodeId(1), NodeId(2))],
//! );
//!
//! let dot = to_dot(&snapshot, &DotOptions { collapse: Collapse::ByName, ..DotOptions::default() });
//! assert!(dot.contains("g0 -> g1"));
//!
//! let export = from_json(&to_json(&snapshot)).unwrap();
//! assert_eq!(export.nodes[1].name, "parse");
//! assert_eq!(export.into_snapshot().len(), 2);
//! ```
//!
//! [`GraphSnapshot`]: hpyx_graph::GraphSnapshot

mod chrome;
mod collapse;
mod dot;
mod error;
mod escape;
mod json;
mod render;
mod state_serde;
mod trace;

pub use chrome::{to_chrome_trace, to_chrome_trace_with};
pub use dot::{to_dot, Collapse, DotOptions};
pub use error::JsonError;
pub use json::{from_json, to_json, EdgeExport, GraphExport, NodeExport, SCHEMA};
pub use render::{render, render_with, Format, RenderError};
pub use trace::TraceRecord;
