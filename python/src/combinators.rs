//! The combinators: `Future.then`, `hpyx.dataflow`, `hpyx.when_all`,
//! `hpyx.when_any`, `hpyx.ready_future` and the promise behind
//! `hpyx.Future()`. Each adds one node to the graph, waiting for the nodes
//! of its input futures; a node that calls Python does it through
//! `task.rs`.

use hpyx_graph::{Future, Inputs, NodeName, NodeRef, TaskError};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::errors;
use crate::future::make::{future_types, wrap};
use crate::naming::resolve;
use crate::node::{PyNode, PyPromise, PyValue};
use crate::ownership;
use crate::runtime::runtime;
use crate::task::{attach_unless_finalizing, call, CallArgs};

/// `future.then(fn, *args, **kwargs)` (`FutureBase.then`): a node that runs
/// `fn(value, *args, **kwargs)` once `input` succeeds, and its new
/// `hpyx.Future`. If `input` fails or is cancelled, the node ends the same
/// way without running `fn` (the graph propagates it).
pub(crate) fn then<'py>(
    py: Python<'py>,
    input: &Future<PyValue>,
    func: PyValue,
    args: Py<PyTuple>,
    kwargs: Option<Py<PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let graph = runtime()?.graph;
    let (func, name) = resolve(py, func)?;
    let input = [NodeRef::from(input)];
    // The function reads the node's name from `Inputs` (no copy of it), and
    // `then(fn)` alone, the common case, captures just `fn`: 8 bytes, kept
    // in the node, where `fn` with arguments (24 bytes) is boxed.
    let future = if args.bind(py).is_empty() && kwargs.is_none() {
        graph.dataflow(name, input, move |inputs: &Inputs<'_>| {
            call_continuation(func, inputs, |py, value| {
                Ok((PyTuple::new(py, [value.clone_ref(py)])?, None))
            })
        })
    } else {
        graph.dataflow(name, input, move |inputs: &Inputs<'_>| {
            call_continuation(func, inputs, move |py, value| {
                let mut items = Vec::with_capacity(args.bind(py).len() + 1);
                items.push(value.clone_ref(py).into_bound(py));
                items.extend(args.bind(py).iter());
                Ok((PyTuple::new(py, items)?, kwargs.map(|k| k.into_bound(py))))
            })
        })
    };
    wrap(py, future)
}

/// Runs a `then` node's function: `func` called with the arguments
/// `build` makes from the node's one input value, which succeeded (the
/// graph runs a node's function only then).
fn call_continuation(
    func: PyValue,
    inputs: &Inputs<'_>,
    build: impl for<'py> FnOnce(Python<'py>, &PyValue) -> PyResult<CallArgs<'py>>,
) -> Result<PyValue, TaskError> {
    let value = inputs.value::<PyValue>(0).expect("then's input succeeded");
    call(
        func,
        move |py| {
            crate::fault::hit("then.build_args");
            build(py, value)
        },
        inputs.name().as_str(),
    )
}

/// Where a dataflow input's value goes: a positional index or a keyword.
enum Slot {
    Arg(usize),
    Kwarg(Py<PyString>),
}

/// Where each of a dataflow node's input values goes, in input order:
/// first the futures among positional arguments below 64, as a bit mask
/// (bit `i` for argument `i`), then any others in a list. Arguments are
/// scanned in order before keywords, so that is the order the node's inputs
/// were added in, and the usual `dataflow(f, a, b)` needs no list (one
/// allocation per node fewer, made on the caller's thread and freed on a
/// worker's). The list is a boxed slice: 16 bytes in the node's function,
/// which is kept for as long as the node is pending, where a `Vec` takes 24
/// and puts the function in a larger size class.
struct Slots {
    positions: u64,
    rest: Box<[Slot]>,
}

/// [`Slots`] while the arguments are scanned.
#[derive(Default)]
struct SlotsBuilder {
    positions: u64,
    rest: Vec<Slot>,
}

impl SlotsBuilder {
    fn push(&mut self, slot: Slot) {
        match slot {
            Slot::Arg(i) if i < 64 => self.positions |= 1 << i,
            slot => self.rest.push(slot),
        }
    }

    /// True if the `len` positional arguments are all futures and no
    /// keyword holds one (past 64 arguments, not known: false).
    fn all_positional(&self, len: usize) -> bool {
        let all = match len {
            0..64 => (1u64 << len) - 1,
            64 => u64::MAX,
            _ => return false,
        };
        self.rest.is_empty() && self.positions == all
    }

    fn build(self) -> Slots {
        Slots {
            positions: self.positions,
            rest: self.rest.into_boxed_slice(),
        }
    }
}

impl Slots {
    /// The slots in input order.
    fn iter(&self) -> impl Iterator<Item = SlotRef<'_>> {
        positions(self.positions)
            .map(SlotRef::Arg)
            .chain(self.rest.iter().map(|slot| match slot {
                Slot::Arg(i) => SlotRef::Arg(*i),
                Slot::Kwarg(key) => SlotRef::Kwarg(key),
            }))
    }
}

enum SlotRef<'a> {
    Arg(usize),
    Kwarg(&'a Py<PyString>),
}

/// The set bits of `mask`, lowest first.
fn positions(mut mask: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            i
        })
    })
}

/// Runs ``fn`` once every future among its arguments is done.
///
/// Futures among the positional and keyword arguments are replaced by
/// their values; plain values pass through. If an input future failed or
/// was cancelled, ``fn`` is not called and the result fails the same way
/// as the first such input in argument order.
///
/// Args:
///     fn: The callable to run.
///     *args: Positional arguments, futures or values.
///     **kwargs: Keyword arguments, futures or values.
///
/// Returns:
///     A Future for ``fn``'s result.
//
// `hpyx.dataflow` is this function (no Python frame per node): it finds the
// futures among `args` and `kwargs` (hpyx.Future directly, other stdlib
// futures through `_bridge`, see `future_types.rs`), adds one node that
// waits for them and runs `func` with their values in their places.
#[pyfunction]
#[pyo3(signature = (r#fn, /, *args, **kwargs))]
fn dataflow<'py>(
    py: Python<'py>,
    r#fn: PyValue,
    args: Py<PyTuple>,
    kwargs: Option<Py<PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let rt = runtime()?;
    let types = future_types(py)?;
    let node_of = |value: &Bound<'py, PyAny>| types.node_of(value);
    let mut nodes: Vec<NodeRef> = Vec::new();
    let mut slots = SlotsBuilder::default();
    for (index, arg) in args.bind(py).iter().enumerate() {
        if let Some(node) = node_of(&arg)? {
            nodes.push(node);
            slots.push(Slot::Arg(index));
        }
    }
    // An empty `**kwargs` dict is left out: nothing to scan or pass.
    let kwargs = kwargs.filter(|k| !k.bind(py).is_empty());
    if let Some(kwargs) = &kwargs {
        for (key, arg) in kwargs.bind(py).iter() {
            if let Some(node) = node_of(&arg)? {
                nodes.push(node);
                slots.push(Slot::Kwarg(key.cast_into::<PyString>()?.unbind()));
            }
        }
    }
    let (func, name) = resolve(py, r#fn)?;
    if kwargs.is_none() && slots.all_positional(args.bind(py).len()) {
        // Every argument is a future, in order (the usual `dataflow(f, a,
        // b)`): the values are the arguments, so the node keeps neither the
        // argument tuple nor the slots, and its function, `func` alone,
        // stays in the node instead of a 48-byte box.
        drop(args);
        let future = rt.graph.dataflow(name, nodes, move |inputs: &Inputs<'_>| {
            call(
                func,
                move |py| {
                    let values = (0..inputs.len()).map(|k| {
                        inputs
                            .value::<PyValue>(k)
                            .expect("dataflow input succeeded")
                            .bind(py)
                            .clone()
                    });
                    Ok((PyTuple::new(py, values)?, None))
                },
                inputs.name().as_str(),
            )
        });
        return wrap(py, future);
    }
    let slots = slots.build();
    let future = rt.graph.dataflow(name, nodes, move |inputs: &Inputs<'_>| {
        call(
            func,
            move |py| {
                let mut items: Vec<Bound<'_, PyAny>> = args.bind(py).iter().collect();
                let kwargs = kwargs.map(|k| k.into_bound(py));
                for (k, slot) in slots.iter().enumerate() {
                    let value = inputs
                        .value::<PyValue>(k)
                        .expect("dataflow input succeeded")
                        .bind(py)
                        .clone();
                    match (slot, &kwargs) {
                        (SlotRef::Arg(i), _) => items[i] = value,
                        (SlotRef::Kwarg(key), Some(kw)) => kw.set_item(key.bind(py), value)?,
                        (SlotRef::Kwarg(_), None) => {}
                    }
                }
                Ok((PyTuple::new(py, items)?, kwargs))
            },
            inputs.name().as_str(),
        )
    });
    wrap(py, future)
}

/// `hpyx.when_all`: a future for the tuple of the values of `futures` (a
/// list of futures), made in one call.
#[pyfunction]
fn when_all<'py>(py: Python<'py>, futures: Bound<'py, PyList>) -> PyResult<Bound<'py, PyAny>> {
    let rt = runtime()?;
    let types = future_types(py)?;
    let nodes = types.nodes_of(&futures, "when_all")?;
    let future = rt.graph.dataflow("when_all", nodes, |inputs: &Inputs<'_>| {
        attach_unless_finalizing(|py| {
            crate::fault::hit("when_all.build");
            let values = (0..inputs.len()).map(|k| {
                inputs
                    .value::<PyValue>(k)
                    .expect("when_all input succeeded")
                    .bind(py)
                    .clone()
            });
            PyTuple::new(py, values)
                .map(|t| ownership::hand_over(t.into_any().unbind()))
                .map_err(|e| errors::capture(py, e, "when_all"))
        })
    });
    wrap(py, future)
}

/// `hpyx.when_any`: a future for `(index, futures)`, `index` being the first
/// of `futures` (a list) to finish (failures count).
#[pyfunction]
fn when_any<'py>(py: Python<'py>, futures: Bound<'py, PyList>) -> PyResult<Bound<'py, PyAny>> {
    let rt = runtime()?;
    let types = future_types(py)?;
    let nodes = types.nodes_of(&futures, "when_any")?;
    let Some(first) = rt.graph.when_any(nodes) else {
        return Err(PyValueError::new_err(
            "when_any() needs at least one future",
        ));
    };
    let futures = futures.unbind();
    let future = first.then("when_any", move |index: &usize| {
        let index = *index;
        attach_unless_finalizing(|py| {
            (index, futures.bind(py).clone())
                .into_pyobject(py)
                .map(|t| ownership::hand_over(t.into_any().unbind()))
                .map_err(|e| errors::capture(py, e, "when_any"))
        })
    });
    wrap(py, future)
}

/// `hpyx.ready_future`: an already finished node.
#[pyfunction]
#[pyo3(signature = (value, name=None))]
fn ready(value: PyValue, name: Option<String>) -> PyResult<PyNode> {
    let rt = runtime()?;
    let name = name.map_or(NodeName::from_static("ready_future"), NodeName::from);
    Ok(PyNode::new(rt.graph.ready(name, value)))
}

/// `hpyx.Future()`: a node completed by `set_result` / `set_exception`.
#[pyfunction]
#[pyo3(signature = (name=None))]
fn promise(name: Option<String>) -> PyResult<PyPromise> {
    let rt = runtime()?;
    let name = name.map_or(NodeName::from_static("Future"), NodeName::from);
    let (promise, _future) = rt.graph.promise::<PyValue>(name);
    Ok(PyPromise::new(promise))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(dataflow, m)?)?;
    m.add_function(wrap_pyfunction!(when_all, m)?)?;
    m.add_function(wrap_pyfunction!(when_any, m)?)?;
    m.add_function(wrap_pyfunction!(ready, m)?)?;
    m.add_function(wrap_pyfunction!(promise, m)?)?;
    Ok(())
}
