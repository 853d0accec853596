//! The future types the combinators recognise, registered once by the
//! `hpyx` package when it is imported: `hpyx.Future`, the stdlib's
//! `concurrent.futures.Future` and `_bridge` (an hpyx.Future mirroring a
//! stdlib one).
//!
//! Knowing them up front lets `hpyx.dataflow` be this crate's function
//! itself, with no Python frame per call; the combinators read an
//! hpyx.Future's node from its `FutureBase` part (see `future_base.rs`).

use hpyx_graph::NodeRef;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyType};

use crate::future_base::{check_future_type, FutureBase};

/// The registered types.
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
