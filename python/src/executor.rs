//! `ExecutorCore`, the Rust half of `hpyx.HPXExecutor` (and of
//! `hpyx.async_`): `submit` and `map` in one call each, and the futures an
//! executor tracks for its shutdown. `map`'s iterator is `map_results.rs`.

use std::collections::VecDeque;
use std::sync::Mutex;

use hpyx_graph::{Future, Inputs, NodeName, TaskError, TaskGraph, WeakFuture};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::future::make::wrap;
use crate::map_results::MapResults;
use crate::naming::resolve;
use crate::node::{self, PyNode, PyValue};
use crate::runtime::runtime;
use crate::task::{keyword_task_body, spawn_node, task_body};
use crate::tracked_futures::TrackedFutures;

/// The stdlib's `Executor.submit` docstring, as this interpreter compiles it
/// (CPython 3.13 strips docstring indentation at compile time).
#[cfg(Py_3_13)]
macro_rules! stdlib_submit_doc {
    () => {
        "Submits a callable to be executed with the given arguments.\n\nSchedules the callable to be executed as fn(*args, **kwargs) and returns\na Future instance representing the execution of the callable.\n\nReturns:\n    A Future representing the given call.\n"
    };
}
#[cfg(not(Py_3_13))]
macro_rules! stdlib_submit_doc {
    () => {
        "Submits a callable to be executed with the given arguments.\n\n        Schedules the callable to be executed as fn(*args, **kwargs) and returns\n        a Future instance representing the execution of the callable.\n\n        Returns:\n            A Future representing the given call.\n        "
    };
}

/// The Rust half of `hpyx.HPXExecutor`: its closed flag and the futures it
/// still tracks (for `shutdown(wait=True)` and `cancel_futures`), under one
/// mutex, and `submit` in one call: no Python-level lock or bookkeeping per
/// task. Tracked weakly: the pool holds a node while it is pending or
/// running, and a finished one's value is freed as soon as the caller drops
/// it, as with the stdlib's executor. Finished futures are forgotten
/// whenever the list doubles, so a long-lived executor does not grow.
#[pyclass(frozen, module = "hpyx._core", name = "ExecutorCore")]
struct ExecutorCore {
    /// False for `hpyx.async_`, which needs no shutdown bookkeeping.
    track: bool,
    tracked: Mutex<Tracked>,
}

struct Tracked {
    closed: bool,
    nodes: TrackedFutures<WeakFuture<PyValue>>,
    prune_at: usize,
}

const MIN_PRUNE_AT: usize = 1024;

#[pymethods]
impl ExecutorCore {
    #[new]
    #[pyo3(signature = (track=true))]
    fn new(track: bool) -> ExecutorCore {
        ExecutorCore {
            track,
            tracked: Mutex::new(Tracked {
                closed: false,
                nodes: TrackedFutures::new(),
                prune_at: MIN_PRUNE_AT,
            }),
        }
    }

    // `HPXExecutor.submit`, bound to each executor (no Python frame per
    // call), with the stdlib's docstring.
    #[doc = stdlib_submit_doc!()]
    #[pyo3(signature = (r#fn, /, *args, **kwargs), text_signature = "($self, fn, /, *args, **kwargs)")]
    fn submit<'py>(
        &self,
        py: Python<'py>,
        r#fn: PyValue,
        args: Py<PyTuple>,
        kwargs: Option<Py<PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.submit_args(py, r#fn, args, kwargs)
    }

    // `hpyx.async_` (bound to the untracked spawner), with its docstring.
    #[doc = "Runs ``fn(*args, **kwargs)`` on the worker pool.\n\nArgs:\n    fn: The callable to run.\n    *args: Positional arguments for ``fn``.\n    **kwargs: Keyword arguments for ``fn``.\n\nReturns:\n    A Future for the result.\n"]
    #[pyo3(signature = (r#fn, /, *args, **kwargs), text_signature = "($self, fn, /, *args, **kwargs)")]
    fn async_<'py>(
        &self,
        py: Python<'py>,
        r#fn: PyValue,
        args: Py<PyTuple>,
        kwargs: Option<Py<PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.submit_args(py, r#fn, args, kwargs)
    }

    /// `executor.map(fn, *iterables, timeout=)`: schedules `func(*args)` for
    /// every tuple of `arg_tuples` (`zip(*iterables)`) now, and returns an
    /// iterator over the results in order. No `hpyx.Future` is made per item.
    #[pyo3(signature = (func, arg_tuples, timeout=None))]
    fn map(
        &self,
        py: Python<'_>,
        func: PyValue,
        arg_tuples: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<MapResults> {
        // As the stdlib: the deadline counts from the call.
        let deadline = node::deadline(timeout)?;
        let graph = runtime_unless_closed(self)?;
        let (func, name) = resolve(py, func)?;
        let mut nodes = VecDeque::new();
        let scheduled = arg_tuples.try_iter()?.try_for_each(|args| {
            let args = args?.cast_into::<PyTuple>()?.unbind();
            let body = task_body(func.clone_ref(py), args);
            nodes.push_back(self.spawn_tracked(&graph, body, name.clone())?);
            Ok::<_, PyErr>(())
        });
        // On an error (a raising iterable, shutdown) the items scheduled so
        // far still run, as with the stdlib's list of submits.
        scheduled?;
        Ok(MapResults::new(nodes, deadline))
    }

    /// Closes the executor and hands back the futures it tracked.
    fn close(&self) -> Vec<PyNode> {
        let mut tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        tracked.closed = true;
        // The futures still alive: pending or running, or held elsewhere.
        tracked
            .nodes
            .take_all()
            .filter_map(|node| node.upgrade())
            .map(PyNode::new)
            .collect()
    }

    /// How many futures are tracked (for tests).
    fn __len__(&self) -> usize {
        self.tracked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .nodes
            .len()
    }
}

impl ExecutorCore {
    /// Schedules `func(*args, **kwargs)` and returns its `hpyx.Future`.
    fn submit_args<'py>(
        &self,
        py: Python<'py>,
        func: PyValue,
        args: Py<PyTuple>,
        kwargs: Option<Py<PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let graph = runtime_unless_closed(self)?;
        // Resolve the name before locking: it may run Python
        // (`__qualname__`), which must not happen under the lock.
        let (func, name) = resolve(py, func)?;
        let future = match kwargs {
            None => self.spawn_tracked(&graph, task_body(func, args), name)?,
            Some(kwargs) => {
                self.spawn_tracked(&graph, keyword_task_body(func, args, kwargs), name)?
            }
        };
        wrap(py, future)
    }

    /// Adds a task node and tracks it (tracking executors) or just adds it.
    fn spawn_tracked(
        &self,
        graph: &TaskGraph,
        body: impl FnOnce(&Inputs<'_>) -> Result<PyValue, TaskError> + Send + 'static,
        name: NodeName,
    ) -> PyResult<Future<PyValue>> {
        if !self.track {
            return Ok(spawn_node(graph, name, body));
        }
        // The nodes a prune looks at, dropped after unlocking: one of them
        // may hold the last reference to a task's result (its task has just
        // finished, its future is dropped), whose `__del__` may run any
        // Python, even `submit` on this executor (a deadlock under the
        // lock), or be held at a stop-the-world pause while other
        // submitters wait.
        let mut looked_at = Vec::new();
        let future = {
            let mut tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
            if tracked.closed {
                return Err(shut_down_error());
            }
            let future = spawn_node(graph, name, body);
            tracked.nodes.push(future.downgrade());
            if tracked.nodes.len() >= tracked.prune_at {
                // Forgets the finished and the gone.
                tracked.nodes.take_finished(|node| match node.upgrade() {
                    None => true,
                    Some(node) => {
                        let finished = node.is_finished();
                        looked_at.push(node);
                        finished
                    }
                });
                tracked.prune_at = MIN_PRUNE_AT.max(2 * tracked.nodes.len());
            }
            future
        };
        drop(looked_at);
        Ok(future)
    }
}

/// `submit` after `shutdown()`: the stdlib's exception and message.
fn shut_down_error() -> PyErr {
    PyRuntimeError::new_err("cannot schedule new futures after shutdown")
}

/// `submit` once the interpreter's exit has shut the pool down: the
/// stdlib's exception and message.
fn interpreter_shut_down_error() -> PyErr {
    PyRuntimeError::new_err("cannot schedule new futures after interpreter shutdown")
}

/// The running graph, unless `core` is closed: checked first, before the
/// arguments, as the stdlib does (and again under the lock when tracking).
fn runtime_unless_closed(core: &ExecutorCore) -> PyResult<TaskGraph> {
    if core.track
        && core
            .tracked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .closed
    {
        return Err(shut_down_error());
    }
    match runtime() {
        Ok(runtime) => Ok(runtime.graph),
        Err(_) if core.track && crate::runtime::shut_down_at_exit() => {
            Err(interpreter_shut_down_error())
        }
        Err(e) => Err(e),
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ExecutorCore>()?;
    Ok(())
}
