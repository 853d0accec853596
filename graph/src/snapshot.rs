//! Snapshots of the graph for export: a petgraph `DiGraph` of `NodeInfo`.
//!
//! # Consistency while the graph runs
//!
//! States only move forward, and a node starts only after all its inputs
//! finished. So the snapshot first fixes the *structure* (nodes and edges),
//! then reads node states in reverse topological order, dependents before
//! their inputs: if a dependent is seen started, its inputs were finished
//! before it started, and are still seen finished when read afterwards. No
//! snapshot shows a node running while one of its inputs is pending.

use std::collections::HashMap;
use std::sync::Arc;

use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::drop_queue::drop_iteratively;
use crate::name::NodeId;
use crate::node::GraphNode;
use crate::state::NodeState;

/// One node of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node's id.
    pub id: NodeId,
    /// Its readable name.
    pub name: String,
    /// Its state when the snapshot was taken.
    pub state: NodeState,
    /// Nanoseconds since the graph's epoch, where measured (recording or
    /// tracing on).
    pub created_ns: Option<u64>,
    /// When it started running.
    pub started_ns: Option<u64>,
    /// When it finished.
    pub finished_ns: Option<u64>,
    /// The index of the worker that ran it.
    pub worker: Option<u32>,
    /// The error's type name, if failed.
    pub error_type: Option<String>,
    /// The error's message, if failed.
    pub error_message: Option<String>,
}

impl NodeInfo {
    fn read(node: &dyn GraphNode) -> NodeInfo {
        let core = node.core();
        let state = core.state.load();
        let error = if state == NodeState::Failed {
            core.error()
        } else {
            None
        };
        let [created_ns, started_ns, finished_ns] = core.times();
        NodeInfo {
            id: core.id(),
            name: core.name().as_str().to_owned(),
            state,
            created_ns,
            started_ns,
            finished_ns,
            worker: core.worker(),
            error_type: error.map(|e| e.type_name().to_owned()),
            error_message: error.map(|e| e.message().to_owned()),
        }
    }
}

/// A consistent picture of part of the graph. Edges point from an input to
/// the node that depends on it.
#[derive(Clone, Debug, Default)]
pub struct GraphSnapshot {
    graph: DiGraph<NodeInfo, ()>,
}

impl GraphSnapshot {
    /// A snapshot built from already read nodes and edges (input -> dependent).
    /// Edges naming unknown ids are ignored.
    pub fn from_parts(
        nodes: Vec<NodeInfo>,
        edges: impl IntoIterator<Item = (NodeId, NodeId)>,
    ) -> GraphSnapshot {
        let mut graph = DiGraph::with_capacity(nodes.len(), 0);
        let mut index = HashMap::with_capacity(nodes.len());
        for info in nodes {
            let id = info.id;
            index.insert(id, graph.add_node(info));
        }
        for (from, to) in edges {
            if let (Some(&a), Some(&b)) = (index.get(&from), index.get(&to)) {
                graph.add_edge(a, b, ());
            }
        }
        GraphSnapshot { graph }
    }

    /// The recorded `nodes` and the edges among them.
    pub(crate) fn of_nodes(nodes: Vec<Arc<dyn GraphNode>>) -> GraphSnapshot {
        Self::collect(nodes, false)
    }

    /// `roots` and everything reachable through inputs still held.
    pub(crate) fn of_ancestry(roots: Vec<Arc<dyn GraphNode>>) -> GraphSnapshot {
        Self::collect(roots, true)
    }

    fn collect(start: Vec<Arc<dyn GraphNode>>, follow_inputs: bool) -> GraphSnapshot {
        // 1. Structure, iteratively.
        let mut index: HashMap<NodeId, NodeIndex> = HashMap::with_capacity(start.len());
        let mut refs: Vec<Arc<dyn GraphNode>> = Vec::with_capacity(start.len());
        let mut edges: Vec<(NodeId, NodeId)> = Vec::new();
        let mut graph: DiGraph<Option<NodeInfo>, ()> = DiGraph::with_capacity(start.len(), 0);
        let mut stack = start;
        while let Some(node) = stack.pop() {
            let id = node.core().id();
            if index.contains_key(&id) {
                continue;
            }
            index.insert(id, graph.add_node(None));
            for input in node.inputs_snapshot() {
                edges.push((input.core().id(), id));
                if follow_inputs {
                    stack.push(input);
                }
            }
            refs.push(node);
        }
        for (from, to) in edges {
            if let (Some(&a), Some(&b)) = (index.get(&from), index.get(&to)) {
                graph.add_edge(a, b, ());
            }
        }
        // 2. States, dependents first (see the module docs).
        let order = toposort(&graph, None).expect("the task graph has no cycles");
        for &ix in order.iter().rev() {
            graph[ix] = Some(NodeInfo::read(&*refs[ix.index()]));
        }
        drop_iteratively(refs);
        GraphSnapshot {
            graph: graph.map(|_, info| info.clone().expect("every node read"), |_, _| ()),
        }
    }

    /// The petgraph graph (edges input -> dependent).
    pub fn graph(&self) -> &DiGraph<NodeInfo, ()> {
        &self.graph
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// True if there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// The nodes, in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeInfo> {
        self.graph.node_weights()
    }

    /// The edges as `(input id, dependent id)`.
    pub fn edges(&self) -> impl Iterator<Item = (NodeId, NodeId)> + '_ {
        self.graph
            .raw_edges()
            .iter()
            .map(|e| (self.graph[e.source()].id, self.graph[e.target()].id))
    }

    /// The node with `id`.
    pub fn node(&self, id: NodeId) -> Option<&NodeInfo> {
        self.graph.node_weights().find(|n| n.id == id)
    }
}
