//! Walks the forms a dask graph's values take into [`Expr`]s, exactly as
//! dask reads them (`dask._task_spec`):
//!
//! - the task spec: `Task` (a function with arguments), `TaskRef` and
//!   `Alias` (another key's value), `DataNode` (a value), the `List`,
//!   `Tuple`, `Set` and `Dict` containers, nested in one another; an
//!   argument that is none of these is a literal, as in `Task.__call__`;
//! - the legacy form, as `convert_legacy_task` reads it: a tuple whose first
//!   item is callable is a task; a str, int, float or tuple that is a key of
//!   the graph is that key's value; lists, tuples and sets are walked for
//!   both; a dict argument is a `Dict` of the task spec.
//!
//! Any other graph node type (a subclass computing in its own way) is
//! called as dask calls it ([`Expr::Opaque`]); a named tuple of the legacy
//! form goes through dask's own conversion.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyString, PyTuple};

use super::expr::{Call, Expr, Opaque, SeqKind};
use super::keys::Keys;
use super::spec_types::SpecTypes;
use crate::node::PyValue;

/// What a key of the graph holds.
pub(crate) enum TopLevel {
    /// A task to run.
    Task(Expr),
    /// A value known now.
    Data(PyValue),
    /// An alias of the key to itself, which dask drops from the graph.
    Dropped,
}

/// Dependencies of up to this many keys are found by a linear scan.
const LINEAR_DEPS: usize = 16;

/// The walk of one key's value: its expression and the keys it needs.
pub(crate) struct TaskWalk<'k, 'py> {
    py: Python<'py>,
    types: &'k SpecTypes,
    keys: &'k mut Keys<'py>,
    /// The slots (see `keys.rs`) of the keys this task needs, each once, in
    /// the order of the task's inputs.
    pub(crate) deps: Vec<usize>,
    positions: HashMap<usize, u32>,
}

impl<'k, 'py> TaskWalk<'k, 'py> {
    pub(crate) fn new(py: Python<'py>, types: &'k SpecTypes, keys: &'k mut Keys<'py>) -> Self {
        TaskWalk {
            py,
            types,
            keys,
            deps: Vec::new(),
            positions: HashMap::new(),
        }
    }

    /// `dsk[key]`, as `convert_legacy_graph` reads it.
    pub(crate) fn top_level(
        &mut self,
        key: &Bound<'py, PyAny>,
        spec: &Bound<'py, PyAny>,
    ) -> PyResult<TopLevel> {
        let py = self.py;
        let types = self.types;
        if spec.is_instance(types.graph_node.bind(py))? {
            let ty = spec.get_type();
            if ty.is(types.data_node.bind(py)) {
                return Ok(TopLevel::Data(
                    spec.getattr(pyo3::intern!(py, "value"))?.unbind(),
                ));
            }
            if ty.is(types.alias.bind(py)) && spec.getattr(pyo3::intern!(py, "target"))?.eq(key)? {
                return Ok(TopLevel::Dropped);
            }
            return Ok(TopLevel::Task(self.node(spec)?));
        }
        if is_key_type(spec) && self.keys.contains(spec) {
            if spec.eq(key)? {
                return Ok(TopLevel::Dropped);
            }
            return Ok(TopLevel::Task(self.dep(spec)?));
        }
        let expr = self.legacy(spec)?;
        Ok(match expr {
            Expr::Lit(value) => TopLevel::Data(value),
            expr => TopLevel::Task(expr),
        })
    }

    /// A node of the task spec.
    fn node(&mut self, node: &Bound<'py, PyAny>) -> PyResult<Expr> {
        let py = self.py;
        let types = self.types;
        let ty = node.get_type();
        if ty.is(types.task.bind(py)) {
            let func = node.getattr(pyo3::intern!(py, "func"))?;
            let args = self.args(&node.getattr(pyo3::intern!(py, "args"))?)?;
            let kwargs_obj = node.getattr(pyo3::intern!(py, "kwargs"))?;
            let kwargs_dict = kwargs_obj.cast::<PyDict>()?;
            let mut kwargs = Vec::with_capacity(kwargs_dict.len());
            for (k, v) in kwargs_dict.iter() {
                kwargs.push((k.unbind(), self.arg(&v)?));
            }
            return Ok(Expr::Call(Box::new(Call {
                func: func.unbind(),
                args,
                kwargs,
            })));
        }
        let kind = if ty.is(types.list.bind(py)) {
            Some(SeqKind::List)
        } else if ty.is(types.tuple.bind(py)) {
            Some(SeqKind::Tuple)
        } else if ty.is(types.set.bind(py)) {
            Some(SeqKind::Set)
        } else {
            None
        };
        if let Some(kind) = kind {
            let items = self.args(&node.getattr(pyo3::intern!(py, "args"))?)?;
            return Ok(Expr::Seq(kind, items));
        }
        if ty.is(types.dict.bind(py)) {
            let items = self.args(&node.getattr(pyo3::intern!(py, "args"))?)?;
            let mut pairs = Vec::with_capacity(items.len() / 2);
            let mut items = items.into_iter();
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                pairs.push((k, v));
            }
            return Ok(Expr::Dict(pairs));
        }
        if ty.is(types.alias.bind(py)) {
            return self.dep(&node.getattr(pyo3::intern!(py, "target"))?);
        }
        if ty.is(types.data_node.bind(py)) {
            return Ok(Expr::Lit(
                node.getattr(pyo3::intern!(py, "value"))?.unbind(),
            ));
        }
        let mut deps = Vec::new();
        for key in node
            .getattr(pyo3::intern!(py, "dependencies"))?
            .try_iter()?
        {
            let key = key?;
            let Expr::Dep(index) = self.dep(&key)? else {
                unreachable!("dep() makes a Dep")
            };
            deps.push((key.unbind(), index));
        }
        Ok(Expr::Opaque(Box::new(Opaque {
            node: node.clone().unbind(),
            deps,
        })))
    }

    /// The arguments of a task of the task spec (a tuple).
    fn args(&mut self, args: &Bound<'py, PyAny>) -> PyResult<Vec<Expr>> {
        let args = args.cast::<PyTuple>()?;
        args.iter().map(|a| self.arg(&a)).collect()
    }

    /// One argument of a task of the task spec, as `Task.__call__` reads it.
    fn arg(&mut self, arg: &Bound<'py, PyAny>) -> PyResult<Expr> {
        if is_plain(arg) {
            return Ok(Expr::Lit(arg.clone().unbind()));
        }
        let py = self.py;
        if arg.is_instance(self.types.graph_node.bind(py))? {
            return self.node(arg);
        }
        if arg.is_instance(self.types.task_ref.bind(py))? {
            return self.dep(&arg.getattr(pyo3::intern!(py, "key"))?);
        }
        Ok(Expr::Lit(arg.clone().unbind()))
    }

    /// A value of the legacy form, as `convert_legacy_task(None, value)`
    /// reads it.
    fn legacy(&mut self, value: &Bound<'py, PyAny>) -> PyResult<Expr> {
        let py = self.py;
        if value.is_none() || value.is_exact_instance_of::<PyBool>() {
            return Ok(Expr::Lit(value.clone().unbind()));
        }
        if value.is_instance(self.types.graph_node.bind(py))? {
            return self.node(value);
        }
        if let Ok(tuple) = value.cast_exact::<PyTuple>() {
            if let Ok(func) = tuple.get_item(0) {
                if func.is_callable() {
                    return self.legacy_task(&func, tuple);
                }
            }
        }
        if is_key_type(value) && self.keys.contains(value) {
            return self.dep(value);
        }
        if value.is_instance_of::<PyString>() {
            return Ok(Expr::Lit(value.clone().unbind()));
        }
        if value.is_instance_of::<PyList>()
            || value.is_instance_of::<PyTuple>()
            || value.is_instance_of::<PySet>()
            || value.is_instance_of::<PyFrozenSet>()
        {
            return self.legacy_collection(value);
        }
        if value.is_instance(self.types.task_ref.bind(py))? || is_dask_future(value)? {
            return self.dep(&value.getattr(pyo3::intern!(py, "key"))?);
        }
        Ok(Expr::Lit(value.clone().unbind()))
    }

    /// `(func, *args)`: a dict argument is a `Dict` of the task spec.
    fn legacy_task(
        &mut self,
        func: &Bound<'py, PyAny>,
        tuple: &Bound<'py, PyTuple>,
    ) -> PyResult<Expr> {
        let mut args = Vec::with_capacity(tuple.len() - 1);
        for arg in tuple.iter().skip(1) {
            let expr = match arg.cast::<PyDict>() {
                Ok(dict) => {
                    let mut pairs = Vec::with_capacity(dict.len());
                    for (k, v) in dict.iter() {
                        pairs.push((self.arg(&k)?, self.arg(&v)?));
                    }
                    if pairs.iter().all(|(k, v)| k.is_literal() && v.is_literal()) {
                        Expr::Lit(dict.copy()?.into_any().unbind())
                    } else {
                        Expr::Dict(pairs)
                    }
                }
                Err(_) => self.legacy(&arg)?,
            };
            args.push(expr);
        }
        Ok(Expr::Call(Box::new(Call {
            func: func.clone().unbind(),
            args,
            kwargs: Vec::new(),
        })))
    }

    /// A list, tuple, set or frozenset of the legacy form.
    fn legacy_collection(&mut self, value: &Bound<'py, PyAny>) -> PyResult<Expr> {
        let py = self.py;
        if value.is_instance_of::<PyTuple>() && value.hasattr(pyo3::intern!(py, "_fields"))? {
            // A named tuple: rebuilt by dask's own conversion.
            let converted = self.types.convert_legacy.bind(py).call1((
                value,
                &self.keys.dsk,
                self.keys.cache.as_ref(),
            ))?;
            if converted.is_instance(self.types.graph_node.bind(py))? {
                return self.node(&converted);
            }
            return Ok(Expr::Lit(converted.unbind()));
        }
        let items = value
            .try_iter()?
            .map(|item| self.legacy(&item?))
            .collect::<PyResult<Vec<Expr>>>()?;
        let ty = value.get_type();
        if items.iter().all(Expr::is_literal) {
            // dask rebuilds the collection: a task that changes a list it is
            // given does not change the graph's.
            let literal = |e: Expr| match e {
                Expr::Lit(v) => v.into_bound(py),
                _ => unreachable!("all literal"),
            };
            let items = items.into_iter().map(literal);
            let copy = if ty.is(py.get_type::<PyList>()) {
                PyList::new(py, items)?.into_any()
            } else if ty.is(py.get_type::<PySet>()) {
                PySet::new(py, items)?.into_any()
            } else {
                value.clone()
            };
            return Ok(Expr::Lit(copy.unbind()));
        }
        let kind = if ty.is(py.get_type::<PyList>()) {
            SeqKind::List
        } else if ty.is(py.get_type::<PyTuple>()) {
            SeqKind::Tuple
        } else if ty.is(py.get_type::<PySet>()) {
            SeqKind::Set
        } else if ty.is(py.get_type::<PyFrozenSet>()) {
            SeqKind::FrozenSet
        } else {
            SeqKind::Cast(ty.into_any().unbind())
        };
        Ok(Expr::Seq(kind, items))
    }

    /// The value of `key`: an input of this task.
    fn dep(&mut self, key: &Bound<'py, PyAny>) -> PyResult<Expr> {
        let slot = self.keys.slot(key)?;
        Ok(Expr::Dep(self.position(slot)))
    }

    /// The input position of `slot`, added as an input when new.
    fn position(&mut self, slot: usize) -> u32 {
        if self.deps.len() <= LINEAR_DEPS {
            if let Some(i) = self.deps.iter().position(|&s| s == slot) {
                return i as u32;
            }
        } else {
            if self.positions.is_empty() {
                self.positions = (self.deps.iter().enumerate())
                    .map(|(i, &s)| (s, i as u32))
                    .collect();
            }
            if let Some(&i) = self.positions.get(&slot) {
                return i;
            }
            self.positions.insert(slot, self.deps.len() as u32);
        }
        self.deps.push(slot);
        (self.deps.len() - 1) as u32
    }
}

/// Values that are never a task, a key reference or a container (a str may
/// still be a key of the legacy form).
fn is_plain(value: &Bound<'_, PyAny>) -> bool {
    value.is_none()
        || value.is_exact_instance_of::<PyInt>()
        || value.is_exact_instance_of::<PyFloat>()
        || value.is_exact_instance_of::<PyString>()
        || value.is_exact_instance_of::<PyBool>()
}

/// The types a legacy key can have (`convert_legacy_task`'s check).
fn is_key_type(value: &Bound<'_, PyAny>) -> bool {
    value.is_instance_of::<PyString>()
        || value.is_instance_of::<PyTuple>()
        || value.is_instance_of::<PyInt>()
        || value.is_instance_of::<PyFloat>()
}

/// `getattr(value, "__dask_future__", False)`, truthy.
fn is_dask_future(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    match value.getattr_opt(pyo3::intern!(value.py(), "__dask_future__"))? {
        Some(flag) => flag.is_truthy(),
        None => Ok(false),
    }
}
