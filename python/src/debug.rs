//! Debugging from Python: recordings, ancestry snapshots, and their export
//! (DOT, JSON, Chrome trace, rendered pictures) through `hpyx-viz`; task
//! traces switched on and off (`trace.rs` writes them).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use hpyx_graph::{GraphSnapshot, NodeId, NodeInfo, NodeRef, Recording};
use hpyx_viz::{Collapse, DotOptions, Format, GraphExport};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::node::{self, PyNode, PyValue};
use crate::runtime::runtime;
use crate::trace;

/// Every node created while a recording is active, kept for export.
#[pyclass(frozen, module = "hpyx._core", name = "Recording")]
struct PyRecording {
    recording: Recording,
}

#[pymethods]
impl PyRecording {
    /// Stops recording; the nodes recorded so far are kept.
    fn stop(&self) {
        self.recording.stop();
    }

    #[getter]
    fn active(&self) -> bool {
        self.recording.is_active()
    }

    fn __len__(&self) -> usize {
        self.recording.len()
    }

    /// A consistent snapshot of the recorded nodes and their edges.
    fn snapshot(&self, py: Python<'_>) -> PySnapshot {
        PySnapshot::local(py.detach(|| self.recording.snapshot()))
    }
}

/// A consistent picture of part of the graph.
#[pyclass(frozen, module = "hpyx._core", name = "Snapshot")]
struct PySnapshot {
    snapshot: GraphSnapshot,
    /// The cluster worker that ran each cluster node, by node id.
    addresses: BTreeMap<u64, String>,
}

impl PySnapshot {
    fn local(snapshot: GraphSnapshot) -> PySnapshot {
        PySnapshot {
            snapshot,
            addresses: BTreeMap::new(),
        }
    }
}

/// What cluster mode knows of one of its nodes: (id, task key, start, end,
/// worker address), times on the graph's clock.
type ClusterNode = (u64, String, Option<u64>, Option<u64>, Option<String>);

fn dot_options(
    collapse: bool,
    title: Option<String>,
    addresses: &BTreeMap<u64, String>,
) -> DotOptions {
    DotOptions {
        worker_addresses: addresses.clone(),
        collapse: if collapse {
            Collapse::ByName
        } else {
            Collapse::None
        },
        title,
    }
}

#[pymethods]
impl PySnapshot {
    fn __len__(&self) -> usize {
        self.snapshot.len()
    }

    /// The nodes as dicts (id, name, state, times, worker, error).
    fn nodes<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.snapshot
            .nodes()
            .map(|n| {
                let d = PyDict::new(py);
                d.set_item("id", n.id.0)?;
                d.set_item("name", &n.name)?;
                d.set_item("state", n.state.as_str())?;
                d.set_item("created_ns", n.created_ns)?;
                d.set_item("started_ns", n.started_ns)?;
                d.set_item("finished_ns", n.finished_ns)?;
                d.set_item("worker", n.worker)?;
                d.set_item("error_type", &n.error_type)?;
                d.set_item("error_message", &n.error_message)?;
                d.set_item("worker_address", self.addresses.get(&n.id.0))?;
                Ok(d)
            })
            .collect()
    }

    /// The edges as (input id, dependent id).
    fn edges(&self) -> Vec<(u64, u64)> {
        self.snapshot.edges().map(|(a, b)| (a.0, b.0)).collect()
    }

    #[pyo3(signature = (collapse=false, title=None))]
    fn to_dot(&self, py: Python<'_>, collapse: bool, title: Option<String>) -> String {
        py.detach(|| {
            hpyx_viz::to_dot(
                &self.snapshot,
                &dot_options(collapse, title, &self.addresses),
            )
        })
    }

    fn to_json(&self, py: Python<'_>) -> String {
        py.detach(|| {
            let mut export = GraphExport::from_snapshot(&self.snapshot);
            if !self.addresses.is_empty() {
                for node in &mut export.nodes {
                    node.worker_address = self.addresses.get(&node.id).cloned();
                }
            }
            export.to_json()
        })
    }

    /// This snapshot with cluster nodes completed: each named by its task
    /// key, with its run's times and worker address where reported, plus
    /// the `edges` (input id, dependent id) the cluster resolved. Entries
    /// for nodes absent from the snapshot are ignored.
    fn with_cluster_nodes(
        &self,
        py: Python<'_>,
        nodes: Vec<ClusterNode>,
        edges: Vec<(u64, u64)>,
    ) -> PySnapshot {
        py.detach(|| {
            let mut addresses = self.addresses.clone();
            let mut known: HashMap<u64, ClusterNode> = HashMap::with_capacity(nodes.len());
            for node in nodes {
                known.insert(node.0, node);
            }
            let infos: Vec<NodeInfo> = self
                .snapshot
                .nodes()
                .map(|info| {
                    let mut info = info.clone();
                    if let Some((id, key, start, end, address)) = known.remove(&info.id.0) {
                        info.name = key;
                        if let (Some(start), Some(end)) = (start, end) {
                            info.started_ns = Some(start);
                            info.finished_ns = Some(end.max(start));
                        }
                        if let Some(address) = address {
                            addresses.insert(id, address);
                        }
                    }
                    info
                })
                .collect();
            let all_edges = self
                .snapshot
                .edges()
                .chain(edges.into_iter().map(|(a, b)| (NodeId(a), NodeId(b))))
                .collect::<BTreeSet<_>>();
            PySnapshot {
                snapshot: GraphSnapshot::from_parts(infos, all_edges),
                addresses,
            }
        })
    }

    fn to_chrome_trace(&self, py: Python<'_>) -> String {
        py.detach(|| hpyx_viz::to_chrome_trace_with(&self.snapshot, &self.addresses))
    }

    /// Renders with Graphviz's `dot` to "svg" or "png" bytes.
    #[pyo3(signature = (format, collapse=false, title=None))]
    fn render<'py>(
        &self,
        py: Python<'py>,
        format: &str,
        collapse: bool,
        title: Option<String>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let format = match format.to_ascii_lowercase().as_str() {
            "svg" => Format::Svg,
            "png" => Format::Png,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unsupported picture format {other:?}; use \"svg\" or \"png\""
                )))
            }
        };
        let bytes = py.detach(|| {
            let dot = hpyx_viz::to_dot(
                &self.snapshot,
                &dot_options(collapse, title, &self.addresses),
            );
            hpyx_viz::render(&dot, format)
        });
        match bytes {
            Ok(bytes) => Ok(PyBytes::new(py, &bytes)),
            Err(e) if e.is_not_found() => Err(pyo3::exceptions::PyFileNotFoundError::new_err(
                e.to_string(),
            )),
            Err(e) => Err(PyRuntimeError::new_err(e.to_string())),
        }
    }
}

/// Starts a recording of every node created from now on.
#[pyfunction]
fn record() -> PyResult<PyRecording> {
    Ok(PyRecording {
        recording: runtime()?.graph.record(),
    })
}

/// A snapshot of `nodes` and everything they still depend on.
#[pyfunction]
fn snapshot_of(py: Python<'_>, nodes: Vec<PyRef<'_, PyNode>>) -> PyResult<PySnapshot> {
    let graph = runtime()?.graph;
    let roots: Vec<NodeRef> = nodes.iter().map(|n| n.future.node()).collect();
    Ok(PySnapshot::local(py.detach(|| graph.snapshot_of(roots))))
}

/// Counts finished nodes among a fixed set, cheaply enough to poll ten
/// times a second over a million nodes: a prefix of finished ones is skipped
/// on later calls.
#[pyclass(module = "hpyx._core", name = "DoneCounter")]
struct DoneCounter {
    nodes: Vec<hpyx_graph::Future<PyValue>>,
    prefix_done: usize,
}

#[pymethods]
impl DoneCounter {
    #[new]
    fn new(nodes: Vec<PyRef<'_, PyNode>>) -> DoneCounter {
        DoneCounter {
            nodes: nodes.iter().map(|n| n.future.clone()).collect(),
            prefix_done: 0,
        }
    }

    fn __len__(&self) -> usize {
        self.nodes.len()
    }

    /// The number of finished nodes.
    fn count(&mut self) -> usize {
        while self.prefix_done < self.nodes.len() && self.nodes[self.prefix_done].is_finished() {
            self.prefix_done += 1;
        }
        self.prefix_done
            + self.nodes[self.prefix_done..]
                .iter()
                .filter(|n| n.is_finished())
                .count()
    }

    /// Waits up to `timeout` seconds for the first unfinished node; True if
    /// every node is finished.
    fn wait_next(&mut self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        self.count();
        let Some(next) = self.nodes.get(self.prefix_done) else {
            return Ok(true);
        };
        // The next node finished or the time is up: either way, recount.
        node::wait(py, next, node::deadline(Some(timeout))?)?;
        Ok(self.count() == self.nodes.len())
    }
}

/// `hpyx.debug.enable_tracing(path)`: one JSON line per finished task.
#[pyfunction]
fn enable_tracing(path: PathBuf) -> PyResult<()> {
    trace::enable(runtime()?.graph, path)
}

/// `hpyx.debug.disable_tracing()`: stops tracing and flushes the file.
#[pyfunction]
fn disable_tracing() {
    trace::disable(crate::runtime::running_graph());
}

/// True while tracing is on.
#[pyfunction]
fn is_tracing() -> bool {
    trace::is_on()
}

/// Now on the graph's clock (the times of snapshots and traces), in ns.
#[pyfunction]
fn clock_ns() -> PyResult<u64> {
    Ok(runtime()?.graph.now_ns())
}

/// Cluster node `node_id` (task `key`) is traced once its run is reported
/// (`_trace_cluster_run`). False if tracing is off.
#[pyfunction]
fn _trace_cluster_node(node_id: u64, key: String) -> bool {
    trace::expect_remote(node_id, key)
}

/// Cluster node `node_id` ran on the worker at `worker_address` from
/// `start_ns` to `end_ns` (graph clock).
#[pyfunction]
fn _trace_cluster_run(node_id: u64, start_ns: u64, end_ns: u64, worker_address: String) {
    trace::remote_ran(node_id, start_ns, end_ns, worker_address);
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRecording>()?;
    m.add_class::<PySnapshot>()?;
    m.add_function(wrap_pyfunction!(record, m)?)?;
    m.add_function(wrap_pyfunction!(snapshot_of, m)?)?;
    m.add_class::<DoneCounter>()?;
    m.add_function(wrap_pyfunction!(enable_tracing, m)?)?;
    m.add_function(wrap_pyfunction!(disable_tracing, m)?)?;
    m.add_function(wrap_pyfunction!(is_tracing, m)?)?;
    m.add_function(wrap_pyfunction!(clock_ns, m)?)?;
    m.add_function(wrap_pyfunction!(_trace_cluster_node, m)?)?;
    m.add_function(wrap_pyfunction!(_trace_cluster_run, m)?)?;
    Ok(())
}
