//! The JSON export (schema `hpyx.graph/1`, documented in `SCHEMA.md`).
//!
//! The types derive serde, so `serde_json::to_string(&export)` is a valid
//! export too; [`to_json`] only lays the same values out one node and one
//! edge per line, which keeps large exports greppable and diffs readable.

use hpyx_graph::{GraphSnapshot, NodeId, NodeInfo, NodeState};
use serde::{Deserialize, Serialize};

use crate::error::JsonError;

/// The schema id written into, and required from, every graph export.
///
/// # Example
///
/// ```
/// assert_eq!(hpyx_viz::SCHEMA, "hpyx.graph/1");
/// ```
pub const SCHEMA: &str = "hpyx.graph/1";

/// A graph export: what [`to_json`] writes and [`from_json`] reads.
///
/// # Example
///
/// ```
/// use hpyx_graph::GraphSnapshot;
/// use hpyx_viz::GraphExport;
///
/// let export = GraphExport::from_snapshot(&GraphSnapshot::default());
/// assert_eq!(export.schema, hpyx_viz::SCHEMA);
/// assert_eq!(GraphExport::from_json(&export.to_json()).unwrap(), export);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphExport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The nodes, by increasing id.
    pub nodes: Vec<NodeExport>,
    /// The edges, input to dependent, by increasing `(from, to)`.
    pub edges: Vec<EdgeExport>,
}

/// One node of a [`GraphExport`]; the fields of [`NodeInfo`].
///
/// Times are nanoseconds since the graph's epoch, `null` where not measured
/// (or not reached); `worker` is the pool's worker index, `null` if the node
/// did not run on a worker; `error_type`/`error_message` are set only for
/// failed nodes.
///
/// # Example
///
/// ```
/// use hpyx_graph::NodeState;
/// use hpyx_viz::NodeExport;
///
/// let node: NodeExport = serde_json::from_str(r#"{"id": 7, "name": "load", "state": "running"}"#).unwrap();
/// assert_eq!(node.state, NodeState::Running);
/// assert_eq!(node.worker, None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeExport {
    /// The node's id, unique in the process.
    pub id: u64,
    /// Its readable name.
    pub name: String,
    /// `"pending"`, `"ready"`, `"running"`, `"succeeded"`, `"failed"` or
    /// `"cancelled"`.
    #[serde(with = "crate::state_serde")]
    pub state: NodeState,
    /// When it was created.
    #[serde(default)]
    pub created_ns: Option<u64>,
    /// When it started running.
    #[serde(default)]
    pub started_ns: Option<u64>,
    /// When it finished.
    #[serde(default)]
    pub finished_ns: Option<u64>,
    /// The index of the worker that ran it.
    #[serde(default)]
    pub worker: Option<u32>,
    /// The error's type name, if failed.
    #[serde(default)]
    pub error_type: Option<String>,
    /// The error's message, if failed.
    #[serde(default)]
    pub error_message: Option<String>,
    /// The address of the cluster worker that ran it (a task of hpyx's
    /// cluster mode); absent, and not written, for a node of the local pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_address: Option<String>,
}

/// One edge of a [`GraphExport`]: `to` depends on `from`.
///
/// # Example
///
/// ```
/// let edge: hpyx_viz::EdgeExport = serde_json::from_str(r#"{"from": 1, "to": 2}"#).unwrap();
/// assert_eq!((edge.from, edge.to), (1, 2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EdgeExport {
    /// The input's id.
    pub from: u64,
    /// The dependent's id.
    pub to: u64,
}

impl From<&NodeInfo> for NodeExport {
    fn from(info: &NodeInfo) -> Self {
        NodeExport {
            id: info.id.0,
            name: info.name.clone(),
            state: info.state,
            created_ns: info.created_ns,
            started_ns: info.started_ns,
            finished_ns: info.finished_ns,
            worker: info.worker,
            error_type: info.error_type.clone(),
            error_message: info.error_message.clone(),
            worker_address: None,
        }
    }
}

impl From<NodeExport> for NodeInfo {
    fn from(node: NodeExport) -> Self {
        NodeInfo {
            id: NodeId(node.id),
            name: node.name,
            state: node.state,
            created_ns: node.created_ns,
            started_ns: node.started_ns,
            finished_ns: node.finished_ns,
            worker: node.worker,
            error_type: node.error_type,
            error_message: node.error_message,
        }
    }
}

impl GraphExport {
    /// The export of `snapshot`, nodes sorted by id and edges by
    /// `(from, to)`.
    ///
    /// # Example
    ///
    /// ```
    /// let export = hpyx_viz::GraphExport::from_snapshot(&hpyx_graph::GraphSnapshot::default());
    /// assert!(export.nodes.is_empty() && export.edges.is_empty());
    /// ```
    pub fn from_snapshot(snapshot: &GraphSnapshot) -> GraphExport {
        let mut nodes: Vec<NodeExport> = snapshot.nodes().map(NodeExport::from).collect();
        nodes.sort_unstable_by_key(|n| n.id);
        let mut edges: Vec<EdgeExport> = snapshot
            .edges()
            .map(|(from, to)| EdgeExport {
                from: from.0,
                to: to.0,
            })
            .collect();
        edges.sort_unstable();
        GraphExport {
            schema: SCHEMA.to_owned(),
            nodes,
            edges,
        }
    }

    /// Back to a snapshot (through [`GraphSnapshot::from_parts`], so edges
    /// naming unknown ids are dropped).
    ///
    /// # Example
    ///
    /// ```
    /// let json = r#"{"schema": "hpyx.graph/1", "nodes": [{"id": 1, "name": "a", "state": "pending"}], "edges": []}"#;
    /// let snapshot = hpyx_viz::from_json(json).unwrap().into_snapshot();
    /// assert_eq!(snapshot.len(), 1);
    /// ```
    pub fn into_snapshot(self) -> GraphSnapshot {
        GraphSnapshot::from_parts(
            self.nodes.into_iter().map(NodeInfo::from).collect(),
            self.edges
                .into_iter()
                .map(|e| (NodeId(e.from), NodeId(e.to))),
        )
    }

    /// The JSON text: an object with `schema`, `nodes` and `edges`, one
    /// node or edge per line.
    ///
    /// # Example
    ///
    /// ```
    /// let json = hpyx_viz::GraphExport::from_snapshot(&Default::default()).to_json();
    /// assert_eq!(json, "{\n  \"schema\": \"hpyx.graph/1\",\n  \"nodes\": [],\n  \"edges\": []\n}\n");
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64 + self.nodes.len() * 200 + self.edges.len() * 24);
        out.push_str("{\n  \"schema\": ");
        out.push_str(&to_string(&self.schema));
        out.push_str(",\n");
        push_array(&mut out, "nodes", &self.nodes);
        out.push_str(",\n");
        push_array(&mut out, "edges", &self.edges);
        out.push_str("\n}\n");
        out
    }

    /// Reads an export, checking that `schema` is [`SCHEMA`]. Unknown fields
    /// are ignored, so later minor additions stay readable.
    ///
    /// # Example
    ///
    /// ```
    /// let err = hpyx_viz::GraphExport::from_json("{").unwrap_err();
    /// assert!(!err.is_unsupported_schema());
    /// ```
    pub fn from_json(text: &str) -> Result<GraphExport, JsonError> {
        let export: GraphExport = serde_json::from_str(text)?;
        if export.schema != SCHEMA {
            return Err(JsonError::schema(export.schema));
        }
        Ok(export)
    }
}

/// The JSON export of `snapshot` (see [`GraphExport::to_json`]).
///
/// # Example
///
/// ```
/// let json = hpyx_viz::to_json(&hpyx_graph::GraphSnapshot::default());
/// assert!(json.contains("\"schema\": \"hpyx.graph/1\""));
/// ```
pub fn to_json(snapshot: &GraphSnapshot) -> String {
    GraphExport::from_snapshot(snapshot).to_json()
}

/// Reads a JSON export (see [`GraphExport::from_json`]).
///
/// # Example
///
/// ```
/// use hpyx_graph::GraphSnapshot;
///
/// let export = hpyx_viz::from_json(&hpyx_viz::to_json(&GraphSnapshot::default())).unwrap();
/// assert!(export.nodes.is_empty());
/// ```
pub fn from_json(text: &str) -> Result<GraphExport, JsonError> {
    GraphExport::from_json(text)
}

/// One value as compact JSON. Our types serialize infallibly (string keys,
/// no non-finite floats).
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("export types always serialize")
}

/// `  "key": [` then one compact item per line, then `  ]`.
pub(crate) fn push_array<T: Serialize>(out: &mut String, key: &str, items: &[T]) {
    out.push_str("  ");
    out.push_str(&to_string(key));
    out.push_str(": [");
    for (i, item) in items.iter().enumerate() {
        out.push_str(if i == 0 { "\n    " } else { ",\n    " });
        out.push_str(&to_string(item));
    }
    if !items.is_empty() {
        out.push_str("\n  ");
    }
    out.push(']');
}
