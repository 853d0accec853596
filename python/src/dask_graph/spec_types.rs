//! The classes of dask's task spec (`dask._task_spec`), registered once by
//! `hpyx.dask` when it is imported: the glue never imports dask itself, so
//! `import hpyx` stays free of it.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use crate::node::PyValue;

/// dask's task spec classes, and the Python helper for the rare legacy forms
/// walked in Python (named tuples).
pub(crate) struct SpecTypes {
    pub(crate) graph_node: Py<PyType>,
    pub(crate) task: Py<PyType>,
    pub(crate) task_ref: Py<PyType>,
    pub(crate) data_node: Py<PyType>,
    pub(crate) alias: Py<PyType>,
    pub(crate) list: Py<PyType>,
    pub(crate) tuple: Py<PyType>,
    pub(crate) set: Py<PyType>,
    pub(crate) dict: Py<PyType>,
    /// `convert_legacy(obj, is_key)`: dask's own conversion of one legacy
    /// value, for the forms walked in Python.
    pub(crate) convert_legacy: PyValue,
}

static SPEC_TYPES: PyOnceLock<SpecTypes> = PyOnceLock::new();

pub(crate) fn spec_types(py: Python<'_>) -> PyResult<&SpecTypes> {
    SPEC_TYPES.get(py).ok_or_else(|| {
        PyRuntimeError::new_err("hpyx.dask has not registered dask's task spec classes")
    })
}

/// `_core._dask_spec_types(...)`: called once by `hpyx.dask` at import.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub(crate) fn _dask_spec_types(
    py: Python<'_>,
    graph_node: Py<PyType>,
    task: Py<PyType>,
    task_ref: Py<PyType>,
    data_node: Py<PyType>,
    alias: Py<PyType>,
    list: Py<PyType>,
    tuple: Py<PyType>,
    set: Py<PyType>,
    dict: Py<PyType>,
    convert_legacy: PyValue,
) {
    let _ = SPEC_TYPES.set(
        py,
        SpecTypes {
            graph_node,
            task,
            task_ref,
            data_node,
            alias,
            list,
            tuple,
            set,
            dict,
            convert_legacy,
        },
    );
}
