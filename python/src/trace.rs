//! Task traces: one JSON line per finished task, written through the graph's
//! finish hook.
//!
//! Off by default, and then free: the hook is not set, so finishing a node
//! costs one relaxed load more. On, each finished task formats one line
//! (`hpyx_viz::TraceRecord`) into a buffered file behind a mutex.
//! `HPYX_TRACE_PATH` switches it on when the runtime starts; shutdown and
//! `disable_tracing()` flush it. The Python functions that switch it are in
//! `debug.rs`.
//!
//! A node of cluster mode is a promise in this process whose task runs on a
//! worker elsewhere. Its line joins two reports that arrive in either order:
//! the promise finishing here (the state) and the worker's report of the run
//! (start, end, worker address). Nodes that never ran on a worker (cancelled,
//! or an input failed) have no report: their lines are written, without an
//! address, when tracing stops.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hpyx_graph::{FinishHook, FinishedNode, NodeState, TaskGraph};
use hpyx_viz::TraceRecord;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

/// A run on a cluster worker: times on this process's graph clock.
struct Ran {
    start_ns: u64,
    end_ns: u64,
    address: String,
}

/// A cluster node whose line waits for its other half.
struct Remote {
    name: String,
    ran: Option<Ran>,
    /// How the promise finished, and when.
    finished: Option<(NodeState, u64)>,
}

/// The open trace file.
struct TraceSink {
    writer: Mutex<BufWriter<File>>,
    remote: Mutex<HashMap<u64, Remote>>,
    /// `remote.len()`, read without the lock: local-only traces skip it.
    remote_count: AtomicUsize,
}

impl TraceSink {
    fn hook(&self, node: &FinishedNode<'_>) {
        let Some(finished) = node.finished_ns else {
            return;
        };
        if self.remote_count.load(Ordering::Acquire) > 0 && self.finish_remote(node, finished) {
            return;
        }
        let start = node.started_ns.unwrap_or(finished);
        self.write(&TraceRecord {
            name: node.name.as_str().to_owned(),
            node_id: node.id.0,
            worker_thread_id: node.worker.map_or(-1, i64::from),
            start_ns: start,
            duration_ns: finished.saturating_sub(start),
            state: node.state,
            worker_address: None,
        });
    }

    /// True if `node` is a cluster node (its line is then written here or
    /// once its run is reported).
    fn finish_remote(&self, node: &FinishedNode<'_>, finished: u64) -> bool {
        let mut remote = self.lock_remote();
        let Some(entry) = remote.get_mut(&node.id.0) else {
            return false;
        };
        entry.finished = Some((node.state, finished));
        if entry.ran.is_some() {
            let entry = self.take(&mut remote, node.id.0);
            drop(remote);
            self.write_remote(node.id.0, entry);
        }
        true
    }

    fn expect(&self, id: u64, name: String) {
        let mut remote = self.lock_remote();
        let entry = Remote {
            name,
            ran: None,
            finished: None,
        };
        if remote.insert(id, entry).is_none() {
            self.remote_count.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn ran(&self, id: u64, ran: Ran) {
        let mut remote = self.lock_remote();
        let Some(entry) = remote.get_mut(&id) else {
            return;
        };
        entry.ran = Some(ran);
        if entry.finished.is_some() {
            let entry = self.take(&mut remote, id);
            drop(remote);
            self.write_remote(id, entry);
        }
    }

    /// Writes the lines of cluster nodes that finished without a run.
    fn finish_unreported(&self) {
        let mut remote = self.lock_remote();
        let mut left: Vec<(u64, Remote)> = remote
            .drain()
            .filter(|(_, entry)| entry.finished.is_some())
            .collect();
        self.remote_count.store(0, Ordering::Release);
        drop(remote);
        left.sort_unstable_by_key(|(id, _)| *id);
        for (id, entry) in left {
            self.write_remote(id, entry);
        }
    }

    fn take(&self, remote: &mut HashMap<u64, Remote>, id: u64) -> Remote {
        self.remote_count.fetch_sub(1, Ordering::AcqRel);
        remote.remove(&id).expect("the entry was just looked up")
    }

    fn write_remote(&self, id: u64, entry: Remote) {
        let Some((state, finished)) = entry.finished else {
            return;
        };
        let (start, end, address) = match entry.ran {
            Some(ran) => (ran.start_ns, ran.end_ns, Some(ran.address)),
            None => (finished, finished, None),
        };
        self.write(&TraceRecord {
            name: entry.name,
            node_id: id,
            worker_thread_id: -1,
            start_ns: start,
            duration_ns: end.saturating_sub(start),
            state,
            worker_address: address,
        });
    }

    fn write(&self, record: &TraceRecord) {
        let mut line = record.to_json_line();
        line.push('\n');
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(err) = writer.write_all(line.as_bytes()) {
            eprintln!("hpyx: writing the task trace failed: {err}");
        }
    }

    fn lock_remote(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Remote>> {
        self.remote.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn flush(&self) {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(err) = writer.flush() {
            eprintln!("hpyx: flushing the task trace failed: {err}");
        }
    }
}

static SINK: Mutex<Option<Arc<TraceSink>>> = Mutex::new(None);

fn lock_sink() -> std::sync::MutexGuard<'static, Option<Arc<TraceSink>>> {
    SINK.lock().unwrap_or_else(|e| e.into_inner())
}

fn current() -> Option<Arc<TraceSink>> {
    lock_sink().clone()
}

/// Starts writing to `path` (truncating it), replacing any current trace.
pub(crate) fn enable(graph: TaskGraph, path: PathBuf) -> PyResult<()> {
    let file = File::create(&path).map_err(|e| {
        PyOSError::new_err(format!("cannot open trace file {}: {e}", path.display()))
    })?;
    let sink = Arc::new(TraceSink {
        writer: Mutex::new(BufWriter::with_capacity(1 << 16, file)),
        remote: Mutex::new(HashMap::new()),
        remote_count: AtomicUsize::new(0),
    });
    let for_hook = Arc::clone(&sink);
    let hook: FinishHook = Arc::new(move |node: &FinishedNode<'_>| for_hook.hook(node));
    let previous = lock_sink().replace(sink);
    graph.set_finish_hook(Some(hook));
    if let Some(previous) = previous {
        previous.finish_unreported();
        previous.flush();
    }
    Ok(())
}

/// Stops tracing and flushes the file.
pub(crate) fn disable(graph: Option<TaskGraph>) {
    if let Some(graph) = graph {
        graph.set_finish_hook(None);
    }
    if let Some(sink) = lock_sink().take() {
        sink.finish_unreported();
        sink.flush();
    }
}

/// True while tracing is on.
pub(crate) fn is_on() -> bool {
    lock_sink().is_some()
}

/// Node `id` is a cluster node named `name`: its line waits for its run's
/// report. False if tracing is off.
pub(crate) fn expect_remote(id: u64, name: String) -> bool {
    match current() {
        Some(sink) => {
            sink.expect(id, name);
            true
        }
        None => false,
    }
}

/// Cluster node `id` ran on the worker at `address` from `start_ns` to
/// `end_ns` (this process's graph clock). Ignored for a node not expected.
pub(crate) fn remote_ran(id: u64, start_ns: u64, end_ns: u64, address: String) {
    if let Some(sink) = current() {
        sink.ran(
            id,
            Ran {
                start_ns,
                end_ns,
                address,
            },
        );
    }
}
