//! Running a dask graph's nodes: what each task does on its worker, what
//! the whole computation shares, and the wait for its results.
//!
//! As in dask's threaded scheduler, each task runs in a copy of the
//! caller's `contextvars` context; the first task to raise stops the
//! computation (tasks not yet started end cancelled without running) and
//! its exception is the one raised to the caller; `pretask`/`posttask`
//! callbacks run only when some are registered.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use hpyx_graph::{Future, Inputs, NodeName, NodeRef, Outcome, TaskError, TaskGraph};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyList;

use super::expr::Expr;
use crate::errors::{self, CancelledError};
use crate::node::PyValue;
use crate::ownership;
use crate::task::attach_unless_finalizing;
use crate::thread_state;

/// What every task of one `get` call shares.
pub(crate) struct RunShared {
    /// Set by the first failure (or an interrupted wait): tasks not yet
    /// started then end without running.
    aborted: AtomicBool,
    /// The exception of the first task that raised.
    first_error: OnceLock<PyValue>,
    /// The caller's `contextvars.Context`; each task runs in a copy.
    context: Option<PyValue>,
    /// `pre(key)` and `post(key, value)`, called around each task when
    /// dask callbacks are registered.
    hooks: Option<(PyValue, PyValue)>,
}

impl RunShared {
    pub(crate) fn new(context: Option<PyValue>, hooks: Option<(PyValue, PyValue)>) -> Self {
        RunShared {
            aborted: AtomicBool::new(false),
            first_error: OnceLock::new(),
            context,
            hooks,
        }
    }

    pub(crate) fn has_hooks(&self) -> bool {
        self.hooks.is_some()
    }

    pub(crate) fn abort(&self) {
        self.aborted.store(true, Ordering::Relaxed);
    }

    /// Runs one task attached: its callbacks, then its expression.
    fn call(
        &self,
        py: Python<'_>,
        expr: &Expr,
        key: Option<&PyValue>,
        inputs: &Inputs<'_>,
    ) -> Result<PyValue, TaskError> {
        if self.aborted.load(Ordering::Relaxed) {
            return Err(TaskError::msg(
                "CancelledError",
                "the dask computation stopped before this task ran",
            ));
        }
        let entered = match &self.context {
            Some(context) => match EnteredContext::copy_of(py, context) {
                Ok(entered) => Some(entered),
                Err(e) => return Err(self.fail(py, e)),
            },
            None => None,
        };
        let result = (|| {
            let hooks = self.hooks.as_ref().zip(key);
            if let Some(((pre, _), key)) = hooks {
                pre.bind(py).call1((key,))?;
            }
            let value = expr.eval(py, inputs)?;
            if let Some(((_, post), key)) = hooks {
                post.bind(py).call1((key, &value))?;
            }
            Ok(value)
        })();
        drop(entered);
        // Handed over (free-threaded builds): freed by whichever thread
        // drops it last, not left for this worker to merge.
        result
            .map(|value| ownership::hand_over(value.unbind()))
            .map_err(|e| self.fail(py, e))
    }

    /// Records a task's exception (the first one is the computation's) and
    /// stops the computation.
    fn fail(&self, py: Python<'_>, err: PyErr) -> TaskError {
        let exc = err.into_value(py).into_any();
        self.abort();
        let _ = self.first_error.set(exc.clone_ref(py));
        errors::capture_value(py, exc.into_bound(py))
    }

    /// The exception to raise for a computation that failed with `err`.
    fn error(&self, py: Python<'_>, err: &TaskError) -> PyErr {
        match self.first_error.get() {
            Some(exc) => PyErr::from_value(exc.bind(py).clone()),
            None => errors::to_pyerr(py, err),
        }
    }
}

/// A copy of a `contextvars.Context`, entered on this thread until dropped
/// (what `Context.run` does, without a Python frame).
struct EnteredContext<'py>(Bound<'py, PyAny>);

impl<'py> EnteredContext<'py> {
    fn copy_of(py: Python<'py>, context: &PyValue) -> PyResult<Self> {
        // SAFETY: `context` is a `contextvars.Context` (checked by
        // `hpyx.dask`); the copy is a new reference, entered once and exited
        // in `drop` on this same thread.
        unsafe {
            let copy = Bound::from_owned_ptr_or_err(py, ffi::PyContext_Copy(context.as_ptr()))?;
            if ffi::PyContext_Enter(copy.as_ptr()) != 0 {
                return Err(PyErr::fetch(py));
            }
            Ok(EnteredContext(copy))
        }
    }
}

impl Drop for EnteredContext<'_> {
    fn drop(&mut self) {
        // SAFETY: entered by `copy_of` on this thread and not exited since.
        if unsafe { ffi::PyContext_Exit(self.0.as_ptr()) } != 0 {
            PyErr::fetch(self.0.py()).write_unraisable(self.0.py(), None);
        }
    }
}

/// The node of one dask task: evaluates `expr` with its inputs' values.
pub(crate) fn task_node(
    graph: &TaskGraph,
    name: NodeName,
    inputs: Vec<NodeRef>,
    expr: Expr,
    key: Option<PyValue>,
    run: Arc<RunShared>,
) -> Future<PyValue> {
    graph.dataflow(name, inputs, move |inputs: &Inputs<'_>| {
        attach_unless_finalizing(move |py| {
            let result = run.call(py, &expr, key.as_ref(), inputs);
            // Released attached: a task's arguments may be large.
            drop((expr, key));
            result
        })
    })
}

/// Waits (detached, interruptible) for the requested keys' nodes and
/// returns their values in order; the first task's exception otherwise.
pub(crate) fn wait<'py>(
    py: Python<'py>,
    graph: &TaskGraph,
    run: &RunShared,
    outputs: &[Future<PyValue>],
) -> PyResult<Bound<'py, PyList>> {
    // Waiting on one node over the outputs lets a worker that waits (a
    // nested `compute` inside a task) help run exactly this graph.
    let sink: Future<()> = graph.dataflow(
        NodeName::from_static("dask.get"),
        outputs.iter().map(NodeRef::from),
        |_: &Inputs<'_>| Ok(()),
    );
    let waited = thread_state::detach(py, || {
        sink.wait_until(None, &mut thread_state::check_signals_unless_worker)
            .map(|_| ())
    });
    if let Err(e) = waited {
        run.abort();
        return Err(errors::wait_error(e));
    }
    match sink.outcome() {
        Some(Outcome::Value(())) => {}
        Some(Outcome::Failed(e)) => return Err(run.error(py, e)),
        _ => return Err(CancelledError::new_err(())),
    }
    let values = outputs.iter().map(|f| {
        f.value()
            .expect("the requested keys succeeded")
            .clone_ref(py)
    });
    PyList::new(py, values)
}
