//! Task traces: one JSON line per finished task, written through the graph's
//! finish hook.
//!
//! Off by default, and then free: the hook is not set, so finishing a node
//! costs one relaxed load more. On, each finished task formats one line
//! (`hpyx_viz::TraceRecord`) into a buffered file behind a mutex.
//! `HPYX_TRACE_PATH` switches it on when the runtime starts; shutdown and
//! `disable_tracing()` flush it. The Python functions that switch it are in
//! `debug.rs`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use hpyx_graph::{FinishHook, FinishedNode, TaskGraph};
use hpyx_viz::TraceRecord;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

/// The open trace file.
struct TraceSink {
    writer: Mutex<BufWriter<File>>,
}

impl TraceSink {
    fn write(&self, node: &FinishedNode<'_>) {
        let Some(finished) = node.finished_ns else {
            return;
        };
        let start = node.started_ns.unwrap_or(finished);
        let record = TraceRecord {
            name: node.name.as_str().to_owned(),
            node_id: node.id.0,
            worker_thread_id: node.worker.map_or(-1, i64::from),
            start_ns: start,
            duration_ns: finished.saturating_sub(start),
            state: node.state,
        };
        let mut line = record.to_json_line();
        line.push('\n');
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(err) = writer.write_all(line.as_bytes()) {
            eprintln!("hpyx: writing the task trace failed: {err}");
        }
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

/// Starts writing to `path` (truncating it), replacing any current trace.
pub(crate) fn enable(graph: TaskGraph, path: PathBuf) -> PyResult<()> {
    let file = File::create(&path).map_err(|e| {
        PyOSError::new_err(format!("cannot open trace file {}: {e}", path.display()))
    })?;
    let sink = Arc::new(TraceSink {
        writer: Mutex::new(BufWriter::with_capacity(1 << 16, file)),
    });
    let for_hook = Arc::clone(&sink);
    let hook: FinishHook = Arc::new(move |node: &FinishedNode<'_>| for_hook.write(node));
    let previous = lock_sink().replace(sink);
    graph.set_finish_hook(Some(hook));
    if let Some(previous) = previous {
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
        sink.flush();
    }
}

/// True while tracing is on.
pub(crate) fn is_on() -> bool {
    lock_sink().is_some()
}
