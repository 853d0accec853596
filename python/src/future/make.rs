//! Making `hpyx.Future`s: the `FutureBase` part every one has and its
//! layout, the future types the package registers, [`wrap`] (a new
//! `hpyx.Future` around a node, the one way such a future is made) and
//! `track` (the cycle collector's view of one); and reading the node behind
//! a future handed to a combinator.

use std::ffi::c_void;

use hpyx_graph::{Future, NodeRef};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyType};

use crate::naming::type_name;
use crate::node::{PyNode, PyValue};

/// The Rust part of every `hpyx.Future`: its node. Its Python methods are
/// in `mod.rs`.
#[pyclass(frozen, subclass, module = "hpyx._core", name = "FutureBase")]
pub(crate) struct FutureBase {
    pub(super) node: PyNode,
}

impl FutureBase {
    pub(crate) fn future(&self) -> &Future<PyValue> {
        &self.node.future
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
        let args = pyo3::types::PyTuple::empty(py);
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

/// A new `hpyx.Future` (the registered type) around `future`:
/// [`new_future`], then left untracked by the cycle collector (GIL builds).
/// Every future around a node is made here (`submit`, `async_`, the
/// combinators, and those built in Python through `_core.wrap`).
///
/// Untracked because such a future holds no reference the collector can
/// follow (its node is Rust's, invisible to the collector; it has no
/// `__dict__` yet), so it can be in no cycle; tracked, a million pending
/// futures would make every full collection walk them all, up to a
/// microsecond per task on 3.11. `Future.__setattr__` tracks a future again
/// (`track`) before it gets any attribute that could close a cycle.
pub(crate) fn wrap<'py>(py: Python<'py>, future: Future<PyValue>) -> PyResult<Bound<'py, PyAny>> {
    let types = future_types(py)?;
    let future = new_future(types.hpyx.bind(py), future)?;
    // Not on free-threaded builds: their collector walks every object of the
    // heap, tracked or not, and scales its threshold with the *tracked*
    // survivors only, so a million untracked futures would make it collect
    // every 2,000 allocations, each time over the whole heap (`submit` at
    // 1M pending: 6 instead of 1.3 us per task on 3.13t).
    #[cfg(not(Py_GIL_DISABLED))]
    // SAFETY: `future` is a new, tracked instance of a GC type holding only
    // its node, which refers to no Python object the collector could see.
    unsafe {
        ffi::PyObject_GC_UnTrack(future.as_ptr().cast())
    };
    Ok(future)
}

/// `_core.wrap(node)`: [`wrap`] for the combinators built in Python
/// (`hpyx._future._wrap`), so every future around a node is made one way.
#[pyfunction(name = "wrap")]
fn wrap_node<'py>(py: Python<'py>, node: Bound<'py, PyNode>) -> PyResult<Bound<'py, PyAny>> {
    wrap(py, node.get().future.clone())
}

/// `_core.track(obj)`: makes the cycle collector track `obj` again (a
/// future made by [`wrap`], before it gets an attribute).
#[pyfunction]
fn track(obj: &Bound<'_, PyAny>) {
    // SAFETY: `obj` is a valid object; only GC types are (un)tracked, and
    // only when not tracked already.
    unsafe {
        let ptr = obj.as_ptr();
        if ffi::PyType_IS_GC(ffi::Py_TYPE(ptr)) != 0 && ffi::PyObject_GC_IsTracked(ptr) == 0 {
            ffi::PyObject_GC_Track(ptr.cast());
        }
    }
}

/// The future types the combinators recognise, registered once by the
/// `hpyx` package when it is imported. Knowing them up front lets
/// `hpyx.dataflow` be this crate's function itself, with no Python frame per
/// call.
pub(crate) struct FutureTypes {
    /// `hpyx.Future`.
    pub(crate) hpyx: Py<PyType>,
    /// `concurrent.futures.Future`.
    stdlib: Py<PyType>,
    /// `hpyx._combinators._bridge`.
    bridge: Py<PyAny>,
}

static FUTURE_TYPES: PyOnceLock<FutureTypes> = PyOnceLock::new();

/// `_core.register_future_types(Future, cf.Future, _bridge)`: once, when
/// `hpyx` is imported. A second call must name the same types.
#[pyfunction]
fn register_future_types(
    py: Python<'_>,
    hpyx: Bound<'_, PyType>,
    stdlib: Bound<'_, PyType>,
    bridge: Bound<'_, PyAny>,
) -> PyResult<()> {
    check_future_type(&hpyx)?;
    let types = FutureTypes {
        hpyx: hpyx.clone().unbind(),
        stdlib: stdlib.clone().unbind(),
        bridge: bridge.clone().unbind(),
    };
    let registered = FUTURE_TYPES.get_or_init(py, || types);
    if !registered.hpyx.bind(py).is(&hpyx)
        || !registered.stdlib.bind(py).is(&stdlib)
        || !registered.bridge.bind(py).is(&bridge)
    {
        return Err(PyRuntimeError::new_err(
            "hpyx's future types are registered already, with other types",
        ));
    }
    Ok(())
}

/// The registered types (an error if `hpyx` was never imported).
pub(crate) fn future_types(py: Python<'_>) -> PyResult<&'static FutureTypes> {
    FUTURE_TYPES.get(py).ok_or_else(|| {
        PyRuntimeError::new_err("hpyx._core used before the hpyx package registered its Future")
    })
}

impl FutureTypes {
    /// The node behind `value` if it is a future (an hpyx.Future's own, or
    /// that of the hpyx.Future mirroring another stdlib future), else None.
    pub(crate) fn node_of(&self, value: &Bound<'_, PyAny>) -> PyResult<Option<NodeRef>> {
        let py = value.py();
        if let Ok(future) = value.cast::<FutureBase>() {
            // Every hpyx.Future (checked first: the common case).
            return Ok(Some(future.get().future().node()));
        }
        if !value.is_instance(self.stdlib.bind(py))? {
            return Ok(None);
        }
        let mirror = self.bridge.bind(py).call1((value,))?;
        Ok(Some(mirror.cast::<FutureBase>()?.get().future().node()))
    }

    /// The nodes behind `futures`; a TypeError naming `combinator` for
    /// anything that is not a future.
    pub(crate) fn nodes_of(
        &self,
        futures: &Bound<'_, PyList>,
        combinator: &str,
    ) -> PyResult<Vec<NodeRef>> {
        futures
            .iter()
            .map(|f| {
                self.node_of(&f)?.ok_or_else(|| {
                    PyTypeError::new_err(format!(
                        "{combinator}() takes futures, got {}",
                        type_name(&f)
                    ))
                })
            })
            .collect()
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(register_future_types, m)?)?;
    m.add_function(wrap_pyfunction!(wrap_node, m)?)?;
    m.add_function(wrap_pyfunction!(track, m)?)?;
    Ok(())
}
