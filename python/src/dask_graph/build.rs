//! Builds the hpyx nodes of a dask graph: one node per task needed by the
//! requested keys (and no other: dask computes only what they need), each
//! with edges to the nodes of the keys it needs. An iterative depth-first
//! walk from the requested keys builds a node once its dependencies' nodes
//! exist, so a 100,000-long chain needs no deep stack; a key met again
//! while its own dependencies are being walked closes a cycle.

use std::sync::Arc;

use hpyx_graph::{NodeRef, TaskGraph};
use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use super::keys::{node_name, Keys, Slot};
use super::run::{task_node, RunShared};
use super::spec_types::SpecTypes;
use super::walk::{TaskWalk, TopLevel};

pub(crate) fn build<'py>(
    py: Python<'py>,
    graph: &TaskGraph,
    types: &SpecTypes,
    keys: &mut Keys<'py>,
    run: &Arc<RunShared>,
    wanted: &[usize],
) -> PyResult<()> {
    let mut stack = Vec::new();
    for &root in wanted {
        stack.push(root);
        while let Some(&slot) = stack.last() {
            match &mut keys.slots[slot] {
                Slot::Built(_) => {
                    stack.pop();
                }
                Slot::Unvisited(key) => {
                    let key = key.clone_ref(py).into_bound(py);
                    visit(py, graph, types, keys, &stack, slot, &key)?;
                }
                Slot::Walking { deps, next, .. } => {
                    if let Some(&dep) = deps.get(*next) {
                        *next += 1;
                        match &keys.slots[dep] {
                            Slot::Built(_) => {}
                            Slot::Unvisited(_) => stack.push(dep),
                            Slot::Walking { .. } => return Err(cycle(py, keys, &stack, dep)),
                        }
                        continue;
                    }
                    let Slot::Walking {
                        key, expr, deps, ..
                    } = std::mem::replace(&mut keys.slots[slot], Slot::Unvisited(py.None()))
                    else {
                        unreachable!("matched above")
                    };
                    let key = key.into_bound(py);
                    let inputs: Vec<NodeRef> = deps
                        .iter()
                        .map(|&d| NodeRef::from(keys.future(d)))
                        .collect();
                    let hook_key = run.has_hooks().then(|| key.clone().unbind());
                    let future =
                        task_node(graph, node_name(&key)?, inputs, expr, hook_key, run.clone());
                    keys.slots[slot] = Slot::Built(future);
                    stack.pop();
                }
            }
        }
    }
    Ok(())
}

/// Looks at the value of a key met for the first time.
fn visit<'py>(
    py: Python<'py>,
    graph: &TaskGraph,
    types: &SpecTypes,
    keys: &mut Keys<'py>,
    stack: &[usize],
    slot: usize,
    key: &Bound<'py, PyAny>,
) -> PyResult<()> {
    let cached = match &keys.cache {
        Some(cache) => cache.get_item(key)?,
        None => None,
    };
    let top = match cached {
        Some(value) => TopLevel::Data(value.unbind()),
        None => match keys.dsk.get_item(key)? {
            Some(spec) => {
                let mut walk = TaskWalk::new(py, types, keys);
                match walk.top_level(key, &spec)? {
                    TopLevel::Task(expr) => {
                        let deps = std::mem::take(&mut walk.deps);
                        keys.slots[slot] = Slot::Walking {
                            key: key.clone().unbind(),
                            expr,
                            deps,
                            next: 0,
                        };
                        return Ok(());
                    }
                    other => other,
                }
            }
            None => TopLevel::Dropped,
        },
    };
    match top {
        TopLevel::Data(value) => {
            keys.slots[slot] = Slot::Built(graph.ready(node_name(key)?, value));
            Ok(())
        }
        _ => Err(missing(py, keys, stack, key)),
    }
}

/// A requested key that is not in the graph: `KeyError`, as dask raises;
/// a dependency that is not: dask's "Missing dependency" `ValueError`.
fn missing(py: Python<'_>, keys: &Keys<'_>, stack: &[usize], key: &Bound<'_, PyAny>) -> PyErr {
    let Some(&dependent) = stack.len().checked_sub(2).map(|i| &stack[i]) else {
        return PyKeyError::new_err(key.clone().unbind());
    };
    let dependent = keys.key(dependent).bind(py);
    let describe = |o: &Bound<'_, PyAny>, f: fn(&Bound<'_, PyAny>) -> PyResult<String>| {
        f(o).unwrap_or_else(|_| "<key>".to_owned())
    };
    PyValueError::new_err(format!(
        "Missing dependency {} for dependents {{{}}}",
        describe(key, |o| Ok(o.str()?.to_string())),
        describe(dependent, |o| Ok(o.repr()?.to_string())),
    ))
}

/// The error for a cycle closed by `dep`, which is on `stack`: dask's words.
fn cycle(py: Python<'_>, keys: &Keys<'_>, stack: &[usize], dep: usize) -> PyErr {
    let start = stack.iter().position(|&s| s == dep).unwrap_or(0);
    let names: Vec<String> = stack[start..]
        .iter()
        .chain(std::iter::once(&dep))
        .map(|&s| {
            keys.key(s)
                .bind(py)
                .str()
                .map(|s| s.to_string())
                .unwrap_or_else(|_| "<key>".to_owned())
        })
        .collect();
    PyRuntimeError::new_err(format!(
        "Cycle detected between the following keys:\n  -> {}",
        names.join("\n  -> ")
    ))
}
