//! dask graphs run natively on hpyx's graph (`hpyx.dask.get`).
//!
//! One call from Python builds the whole computation: the graph dict is
//! walked here, each task needed by the requested keys becomes one graph
//! node with edges to the nodes of the keys it needs, and the caller waits
//! for the requested keys. Nothing loops in Python while it runs; a result
//! is released once every task that needs it has run (a node lets go of its
//! inputs when it has run, and only the requested keys' nodes are kept).
//!
//! - `spec_types.rs`: dask's task spec classes, registered by `hpyx.dask`.
//! - `walk.rs`: dask's graph forms (task spec and legacy) -> `Expr`.
//! - `expr.rs`: `Expr`, what a task computes from its inputs' values.
//! - `keys.rs`: the slot of each key met, and node names from keys.
//! - `build.rs`: the walk from the requested keys that builds the nodes.
//! - `run.rs`: a task's run (context, callbacks, errors) and the wait.

mod build;
mod expr;
mod keys;
mod run;
mod spec_types;
mod walk;

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::node::PyValue;
use crate::runtime::runtime;

/// `_core._dask_get(dsk, keys, cache=None, context=None, hooks=None)`:
/// computes the flat list `keys` of the graph dict `dsk` and returns their
/// values in order. `cache` holds results known already, `context` is the
/// `contextvars.Context` tasks run in copies of, `hooks` the pair
/// `(pre(key), post(key, value))` called around each task.
#[pyfunction]
#[pyo3(signature = (dsk, keys, cache=None, context=None, hooks=None))]
fn _dask_get<'py>(
    py: Python<'py>,
    dsk: Bound<'py, PyDict>,
    keys: Bound<'py, PyList>,
    cache: Option<Bound<'py, PyDict>>,
    context: Option<PyValue>,
    hooks: Option<(PyValue, PyValue)>,
) -> PyResult<Bound<'py, PyList>> {
    let graph = runtime()?.graph;
    let types = spec_types::spec_types(py)?;
    let run = Arc::new(run::RunShared::new(context, hooks));
    let mut table = keys::Keys::new(dsk, cache);
    let wanted = keys
        .iter()
        .map(|k| table.slot(&k))
        .collect::<PyResult<Vec<usize>>>()?;
    let outputs = build::build(py, &graph, types, &mut table, &run, &wanted)?;
    drop(table);
    run::wait(py, &graph, &run, &outputs)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_dask_get, m)?)?;
    m.add_function(wrap_pyfunction!(spec_types::_dask_spec_types, m)?)?;
    Ok(())
}
