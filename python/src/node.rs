//! `Node`: the Python handle on one graph node.
//!
//! The Python class `hpyx.Future` (a `concurrent.futures.Future` subclass)
//! holds one of these and delegates to it; everything here either reads the
//! node's atomic state or waits with the interpreter detached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hpyx_graph::{Future, NodeState, Outcome, Promise};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::{self, CancelledError, InvalidStateError};
use crate::{runtime, thread_state};

/// A Python object as a node value.
pub(crate) type PyValue = Py<PyAny>;

/// The deadline of a wait of `timeout` seconds from now (`None`: no limit),
/// as the stdlib reads a timeout: a negative one is zero (the time is up),
/// and NaN is an error.
pub(crate) fn deadline(timeout: Option<f64>) -> PyResult<Option<Instant>> {
    match timeout {
        None => Ok(None),
        Some(t) if t.is_nan() => Err(PyValueError::new_err("timeout must be a number, got nan")),
        Some(t) => Ok(Some(
            Instant::now() + Duration::from_secs_f64(t.clamp(0.0, 1e9)),
        )),
    }
}

/// Waits until `future` is finished (true) or `deadline` passes (false),
/// detached from the interpreter and checking for signals every
/// `HOOK_INTERVAL`, so Ctrl-C interrupts it.
pub(crate) fn wait(
    py: Python<'_>,
    future: &Future<PyValue>,
    deadline: Option<Instant>,
) -> PyResult<bool> {
    // In a child forked after the pool started no worker will ever finish
    // the node.
    if !future.is_finished() {
        runtime::check_not_forked()?;
    }
    let waited = thread_state::detach(py, || {
        future
            .wait_until(deadline, &mut thread_state::check_signals_unless_worker)
            .map(|_| ())
    });
    match waited {
        Ok(()) => Ok(true),
        Err(hpyx_engine::WaitError::Timeout) => Ok(false),
        Err(e) => Err(errors::wait_error(e)),
    }
}

/// A node of the task graph, as seen from Python.
#[pyclass(frozen, module = "hpyx._core", name = "Node")]
pub(crate) struct PyNode {
    pub(crate) future: Future<PyValue>,
}

impl PyNode {
    pub(crate) fn new(future: Future<PyValue>) -> PyNode {
        PyNode { future }
    }

    /// Waits until finished; false on timeout.
    fn wait_finished(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        if self.future.is_finished() {
            return Ok(true);
        }
        wait(py, &self.future, deadline(timeout)?)
    }

    fn outcome_to_py(&self, py: Python<'_>) -> PyResult<PyValue> {
        match self.future.outcome() {
            Some(Outcome::Value(v)) => Ok(v.clone_ref(py)),
            Some(Outcome::Failed(e)) => Err(errors::to_pyerr(py, e)),
            Some(Outcome::Cancelled) => Err(CancelledError::new_err(())),
            None => Err(pyo3::exceptions::PyTimeoutError::new_err(())),
        }
    }
}

#[pymethods]
impl PyNode {
    /// The node's process-unique id.
    #[getter]
    fn id(&self) -> u64 {
        self.future.id().0
    }

    /// The node's readable name.
    #[getter]
    pub(crate) fn name(&self) -> &str {
        self.future.name().as_str()
    }

    /// "pending", "ready", "running", "succeeded", "failed" or "cancelled".
    #[getter]
    pub(crate) fn state(&self) -> &'static str {
        self.future.state().as_str()
    }

    pub(crate) fn done(&self) -> bool {
        self.future.is_finished()
    }

    pub(crate) fn running(&self) -> bool {
        self.future.state() == NodeState::Running
    }

    pub(crate) fn cancelled(&self) -> bool {
        self.future.state() == NodeState::Cancelled
    }

    /// True once finished, False if `timeout` passed first.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        self.wait_finished(py, timeout)
    }

    /// Waits, then returns the value or raises the task's exception,
    /// `CancelledError`, or `TimeoutError`.
    #[pyo3(signature = (timeout=None))]
    pub(crate) fn result(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<PyValue> {
        self.wait_finished(py, timeout)?;
        self.outcome_to_py(py)
    }

    /// Waits, then returns the exception or None; raises `CancelledError` or
    /// `TimeoutError`.
    #[pyo3(signature = (timeout=None))]
    pub(crate) fn exception(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
    ) -> PyResult<Option<PyValue>> {
        if !self.wait_finished(py, timeout)? {
            return Err(pyo3::exceptions::PyTimeoutError::new_err(()));
        }
        match self.future.outcome() {
            Some(Outcome::Value(_)) => Ok(None),
            Some(Outcome::Failed(e)) => Ok(Some(errors::to_pyerr(py, e).into_value(py).into_any())),
            _ => Err(CancelledError::new_err(())),
        }
    }

    /// Cancels the node if it has not started. Its dependents end cancelled.
    pub(crate) fn cancel(&self) -> bool {
        self.future.cancel()
    }

    /// Calls `callback()` once the node is finished: on the thread that
    /// finishes it, or right away if it already is. The callback must handle
    /// its own exceptions; any that escape are reported as unraisable.
    pub(crate) fn on_complete(&self, callback: PyValue) -> PyResult<()> {
        if !self.future.is_finished() {
            // The callback would never run in a forked child.
            runtime::check_not_forked()?;
        }
        self.future.on_complete(move || {
            let _ = thread_state::attach(|py| {
                // A panic here would unwind out of `on_complete` itself when
                // the node is already finished: report it like an exception.
                let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    crate::fault::hit("callback");
                    callback.bind(py).call0().map(drop)
                }));
                let err = match called {
                    Ok(Ok(())) => return,
                    Ok(Err(err)) => err,
                    Err(panic) => errors::internal_error(&*panic),
                };
                err.write_unraisable(py, Some(callback.bind(py)));
            });
        });
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!(
            "<hpyx._core.Node {} {:?} {}>",
            self.future.id(),
            self.future.name().as_str(),
            self.future.state()
        )
    }
}

/// The writing end of a node completed from Python (`hpyx.Future()`).
#[pyclass(frozen, module = "hpyx._core", name = "Promise")]
pub(crate) struct PyPromise {
    promise: std::sync::Mutex<Option<Promise<PyValue>>>,
    node: Arc<PyNode>,
}

impl PyPromise {
    pub(crate) fn new(promise: Promise<PyValue>) -> PyPromise {
        let node = Arc::new(PyNode::new(promise.future().clone()));
        PyPromise {
            promise: std::sync::Mutex::new(Some(promise)),
            node,
        }
    }

    fn take(&self) -> PyResult<Promise<PyValue>> {
        let taken = self
            .promise
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        taken.ok_or_else(|| {
            InvalidStateError::new_err(format!(
                "{}: the future is already finished",
                self.node.state()
            ))
        })
    }
}

#[pymethods]
impl PyPromise {
    /// The node this promise completes.
    pub(crate) fn node(&self) -> PyNode {
        PyNode::new(self.node.future.clone())
    }

    /// Completes the node with `value`; `InvalidStateError` if it already
    /// finished or was cancelled.
    fn set_result(&self, value: PyValue) -> PyResult<()> {
        let promise = self.take()?;
        promise
            .set_value(value)
            .map_err(|_| InvalidStateError::new_err("CANCELLED: the future was cancelled"))
    }

    /// Fails the node with `exception`.
    fn set_exception(&self, py: Python<'_>, exception: Bound<'_, PyAny>) -> PyResult<()> {
        let promise = self.take()?;
        let err = errors::capture_value(py, exception);
        if promise.set_error(err) {
            Ok(())
        } else {
            Err(InvalidStateError::new_err(
                "CANCELLED: the future was cancelled",
            ))
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNode>()?;
    m.add_class::<PyPromise>()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_reads_a_timeout_as_the_stdlib_does() {
        assert_eq!(deadline(None).unwrap(), None);
        let before = Instant::now();
        // A negative timeout has passed already.
        let past = deadline(Some(-5.0)).unwrap().unwrap();
        assert!(past >= before && past <= Instant::now());
        let later = deadline(Some(2.5)).unwrap().unwrap();
        assert!(later >= before + Duration::from_millis(2500));
        // Timeouts too long for a `Duration` are a far deadline, not a panic.
        for huge in [1e300, f64::INFINITY] {
            let far = deadline(Some(huge)).unwrap().unwrap();
            assert!(far >= before + Duration::from_secs(1_000_000));
        }
        Python::initialize();
        Python::attach(|py| {
            let err = deadline(Some(f64::NAN)).unwrap_err();
            assert!(err.is_instance_of::<PyValueError>(py));
            assert_eq!(
                err.value(py).to_string(),
                "timeout must be a number, got nan"
            );
        });
    }
}
