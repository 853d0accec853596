//! One JSON line per finished task: the record behind
//! `hpyx.debug.enable_tracing(path)`.
//!
//! The Python layer owns the switch and the file; this crate owns the shape
//! of a line, so readers and writers agree.

use hpyx_graph::{NodeInfo, NodeState};
use serde::{Deserialize, Serialize};

use crate::error::JsonError;

/// The trace line of one finished task:
///
/// ```json
/// {"name":"load","node_id":42,"worker_thread_id":0,"start_ns":1000,"duration_ns":2500,"state":"succeeded"}
/// ```
///
/// `worker_thread_id` is the pool's worker index, `-1` if the task ran
/// outside the pool; `start_ns` counts from the graph's epoch; `state` is
/// `"succeeded"`, `"failed"` or `"cancelled"`.
///
/// # Example
///
/// ```
/// use hpyx_graph::NodeState;
/// use hpyx_viz::TraceRecord;
///
/// let record = TraceRecord {
///     name: "load".into(), node_id: 42, worker_thread_id: 0,
///     start_ns: 1_000, duration_ns: 2_500, state: NodeState::Succeeded,
///     worker_address: None,
/// };
/// let line = record.to_json_line();
/// assert_eq!(
///     line,
///     r#"{"name":"load","node_id":42,"worker_thread_id":0,"start_ns":1000,"duration_ns":2500,"state":"succeeded"}"#
/// );
/// assert_eq!(TraceRecord::from_json_line(&line).unwrap(), record);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// The node's readable name.
    pub name: String,
    /// The node's id.
    pub node_id: u64,
    /// The worker's index, `-1` outside the pool.
    pub worker_thread_id: i64,
    /// When the task started, in nanoseconds since the graph's epoch.
    pub start_ns: u64,
    /// How long it ran.
    pub duration_ns: u64,
    /// How it finished.
    #[serde(with = "crate::state_serde")]
    pub state: NodeState,
    /// The address of the cluster worker that ran it (a task of hpyx's
    /// cluster mode); absent for a task of the local pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_address: Option<String>,
}

impl TraceRecord {
    /// The record of a finished node, or `None` if the node has not finished
    /// or its finish time was not measured. A node cancelled before it
    /// started gets `start_ns` = its finish time and `duration_ns` 0.
    ///
    /// # Example
    ///
    /// ```
    /// use hpyx_graph::{NodeId, NodeInfo, NodeState};
    /// use hpyx_viz::TraceRecord;
    ///
    /// let info = NodeInfo {
    ///     id: NodeId(3), name: "parse".into(), state: NodeState::Failed,
    ///     created_ns: Some(0), started_ns: Some(10), finished_ns: Some(25), worker: None,
    ///     error_type: Some("ValueError".into()), error_message: Some("bad".into()),
    /// };
    /// let record = TraceRecord::from_node(&info).unwrap();
    /// assert_eq!((record.worker_thread_id, record.start_ns, record.duration_ns), (-1, 10, 15));
    /// ```
    pub fn from_node(info: &NodeInfo) -> Option<TraceRecord> {
        if !info.state.is_finished() {
            return None;
        }
        let end = info.finished_ns?;
        let start = info.started_ns.unwrap_or(end);
        Some(TraceRecord {
            name: info.name.clone(),
            node_id: info.id.0,
            worker_thread_id: info.worker.map_or(-1, i64::from),
            start_ns: start,
            duration_ns: end.saturating_sub(start),
            state: info.state,
            worker_address: None,
        })
    }

    /// The compact JSON object, without a line break (the writer adds `\n`).
    /// Fields come in the order of the struct.
    ///
    /// # Example
    ///
    /// ```
    /// # use hpyx_viz::TraceRecord;
    /// let record = TraceRecord {
    ///     name: "a\nb".into(), node_id: 1, worker_thread_id: -1,
    ///     start_ns: 0, duration_ns: 0, state: hpyx_graph::NodeState::Cancelled,
    ///     worker_address: Some("tcp://127.0.0.1:4100".into()),
    /// };
    /// assert!(!record.to_json_line().contains('\n'));
    /// ```
    pub fn to_json_line(&self) -> String {
        crate::json::to_string(self)
    }

    /// Reads one line (surrounding whitespace allowed; unknown fields are
    /// ignored).
    ///
    /// # Example
    ///
    /// ```
    /// # use hpyx_viz::TraceRecord;
    /// assert!(TraceRecord::from_json_line(r#"{"name": "x"}"#).is_err());
    /// ```
    pub fn from_json_line(line: &str) -> Result<TraceRecord, JsonError> {
        Ok(serde_json::from_str(line)?)
    }
}
