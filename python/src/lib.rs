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
//! The files, each using only those listed before it:
//!
//! - `allocator.rs`: the global allocator (mimalloc, each allocation kept
//!   in its own size class); `memory.rs`: its counters, for tests.
//! - `errors.rs`: Python exceptions <-> `TaskError`.
//! - `fault.rs`: test-only panics at chosen points of the glue.
//! - `tracked_futures.rs`: an executor's list of the futures it must wait
//!   for or cancel at shutdown, in chunks.
//! - `trace.rs`: task traces (JSON lines) through the graph's finish hook.
//! - `ownership.rs`: on the free-threaded build, a task's result handed
//!   over by the worker that made it, and a worker's merge queue emptied
//!   when it goes idle, so values other threads release are freed at once.
//! - `thread_state/`: the worker thread-state protocol: one Python thread
//!   state per worker, sticky attach, detached waits, parking at
//!   finalization (its `README.md` explains it).
//! - `runtime.rs`: the process's pool and graph: init, auto-init, `cfg`,
//!   shutdown, fork detection.
//! - `node.rs`: `Node`, the Python handle on a graph node (state, waiting,
//!   result, callbacks, cancel), `Promise`, and the one timeout parser.
//! - `naming.rs`: task names (`hpyx.named`, `__qualname__`), interned.
//! - `task.rs`: a task's Python part: calling its function on a worker.
//! - `future/make.rs`: `FutureBase`, the Rust half of every `hpyx.Future`:
//!   its layout, making one around a node (`wrap`), the cycle collector's
//!   view of it (`track`), and the future types the package registers.
//! - `combinators.rs`: `then`, `dataflow`, `when_all`, `when_any`, `ready`,
//!   `promise`.
//! - `map_results.rs`: `MapResults`, the iterator `executor.map` returns
//!   (the stdlib generator's `close`, `send`, `throw`).
//! - `executor.rs`: `ExecutorCore` (`HPXExecutor.submit` and `map`,
//!   `hpyx.async_`, shutdown tracking).
//! - `future/mod.rs`: `FutureBase`'s methods as Python calls them;
//!   `Future.then` is `combinators::then`.
//! - `debug.rs`: recordings, snapshots and their export (DOT, JSON,
//!   traces).
//! - `dask_graph/`: dask graphs built as graph nodes in one call
//!   (`hpyx.dask.get`).

mod allocator;
mod combinators;
mod dask_graph;
mod debug;
mod errors;
mod executor;
mod fault;
mod future;
mod map_results;
mod memory;
mod naming;
mod node;
mod ownership;
mod runtime;
mod task;
mod thread_state;
mod trace;
mod tracked_futures;

use pyo3::prelude::*;

/// Nodes are allocated on one thread and freed on another (a worker, or the
/// thread that drops the last future); mimalloc handles that with per-page
/// free lists, where glibc's per-thread arenas fragment (the process's RSS
/// grows from one million-task round to the next), and it is several times
/// cheaper per allocation. Through `allocator.rs`, not the `mimalloc` crate's
/// `MiMalloc`, which can waste a size class per allocation.
#[global_allocator]
static ALLOCATOR: allocator::Allocator = allocator::Allocator;

/// hpyx._core: the Rust core of hpyx.
#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("InternalError", m.py().get_type::<errors::InternalError>())?;
    runtime::register(m)?;
    node::register(m)?;
    naming::register(m)?;
    future::register(m)?;
    combinators::register(m)?;
    executor::register(m)?;
    map_results::register(m)?;
    debug::register(m)?;
    memory::register(m)?;
    fault::register(m)?;
    dask_graph::register(m)?;
    Ok(())
}
