//! `FutureBase`: the Rust half of every `hpyx.Future`, holding its node.
//!
//! `hpyx.Future` is the Python class `Future(FutureBase, cf.Future)`: an
//! instance is one Python object with the node's handle inside it, where it
//! was an `hpyx.Future` holding a separate `Node` object in a slot (16
//! bytes less per future, 80 instead of 96 on 3.11, and one allocation
//! instead of two). `cf.Future` contributes no layout, only its methods and
//! `isinstance`; Python adds the instance dict and the weak-reference slot
//! a `concurrent.futures.Future` has.
//!
//! The stdlib-facing methods (`result`, `done`, ...) are defined again in
//! `hpyx/_future.py` with the stdlib's signatures and docstrings; they call
//! the ones here through this class (`FutureBase.result(self, timeout)`).
//! What `hpyx.Future` must not show as public attributes is underscored.

use std::ffi::c_void;

use hpyx_graph::Future;
use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple, PyType};

use crate::node::{PyNode, PyPromise, PyValue};
use crate::tasks;

#[pyclass(frozen, subclass, module = "hpyx._core", name = "FutureBase")]
pub(crate) struct FutureBase {
    node: PyNode,
}

impl FutureBase {
    pub(crate) fn future(&self) -> &Future<PyValue> {
        &self.node.future
    }
}

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
    // keyword dict) per call, which was a fifth of a `then` chain's step.
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
        let node = tasks::then(py, &self.node, r#fn, args, kwargs, None)?;
        tasks::wrap(py, node.future)
    }
}

/// Checks that `future_type` (`hpyx.Future`) can be made by [`new_future`]:
/// a subclass of `FutureBase` whose `FutureBase` part is PyO3's layout for
/// a frozen class over `object` (the object header, then the struct, and
/// nothing else: no borrow flag, no dict or weakref slot of PyO3's own).
pub(crate) fn check_future_type(future_type: &Bound<'_, PyType>) -> PyResult<()> {
    let py = future_type.py();
    let base = py.get_type::<FutureBase>();
    // SAFETY: reading a ready type object's size.
    let basicsize = unsafe { (*base.as_type_ptr()).tp_basicsize } as usize;
    if basicsize != CONTENTS_OFFSET + size_of::<FutureBase>() {
        return Err(PyTypeError::new_err(format!(
            "hpyx._core.FutureBase is {basicsize} bytes, not the object header and \
             the node ({} bytes): unsupported PyO3 layout",
            CONTENTS_OFFSET + size_of::<FutureBase>()
        )));
    }
    if !future_type.is_subclass(&base)? {
        return Err(PyTypeError::new_err(
            "hpyx.Future must be a subclass of hpyx._core.FutureBase",
        ));
    }
    Ok(())
}

/// Where PyO3 puts a class's struct: right after the object header, for a
/// class over `object` (checked against the type's size by
/// [`check_future_type`]).
const CONTENTS_OFFSET: usize = size_of::<ffi::PyObject>();

/// A new instance of `future_type` (`hpyx.Future`, checked by
/// [`check_future_type`]) holding `future`.
///
/// Made as `object.__new__(future_type)` makes it, except on CPython 3.11
/// without the values array of its key-sharing `__dict__`: `object_new`'s
/// only work besides `tp_alloc` is (3.11) to allocate it, 16 bytes of RSS
/// per future (`benchmarks/memory_floor.py`) for attributes a future made
/// here never gets. Allocated with `tp_alloc` alone, the instance has
/// neither values nor a dict, the state CPython 3.11 also leaves after
/// `__dict__` was materialised and dropped, and makes a dict on the first
/// attribute set (tested). From 3.12 the values are part of the object
/// itself (3.13: `Py_TPFLAGS_INLINE_VALUES`) and must be initialised, so
/// `object_new` is called there (directly: `FutureBase`'s own `tp_new`
/// makes a promise). Then the node goes where PyO3 keeps the struct.
pub(crate) fn new_future<'py>(
    future_type: &Bound<'py, PyType>,
    future: Future<PyValue>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = future_type.py();
    let tp = future_type.as_type_ptr();
    #[cfg(not(Py_3_12))]
    // SAFETY: `tp` is a ready type object whose `tp_alloc` is inherited
    // (`PyType_GenericAlloc`); it returns a new, zero-filled instance, or
    // null with a Python error set, which `from_owned_ptr_or_err` takes.
    let object = unsafe {
        let tp_alloc = (*tp).tp_alloc.unwrap_or(ffi::PyType_GenericAlloc);
        Bound::from_owned_ptr_or_err(py, tp_alloc(tp, 0))?
    };
    #[cfg(Py_3_12)]
    // SAFETY: `object_new` may be called with any type that derives from
    // `object`, an (empty) argument tuple and no keywords, as
    // `type.__call__` would; a null result has set a Python error.
    let object = unsafe {
        let object_new = ffi::PyBaseObject_Type.tp_new.expect("object has tp_new");
        let args = PyTuple::empty(py);
        Bound::from_owned_ptr_or_err(py, object_new(tp, args.as_ptr(), std::ptr::null_mut()))?
    };
    // SAFETY: `object` is a new instance of a subclass of `FutureBase`
    // (checked when the type was registered), allocated zero-filled by
    // `tp_alloc` with room for the `FutureBase` at `CONTENTS_OFFSET`, which
    // nothing has initialised or read: writing it there is what PyO3's own
    // constructor does, and PyO3's deallocator drops it from there.
    unsafe {
        let contents = object
            .as_ptr()
            .cast::<u8>()
            .add(CONTENTS_OFFSET)
            .cast::<FutureBase>();
        debug_assert_eq!(
            contents.cast::<c_void>() as usize % align_of::<FutureBase>(),
            0
        );
        contents.write(FutureBase {
            node: PyNode::new(future),
        });
    }
    Ok(object)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FutureBase>()?;
    Ok(())
}
