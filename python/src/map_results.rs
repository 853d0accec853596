//! `MapResults`, the iterator `HPXExecutor.map` returns, with the stdlib's
//! generator behaviour (`close`, `send`, `throw`).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use hpyx_graph::Future;
use pyo3::exceptions::{PyBaseException, PyDeprecationWarning, PyStopIteration, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};

use crate::naming::type_name;
use crate::node::{PyNode, PyValue};

/// The iterator `HPXExecutor.map` returns: the results in order, each
/// waited for (until the map's deadline) when asked for, with the stdlib's
/// generator's behaviour (`close`, `send`, `throw`). Once an iteration has
/// started, its first exception (the task's, or `TimeoutError`), `close`,
/// `throw` or dropping it cancels the items not yet returned; before that,
/// nothing cancels them (a map whose result is never iterated runs every
/// item). Unlike a generator, threads may share it.
#[pyclass(frozen, module = "hpyx._core", name = "MapResults")]
pub(crate) struct MapResults {
    state: Mutex<MapState>,
    deadline: Option<Instant>,
}

struct MapState {
    /// The items not yet returned, in order.
    nodes: VecDeque<Future<PyValue>>,
    /// False until the first `__next__`, `send`, `throw` or `close`: the
    /// generator's "just started", when ending it cancels nothing.
    started: bool,
}

impl MapResults {
    pub(crate) fn new(nodes: VecDeque<Future<PyValue>>, deadline: Option<Instant>) -> MapResults {
        MapResults {
            state: Mutex::new(MapState {
                nodes,
                started: false,
            }),
            deadline,
        }
    }

    fn lock(&self) -> MutexGuard<'_, MapState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends the iteration: the items not yet returned are cancelled if it
    /// had started (the generator's `finally`), else left to run.
    fn end(&self) {
        let (rest, started) = {
            let mut state = self.lock();
            let started = std::mem::replace(&mut state.started, true);
            (std::mem::take(&mut state.nodes), started)
        };
        if started {
            for node in &rest {
                node.cancel();
            }
        }
        // Dropped unlocked: a finished item's value may run any `__del__`.
        drop(rest);
    }

    /// The next result; `None` once exhausted.
    fn next_result(&self, py: Python<'_>) -> PyResult<Option<PyValue>> {
        let next = {
            let mut state = self.lock();
            state.started = true;
            state.nodes.pop_front()
        };
        let Some(next) = next else {
            return Ok(None);
        };
        let timeout = self
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()).as_secs_f64());
        let node = PyNode::new(next);
        node.result(py, timeout)
            .inspect_err(|_| {
                node.future.cancel();
                self.end();
            })
            .map(Some)
    }
}

#[pymethods]
impl MapResults {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyValue>> {
        self.next_result(py)
    }

    /// Returns the next result as `__next__` does, or raises StopIteration.
    /// As with a generator, a value other than None cannot be sent before
    /// the first result; any value sent is ignored.
    fn send(&self, py: Python<'_>, arg: &Bound<'_, PyAny>) -> PyResult<PyValue> {
        if !arg.is_none() && !self.lock().started {
            return Err(PyTypeError::new_err(
                "can't send non-None value to a just-started generator",
            ));
        }
        self.next_result(py)?
            .ok_or_else(|| PyStopIteration::new_err(()))
    }

    /// Raises the exception (built from `typ`, `val` and `tb` as a
    /// generator's `throw` builds it) and ends the iteration, cancelling
    /// the items not yet returned if it had started.
    #[pyo3(signature = (typ, val=None, tb=None))]
    fn throw(
        &self,
        py: Python<'_>,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyValue> {
        let exc = thrown(py, typ, val, tb)?;
        self.end();
        Err(exc)
    }

    /// Ends the iteration, cancelling the items not yet returned if it had
    /// started (a generator's `close`).
    fn close(&self) {
        self.end();
    }
}

impl Drop for MapResults {
    /// Dropping ends the iteration, as a generator's finalizer closes it.
    fn drop(&mut self) {
        self.end();
    }
}

/// The exception `generator.throw(typ, val, tb)` raises, built as CPython
/// builds it (with its deprecation warning for more than one argument).
fn thrown(
    py: Python<'_>,
    typ: &Bound<'_, PyAny>,
    val: Option<&Bound<'_, PyAny>>,
    tb: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyErr> {
    let val = val.filter(|v| !v.is_none());
    let tb = tb.filter(|t| !t.is_none());
    if (val.is_some() || tb.is_some()) && py.version_info() >= (3, 12) {
        PyErr::warn(
            py,
            py.get_type::<PyDeprecationWarning>().as_any(),
            c"the (type, exc, tb) signature of throw() is deprecated, use the single-arg signature instead.",
            1,
        )?;
    }
    let base = py.get_type::<PyBaseException>();
    let exc = if typ.is_instance(&base)? {
        if val.is_some() {
            return Err(PyTypeError::new_err(
                "instance exception may not have a separate value",
            ));
        }
        typ.clone()
    } else if typ
        .cast::<PyType>()
        .is_ok_and(|t| t.is_subclass(&base).unwrap_or(false))
    {
        match val {
            Some(v) if v.is_instance(typ)? => v.clone(),
            Some(v) if v.is_instance_of::<PyTuple>() => typ.call1(v.cast::<PyTuple>()?.clone())?,
            Some(v) => typ.call1((v,))?,
            None => typ.call0()?,
        }
    } else {
        return Err(PyTypeError::new_err(format!(
            "exceptions must be classes or instances deriving from BaseException, not {}",
            type_name(typ)
        )));
    };
    if let Some(tb) = tb {
        exc.call_method1(pyo3::intern!(py, "with_traceback"), (tb,))?;
    }
    Ok(PyErr::from_value(exc))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<MapResults>()?;
    Ok(())
}
