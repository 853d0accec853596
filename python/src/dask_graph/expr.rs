//! What one dask task computes, once its dependencies' values are known: a
//! small tree walked on the worker that runs the task. It is built from
//! dask's task spec (`walk.rs`) before the graph runs, so running a task
//! costs one Python call (the task's function), not dask's per-task
//! `Task.__call__` with its dict of dependency values.

use hpyx_graph::Inputs;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFrozenSet, PyList, PySet, PyTuple};

use crate::node::PyValue;

pub(crate) enum Expr {
    /// A value used as it is.
    Lit(PyValue),
    /// The value of the node's input at this position.
    Dep(u32),
    /// `func(*args, **kwargs)`.
    Call(Box<Call>),
    /// A list, tuple, set or other sequence type built from its items.
    Seq(SeqKind, Vec<Expr>),
    /// A dict built from its (key, value) pairs.
    Dict(Vec<(Expr, Expr)>),
    /// A dask graph node of a type this walk does not know (a subclass that
    /// computes in its own way): called as dask calls it,
    /// `node({dependency key: value})`.
    Opaque(Box<Opaque>),
}

pub(crate) struct Call {
    pub(crate) func: PyValue,
    pub(crate) args: Vec<Expr>,
    pub(crate) kwargs: Vec<(PyValue, Expr)>,
}

pub(crate) enum SeqKind {
    List,
    Tuple,
    Set,
    FrozenSet,
    /// `typ(tuple_of_items)`: a subclass of one of the above in the legacy
    /// form (dask's `_identity_cast`).
    Cast(PyValue),
}

pub(crate) struct Opaque {
    pub(crate) node: PyValue,
    /// Each dependency's key and input position.
    pub(crate) deps: Vec<(PyValue, u32)>,
}

impl Expr {
    /// True if the expression needs no task: a literal.
    pub(crate) fn is_literal(&self) -> bool {
        matches!(self, Expr::Lit(_))
    }

    /// Evaluates the expression with the node's input values.
    pub(crate) fn eval<'py>(
        &self,
        py: Python<'py>,
        inputs: &Inputs<'_>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Expr::Lit(value) => Ok(value.bind(py).clone()),
            Expr::Dep(index) => Ok(input(py, inputs, *index)),
            Expr::Call(call) => {
                let args = eval_all(py, inputs, &call.args)?;
                let args = PyTuple::new(py, args)?;
                if call.kwargs.is_empty() {
                    return call.func.bind(py).call1(args);
                }
                let kwargs = PyDict::new(py);
                for (key, value) in &call.kwargs {
                    kwargs.set_item(key.bind(py), value.eval(py, inputs)?)?;
                }
                call.func.bind(py).call(args, Some(&kwargs))
            }
            Expr::Seq(kind, items) => {
                let items = eval_all(py, inputs, items)?;
                Ok(match kind {
                    SeqKind::List => PyList::new(py, items)?.into_any(),
                    SeqKind::Tuple => PyTuple::new(py, items)?.into_any(),
                    SeqKind::Set => PySet::new(py, items)?.into_any(),
                    SeqKind::FrozenSet => PyFrozenSet::new(py, items)?.into_any(),
                    SeqKind::Cast(typ) => typ.bind(py).call1((PyTuple::new(py, items)?,))?,
                })
            }
            Expr::Dict(pairs) => {
                let dict = PyDict::new(py);
                for (key, value) in pairs {
                    dict.set_item(key.eval(py, inputs)?, value.eval(py, inputs)?)?;
                }
                Ok(dict.into_any())
            }
            Expr::Opaque(opaque) => {
                let values = PyDict::new(py);
                for (key, index) in &opaque.deps {
                    values.set_item(key.bind(py), input(py, inputs, *index))?;
                }
                opaque.node.bind(py).call1((values,))
            }
        }
    }
}

fn eval_all<'py>(
    py: Python<'py>,
    inputs: &Inputs<'_>,
    exprs: &[Expr],
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    exprs.iter().map(|e| e.eval(py, inputs)).collect()
}

fn input<'py>(py: Python<'py>, inputs: &Inputs<'_>, index: u32) -> Bound<'py, PyAny> {
    inputs
        .value::<PyValue>(index as usize)
        .expect("a dask task runs only once its dependencies succeeded")
        .bind(py)
        .clone()
}
