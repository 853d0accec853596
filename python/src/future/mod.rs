//! `FutureBase`: the Rust half of every `hpyx.Future`, holding its node.
//!
//! `hpyx.Future` is the Python class `Future(FutureBase, cf.Future)`: an
//! instance is one Python object with the node's handle inside it (80 bytes
//! on 3.11, one allocation; a separate `Node` object in a slot would cost a
//! second allocation and 16 bytes more). `cf.Future` contributes no layout,
//! only its methods and `isinstance`; Python adds the instance dict and the
//! weak-reference slot a `concurrent.futures.Future` has.
//!
//! - `mod.rs` (here): `FutureBase`'s methods as Python calls them. The
//!   stdlib-facing ones (`result`, `done`, ...) are defined again in
//!   `hpyx/_future.py` with the stdlib's signatures and docstrings; they
//!   call the ones here through this class (`FutureBase.result(self,
//!   timeout)`). What `hpyx.Future` must not show as public attributes is
//!   underscored. `then` is inherited as it is.
//! - `make.rs`: the struct and its layout, making a future around a node
//!   (`wrap`), the cycle collector's view of it, and the future types the
//!   package registers.

pub(crate) mod make;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::combinators;
use crate::node::{PyNode, PyPromise, PyValue};
use make::FutureBase;

#[pymethods]
impl FutureBase {
    /// A future completed by `promise` (`hpyx.Future()`).
    #[new]
    fn new(promise: &Bound<'_, PyPromise>) -> FutureBase {
        FutureBase {
            node: promise.get().node(),
        }
    }

    #[pyo3(signature = (timeout=None))]
    fn result(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<PyValue> {
        self.node.result(py, timeout)
    }

    #[pyo3(signature = (timeout=None))]
    fn exception(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<PyValue>> {
        self.node.exception(py, timeout)
    }

    fn done(&self) -> bool {
        self.node.done()
    }

    fn running(&self) -> bool {
        self.node.running()
    }

    fn cancelled(&self) -> bool {
        self.node.cancelled()
    }

    /// The stdlib's `cancel`: True if cancelled now or before.
    fn cancel(&self) -> bool {
        self.node.cancel() || self.node.cancelled()
    }

    /// A `Node` handle on this future's node (for `hpyx.debug` and tests).
    #[getter]
    fn _node(&self) -> PyNode {
        PyNode::new(self.node.future.clone())
    }

    #[getter]
    fn _node_state(&self) -> &'static str {
        self.node.state()
    }

    #[getter]
    fn _node_name(&self) -> &str {
        self.node.name()
    }

    fn _on_complete(&self, callback: PyValue) -> PyResult<()> {
        self.node.on_complete(callback)
    }

    // `hpyx.Future.then` itself, inherited: no Python frame (nor an empty
    // keyword dict) per call, which would be a fifth of a `then` chain's
    // step. The node and its new future are made in `combinators::then`.
    #[doc = "Chains a continuation: ``fn(value, *args, **kwargs)`` on the pool.\n\nThe continuation runs once this future succeeds. If this future\nfailed or was cancelled, ``fn`` is not called and the returned\nfuture fails the same way (the same exception object, or\ncancellation).\n\nArgs:\n    fn: The callable to run with this future's value first.\n    *args: More positional arguments for ``fn``.\n    **kwargs: Keyword arguments for ``fn``.\n\nReturns:\n    A new Future for ``fn``'s result.\n"]
    #[pyo3(signature = (r#fn, /, *args, **kwargs), text_signature = "($self, fn, /, *args, **kwargs)")]
    fn then<'py>(
        &self,
        py: Python<'py>,
        r#fn: PyValue,
        args: Py<PyTuple>,
        kwargs: Option<Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let kwargs = kwargs.filter(|k| !k.is_empty()).map(Bound::unbind);
        combinators::then(py, self.future(), r#fn, args, kwargs)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FutureBase>()?;
    make::register(m)
}
