//! # hpyx._core: the PyO3 glue
//!
//! Thin by design: behaviour lives in `hpyx-engine` and `hpyx-graph`; this
//! crate converts between Python objects and the graph's payloads, keeps one
//! Python thread state per worker for the worker's whole life, detaches from
//! the interpreter for every blocking wait (checking for signals while it
//! waits), and maps errors to the stdlib's exception classes. The Python
//! package `hpyx` (beside this crate) builds the `concurrent.futures` API on
//! top.
//!
//! - `dask_graph/`: dask graphs built as graph nodes in one call
//!   (`hpyx.dask.get`).
//! - `allocator.rs`: the global allocator (mimalloc, each allocation kept
//!   in its own size class).
//! - `runtime.rs`: the process's pool and graph: init, auto-init, shutdown,
//!   fork detection, worker thread states.
//! - `node.rs`: `Node`, the Python handle on a graph node (state, waiting,
//!   result, callbacks, cancel, `then`).
//! - `tasks.rs`: the combinators that create nodes (`spawn`, `dataflow`,
//!   `when_all`, `when_any`, `ready`, `promise`).
//! - `future_base.rs`: `FutureBase`, the Rust half of every `hpyx.Future`
//!   (its node inside the Python object), and how hpyx makes one.
//! - `future_types.rs`: the future types the combinators recognise
//!   (registered once by the package).
//! - `debug.rs`: recordings, snapshots and their export (DOT, JSON, traces).
//! - `errors.rs`: Python exceptions <-> `TaskError`.
//! - `trace.rs`: task traces (JSON lines) through the graph's finish hook.
//! - `tracked_futures.rs`: an executor's list of the futures it must wait
//!   for or cancel at shutdown, in chunks.

mod allocator;
mod dask_graph;
mod debug;
mod errors;
mod fault;
mod future_base;
mod future_types;
mod memory;
mod node;
mod runtime;
mod tasks;
mod trace;
mod tracked_futures;

use pyo3::prelude::*;

/// Nodes are allocated on one thread and freed on another (a worker, or the
/// thread that drops the last future); mimalloc handles that with per-page
/// free lists, where glibc's per-thread arenas fragment (the process's RSS
/// kept growing from one million-task round to the next), and it is several
/// times cheaper per allocation. Through `allocator.rs`, not the `mimalloc`
/// crate's `MiMalloc`, which wasted up to a size class per allocation.
#[global_allocator]
static ALLOCATOR: allocator::Allocator = allocator::Allocator;

/// hpyx._core: the Rust core of hpyx.
#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("InternalError", m.py().get_type::<errors::InternalError>())?;
    runtime::register(m)?;
    node::register(m)?;
    tasks::register(m)?;
    future_types::register(m)?;
    future_base::register(m)?;
    debug::register(m)?;
    trace::register(m)?;
    memory::register(m)?;
    fault::register(m)?;
    dask_graph::register(m)?;
    Ok(())
}
