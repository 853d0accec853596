//! The future types the combinators recognise, registered once by the
//! `hpyx` package when it is imported: `hpyx.Future`, the stdlib's
//! `concurrent.futures.Future` and `_bridge` (an hpyx.Future mirroring a
//! stdlib one).
//!
//! Knowing them up front lets `hpyx.dataflow` be this crate's function
//! itself, with no Python frame per call, and lets the combinators read and
//! write a future's `_node` slot through its member descriptor instead of a
//! full attribute lookup (a walk of the type's MRO per input, per node).

use std::ffi::c_char;

use hpyx_graph::NodeRef;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyType};

use crate::node::PyNode;

/// The registered types.
pub(crate) struct FutureTypes {
    /// `hpyx.Future`.
    pub(crate) hpyx: Py<PyType>,
    /// `concurrent.futures.Future`.
    stdlib: Py<PyType>,
    /// `hpyx._combinators._bridge`.
    bridge: Py<PyAny>,
    /// `hpyx.Future`'s `_node` slot.
    node_slot: NodeSlot,
}

/// The member definition behind `hpyx.Future.__dict__["_node"]`.
struct NodeSlot(*mut ffi::PyMemberDef);

// SAFETY: the `PyMemberDef` belongs to the `hpyx.Future` heap type, which
// `FutureTypes::hpyx` keeps alive for the life of the process; CPython never
// changes it after the class is created, and it is only read (by
// `PyMember_GetOne` / `PyMember_SetOne`, which are safe to call from any
// attached thread).
unsafe impl Send for NodeSlot {}
// SAFETY: as above: shared, never written.
unsafe impl Sync for NodeSlot {}

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
    let descriptor = hpyx
        .getattr(pyo3::intern!(py, "__dict__"))?
        .get_item(pyo3::intern!(py, "_node"))?;
    // Only the static type object's address is taken.
    let member_descr_type = std::ptr::addr_of_mut!(ffi::PyMemberDescr_Type);
    if descriptor.get_type().as_type_ptr() != member_descr_type {
        return Err(PyTypeError::new_err(
            "hpyx.Future._node must be a __slots__ member",
        ));
    }
    // SAFETY: `descriptor` is a member descriptor (checked above), so its
    // layout is `PyMemberDescrObject`.
    let member = unsafe { (*descriptor.as_ptr().cast::<ffi::PyMemberDescrObject>()).d_member };
    let types = FutureTypes {
        hpyx: hpyx.clone().unbind(),
        stdlib: stdlib.clone().unbind(),
        bridge: bridge.clone().unbind(),
        node_slot: NodeSlot(member),
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
    /// Stores `node` in the `_node` slot of `future`, a new instance of
    /// `hpyx.Future` itself.
    pub(crate) fn set_node(
        &self,
        future: &Bound<'_, PyAny>,
        node: &Bound<'_, PyNode>,
    ) -> PyResult<()> {
        debug_assert!(future.get_type().as_ptr() == self.hpyx.as_ptr());
        // SAFETY: `future` is an instance of the type the member belongs to,
        // so the member's offset is inside it; `PyMember_SetOne` takes its
        // own reference to `node` and releases the slot's old value.
        let status = unsafe {
            ffi::PyMember_SetOne(
                future.as_ptr().cast::<c_char>(),
                self.node_slot.0,
                node.as_ptr(),
            )
        };
        if status != 0 {
            return Err(PyErr::fetch(future.py()));
        }
        Ok(())
    }

    /// The node behind `value` if it is a future (an hpyx.Future's own, or
    /// that of the hpyx.Future mirroring another stdlib future), else None.
    pub(crate) fn node_of(&self, value: &Bound<'_, PyAny>) -> PyResult<Option<NodeRef>> {
        let py = value.py();
        let node = if value.get_type().as_ptr() == self.hpyx.as_ptr() {
            // The common case, read through the slot's member definition.
            // SAFETY: `value` is an instance of exactly the type the member
            // belongs to; `PyMember_GetOne` returns a new reference, or null
            // with an AttributeError set if the slot is empty.
            unsafe {
                Bound::from_owned_ptr_or_err(
                    py,
                    ffi::PyMember_GetOne(value.as_ptr().cast::<c_char>(), self.node_slot.0),
                )?
            }
        } else {
            let future = if value.is_instance(self.hpyx.bind(py))? {
                value.clone()
            } else if value.is_instance(self.stdlib.bind(py))? {
                self.bridge.bind(py).call1((value,))?
            } else {
                return Ok(None);
            };
            future.getattr(pyo3::intern!(py, "_node"))?
        };
        Ok(Some(node.cast::<PyNode>()?.get().future.node()))
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
                        crate::tasks::type_name(&f)
                    ))
                })
            })
            .collect()
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(register_future_types, m)?)?;
    Ok(())
}
