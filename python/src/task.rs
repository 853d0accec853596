//! A task's Python part: calling the task's function on a worker, attached
//! to the interpreter only while it runs, with its exception noted as raised
//! in the task of the node's name.

use hpyx_graph::{Inputs, NodeName, TaskError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::errors;
use crate::node::PyValue;
use crate::ownership;
use crate::thread_state;

/// Runs `f` attached to the interpreter, or fails the task if the
/// interpreter is finalizing (no Python can run any more).
pub(crate) fn attach_unless_finalizing<R>(
    f: impl for<'py> FnOnce(Python<'py>) -> Result<R, TaskError>,
) -> Result<R, TaskError> {
    thread_state::attach(f).unwrap_or_else(|| Err(errors::interpreter_gone()))
}

/// Positional and keyword arguments, built once attached.
pub(crate) type CallArgs<'py> = (Bound<'py, PyTuple>, Option<Bound<'py, PyDict>>);

/// Calls `func(*args, **kwargs)` attached to the interpreter, with the
/// arguments `build` makes there; an exception is the task `name`'s.
pub(crate) fn call(
    func: PyValue,
    build: impl for<'py> FnOnce(Python<'py>) -> PyResult<CallArgs<'py>>,
    name: &str,
) -> Result<PyValue, TaskError> {
    crate::fault::hit("task.before_call");
    attach_unless_finalizing(|py| {
        let result = build(py).and_then(|(args, kwargs)| func.bind(py).call(args, kwargs.as_ref()));
        // Drop the function (and, with `build`, the arguments) while attached.
        drop(func);
        crate::fault::hit("task.after_call");
        result
            .map(|value| ownership::hand_over(value.unbind()))
            .map_err(|e| errors::capture(py, e, name))
    })
}

/// The function of a task node: `func(*args)`. Two pointers, which the
/// graph keeps in the node itself (no allocation per task); with keywords
/// ([`keyword_task_body`]) it is boxed.
pub(crate) fn task_body(
    func: PyValue,
    args: Py<PyTuple>,
) -> impl FnOnce(&Inputs<'_>) -> Result<PyValue, TaskError> + Send + 'static {
    move |inputs: &Inputs<'_>| {
        call(
            func,
            move |py| Ok((args.into_bound(py), None)),
            inputs.name().as_str(),
        )
    }
}

/// [`task_body`] with keywords: `func(*args, **kwargs)`.
pub(crate) fn keyword_task_body(
    func: PyValue,
    args: Py<PyTuple>,
    kwargs: Py<PyDict>,
) -> impl FnOnce(&Inputs<'_>) -> Result<PyValue, TaskError> + Send + 'static {
    move |inputs: &Inputs<'_>| {
        call(
            func,
            move |py| Ok((args.into_bound(py), Some(kwargs.into_bound(py)))),
            inputs.name().as_str(),
        )
    }
}

/// A node without inputs running `body`: `TaskGraph::spawn`, but through
/// `dataflow` (with no inputs, the same node), whose function is handed the
/// node's name, so the function holds no copy of the name.
pub(crate) fn spawn_node(
    graph: &hpyx_graph::TaskGraph,
    name: NodeName,
    body: impl FnOnce(&Inputs<'_>) -> Result<PyValue, TaskError> + Send + 'static,
) -> hpyx_graph::Future<PyValue> {
    graph.dataflow(name, std::iter::empty(), body)
}
