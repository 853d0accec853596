//! Builds the hpyx nodes of a dask graph: one node per task needed by the
//! requested keys (and no other: dask computes only what they need), each
//! with edges to the nodes of the keys it needs.
//!
//! Two passes, so that a result is held by exactly the nodes that still
//! need it. The walk (attached) looks at every needed key: an iterative
//! depth-first walk from the requested keys, so a 100,000-long chain needs
//! no deep stack, which finds each task's dependencies, closes a cycle
//! when it meets a key again while walking that key's own dependencies,
//! and lists the tasks dependencies first. Only then are the nodes made
//! (detached, so workers run the first tasks meanwhile), in that order:
//! once the last node that needs a key exists, the table lets go of that
//! key's node. Made during the walk, a node would have to stay in the
//! table until the walk ended (any key still unseen may need it), and its
//! value with it, however early it had run.

use std::sync::Arc;

use hpyx_graph::{Future, NodeRef, TaskGraph};
use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use super::keys::{node_name, Keys, Slot};
use super::run::{task_node, RunShared};
use super::spec_types::SpecTypes;
use super::walk::{TaskWalk, TopLevel};
use crate::node::PyValue;
use crate::thread_state;

/// Builds the nodes of the tasks the keys of `wanted` (slots) need, and
/// returns the nodes of `wanted`, in order.
pub(crate) fn build<'py>(
    py: Python<'py>,
    graph: &TaskGraph,
    types: &SpecTypes,
    keys: &mut Keys<'py>,
    run: &Arc<RunShared>,
    wanted: &[usize],
) -> PyResult<Vec<Future<PyValue>>> {
    let order = walk(py, graph, types, keys, run, wanted)?;
    let slots = std::mem::take(&mut keys.slots);
    Ok(thread_state::detach(py, || {
        make_nodes(graph, slots, &order, wanted, run)
    }))
}

/// The walk: every needed key's slot ends `Walked` (a task) or `Built` (a
/// value); returns the walked tasks, each after its dependencies.
fn walk<'py>(
    py: Python<'py>,
    graph: &TaskGraph,
    types: &SpecTypes,
    keys: &mut Keys<'py>,
    run: &RunShared,
    wanted: &[usize],
) -> PyResult<Vec<usize>> {
    let mut order = Vec::new();
    let mut stack = Vec::new();
    for &root in wanted {
        stack.push(root);
        while let Some(&slot) = stack.last() {
            match &mut keys.slots[slot] {
                Slot::Built(_) | Slot::Walked { .. } => {
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
                            Slot::Unvisited(_) => stack.push(dep),
                            Slot::Walking { .. } => return Err(cycle(py, keys, &stack, dep)),
                            _ => {}
                        }
                        continue;
                    }
                    let Slot::Walking {
                        key, expr, deps, ..
                    } = std::mem::replace(&mut keys.slots[slot], Slot::Released)
                    else {
                        unreachable!("matched above")
                    };
                    let key = key.into_bound(py);
                    keys.slots[slot] = Slot::Walked {
                        name: node_name(&key)?,
                        hook_key: run.has_hooks().then(|| key.unbind()),
                        expr,
                        deps,
                    };
                    order.push(slot);
                    stack.pop();
                }
                Slot::Released => unreachable!("no node is made during the walk"),
            }
        }
    }
    Ok(order)
}

/// Makes the walked tasks' nodes in `order` (dependencies first); a slot
/// is released once every node that needs it exists, unless requested.
fn make_nodes(
    graph: &TaskGraph,
    mut slots: Vec<Slot>,
    order: &[usize],
    wanted: &[usize],
    run: &Arc<RunShared>,
) -> Vec<Future<PyValue>> {
    // How many nodes still to make need each slot; a requested slot counts
    // one more, never made, so it is kept.
    let mut needed_by = vec![0u32; slots.len()];
    for &slot in order {
        if let Slot::Walked { deps, .. } = &slots[slot] {
            for &dep in deps {
                needed_by[dep] += 1;
            }
        }
    }
    for &slot in wanted {
        needed_by[slot] += 1;
    }
    for &slot in order {
        let Slot::Walked {
            name,
            hook_key,
            expr,
            deps,
        } = std::mem::replace(&mut slots[slot], Slot::Released)
        else {
            unreachable!("each walked slot is listed once")
        };
        let inputs: Vec<NodeRef> = deps
            .iter()
            .map(|&dep| NodeRef::from(built(&slots, dep)))
            .collect();
        slots[slot] = Slot::Built(task_node(graph, name, inputs, expr, hook_key, run.clone()));
        for dep in deps {
            needed_by[dep] -= 1;
            if needed_by[dep] == 0 {
                slots[dep] = Slot::Released;
            }
        }
    }
    wanted
        .iter()
        .map(|&slot| built(&slots, slot).clone())
        .collect()
}

/// The node of a slot whose node exists and is still held.
fn built(slots: &[Slot], slot: usize) -> &Future<PyValue> {
    match &slots[slot] {
        Slot::Built(future) => future,
        _ => unreachable!("slot {slot} has no node held"),
    }
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
