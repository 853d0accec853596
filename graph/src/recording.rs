//! Recording: keep every node created in a region, for export.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::drop_queue::drop_iteratively;
use crate::graph::GraphShared;
use crate::node::GraphNode;
use crate::snapshot::GraphSnapshot;

pub(crate) struct RecordBuf {
    nodes: Mutex<Vec<Arc<dyn GraphNode>>>,
}

impl RecordBuf {
    pub(crate) fn push(&self, node: Arc<dyn GraphNode>) {
        self.nodes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(node);
    }
}

impl Drop for RecordBuf {
    fn drop(&mut self) {
        let nodes = std::mem::take(self.nodes.get_mut().unwrap_or_else(|e| e.into_inner()));
        drop_iteratively(nodes);
    }
}

/// Every node created between [`TaskGraph::record`](crate::TaskGraph::record)
/// and [`Recording::stop`], kept with its inputs and timings until the
/// recording is dropped.
///
/// ```
/// # use hpyx_engine::{Config, ThreadPool};
/// # use hpyx_graph::TaskGraph;
/// # let graph = TaskGraph::new(ThreadPool::new(Config::new().num_workers(1)).unwrap());
/// let recording = graph.record();
/// let a = graph.spawn("a", || Ok(1));
/// let b = a.then("b", |x: &i32| Ok(x + 1));
/// b.get().unwrap();
/// recording.stop();
/// let snapshot = recording.snapshot();
/// assert_eq!(snapshot.len(), 2);
/// assert_eq!(snapshot.edges().count(), 1);
/// ```
pub struct Recording {
    buf: Arc<RecordBuf>,
    shared: &'static GraphShared,
    active: AtomicBool,
}

impl Recording {
    pub(crate) fn start(shared: &'static GraphShared) -> Recording {
        let buf = Arc::new(RecordBuf {
            nodes: Mutex::new(Vec::new()),
        });
        shared.start_recording(Arc::clone(&buf));
        Recording {
            buf,
            shared,
            active: AtomicBool::new(true),
        }
    }

    /// Stops adding nodes; those recorded stay until the recording is dropped.
    pub fn stop(&self) {
        if self.active.swap(false, Ordering::AcqRel) {
            self.shared.stop_recording(&self.buf);
        }
    }

    /// True until [`Recording::stop`].
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// The number of nodes recorded so far.
    pub fn len(&self) -> usize {
        self.buf
            .nodes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// True if no node was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A consistent snapshot of the recorded nodes and the edges among them.
    pub fn snapshot(&self) -> GraphSnapshot {
        let nodes = self
            .buf
            .nodes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        GraphSnapshot::of_nodes(nodes)
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.stop();
    }
}
