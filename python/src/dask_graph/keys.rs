//! The keys of one dask graph being built: each key met (requested, or
//! needed by a task) gets a slot, found again through a dict keyed by the
//! dask key itself (dask's keys are any hashable: str, tuple, int...).

use hpyx_graph::{Future, NodeName};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyString, PyTuple};

use super::expr::Expr;
use crate::node::PyValue;

pub(crate) enum Slot {
    /// Needed, not yet looked at.
    Unvisited(PyValue),
    /// Its task is walked and waits for the nodes of its dependencies
    /// (`deps`, slots) to be built, the first `next` of them already seen.
    Walking {
        key: PyValue,
        expr: Expr,
        deps: Vec<usize>,
        next: usize,
    },
    /// Its task and its dependencies are walked; its node is made once
    /// the whole graph is walked (see `build.rs`).
    Walked {
        name: NodeName,
        /// The key, kept only for the `pre`/`post` callbacks.
        hook_key: Option<PyValue>,
        expr: Expr,
        deps: Vec<usize>,
    },
    /// Its node exists.
    Built(Future<PyValue>),
    /// Its node exists and every node that needs it holds it: the table
    /// lets go, so its value is released once those have run.
    Released,
}

pub(crate) struct Keys<'py> {
    pub(crate) dsk: Bound<'py, PyDict>,
    pub(crate) cache: Option<Bound<'py, PyDict>>,
    index: Bound<'py, PyDict>,
    pub(crate) slots: Vec<Slot>,
}

impl<'py> Keys<'py> {
    pub(crate) fn new(dsk: Bound<'py, PyDict>, cache: Option<Bound<'py, PyDict>>) -> Self {
        let index = PyDict::new(dsk.py());
        Keys {
            dsk,
            cache,
            index,
            slots: Vec::new(),
        }
    }

    /// True if `key` is a key of the graph or of the cache of results given
    /// (dask's `all_keys`); an unhashable value is no key.
    pub(crate) fn contains(&self, key: &Bound<'py, PyAny>) -> bool {
        self.dsk.contains(key).unwrap_or(false)
            || self
                .cache
                .as_ref()
                .is_some_and(|c| c.contains(key).unwrap_or(false))
    }

    /// The slot of `key`, made on first use.
    pub(crate) fn slot(&mut self, key: &Bound<'py, PyAny>) -> PyResult<usize> {
        if let Some(slot) = self.index.get_item(key)? {
            return slot.extract();
        }
        let slot = self.slots.len();
        self.index.set_item(key, slot)?;
        self.slots.push(Slot::Unvisited(key.clone().unbind()));
        Ok(slot)
    }

    /// The key of a slot not yet built.
    pub(crate) fn key(&self, slot: usize) -> &PyValue {
        match &self.slots[slot] {
            Slot::Unvisited(key) | Slot::Walking { key, .. } => key,
            _ => unreachable!("slot {slot} is walked"),
        }
    }
}

/// A node's name: its dask key as dask prints it (`'x'` as `x`,
/// `('x', 0)` as `('x', 0)`), formatted here for the usual str and
/// int parts rather than by a Python `repr` per task.
pub(crate) fn node_name(key: &Bound<'_, PyAny>) -> PyResult<NodeName> {
    if let Ok(s) = key.cast::<PyString>() {
        return Ok(NodeName::from(s.to_str()?.to_owned()));
    }
    if let Ok(tuple) = key.cast::<PyTuple>() {
        let mut name = String::from("(");
        for (i, part) in tuple.iter().enumerate() {
            if i > 0 {
                name.push_str(", ");
            }
            if let Ok(s) = part.cast::<PyString>() {
                name.push('\'');
                name.push_str(s.to_str()?);
                name.push('\'');
            } else if let Some(n) = part
                .cast::<PyInt>()
                .ok()
                .and_then(|n| n.extract::<i64>().ok())
            {
                name.push_str(&n.to_string());
            } else {
                name.push_str(&part.repr()?.to_string());
            }
        }
        name.push_str(if tuple.len() == 1 { ",)" } else { ")" });
        return Ok(NodeName::from(name));
    }
    Ok(NodeName::from(key.str()?.to_string()))
}
