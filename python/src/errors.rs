//! Python exceptions <-> `TaskError`.
//!
//! A task's exception travels unchanged: the exception object itself is the
//! `TaskError`'s payload, so `result()` re-raises the very same object (with
//! the task's frames in its `__traceback__`) in every dependent's waiter.

use hpyx_engine::WaitError;
use hpyx_graph::TaskError;
use pyo3::exceptions::{PyRuntimeError, PyTimeoutError};
use pyo3::prelude::*;

pyo3::import_exception!(concurrent.futures, CancelledError);
pyo3::import_exception!(concurrent.futures, InvalidStateError);

pyo3::create_exception!(
    hpyx,
    InternalError,
    PyRuntimeError,
    "A Rust panic inside the hpyx runtime, reported on the affected future."
);

/// The payload of a `TaskError` raised by Python code.
pub(crate) struct PyTaskException(pub(crate) Py<PyAny>);

/// Wraps the exception a task raised, noting which task raised it.
pub(crate) fn capture(py: Python<'_>, err: PyErr, task_name: &str) -> TaskError {
    let exc = err.into_value(py).into_bound(py).into_any();
    let note = format!("hpyx: raised in task {task_name:?}");
    if exc
        .call_method1(pyo3::intern!(py, "add_note"), (note,))
        .is_err()
    {
        // Not an exception with add_note (a very odd BaseException): fine.
        let _ = PyErr::take(py);
    }
    capture_value(py, exc)
}

/// Wraps an exception object as it is (`Future.set_exception`).
pub(crate) fn capture_value(py: Python<'_>, exc: Bound<'_, PyAny>) -> TaskError {
    let type_name = exc
        .get_type()
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".to_owned());
    let message = match exc.str() {
        Ok(s) => s.to_string(),
        Err(_) => {
            let _ = PyErr::take(py);
            String::new()
        }
    };
    TaskError::with_payload(type_name, message, PyTaskException(exc.unbind()))
}

/// The exception to raise for a failed node.
pub(crate) fn to_pyerr(py: Python<'_>, err: &TaskError) -> PyErr {
    if let Some(PyTaskException(exc)) = err.payload::<PyTaskException>() {
        return PyErr::from_value(exc.bind(py).clone());
    }
    if err.is_panic() {
        return InternalError::new_err(format!(
            "hpyx internal error (Rust panic in the runtime): {}",
            err.message()
        ));
    }
    PyRuntimeError::new_err(err.to_string())
}

/// A panic caught in the glue, as the exception that reports it.
pub(crate) fn internal_error(payload: &(dyn std::any::Any + Send)) -> PyErr {
    InternalError::new_err(format!(
        "hpyx internal error (Rust panic in the runtime): {}",
        hpyx_engine::panic_message(payload)
    ))
}

/// The exception to raise for a wait that ended early.
pub(crate) fn wait_error(err: WaitError<PyErr>) -> PyErr {
    match err {
        WaitError::Timeout => PyTimeoutError::new_err(()),
        WaitError::Interrupted(err) => err,
        WaitError::TooDeep { limit } => PyRuntimeError::new_err(format!(
            "hpyx: too many nested blocking waits on one worker thread \
             (limit max_help_depth={limit}); raise it with hpyx.init(cfg=[\"max_help_depth=N\"]) \
             or restructure the recursion with then()/dataflow()"
        )),
    }
}

/// A task that could not run because the interpreter is shutting down.
pub(crate) fn interpreter_gone() -> TaskError {
    TaskError::msg(
        "RuntimeError",
        "the Python interpreter is shutting down; the task could not run",
    )
}
