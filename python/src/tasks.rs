//! The combinators that add nodes to the graph, called by the `hpyx`
//! package. Each task's function runs on a worker, attached to the
//! interpreter only while it calls into Python.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use hpyx_graph::{Inputs, NodeName, NodeRef, TaskError};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::errors;
use crate::future_types::future_types;
use crate::node::{PyNode, PyPromise, PyValue};
use crate::runtime::runtime;
use crate::tracked_futures::TrackedFutures;

/// A callable with a user-given node name: `hpyx.named(name, fn)`.
#[pyclass(frozen, module = "hpyx._core", name = "Named")]
pub(crate) struct Named {
    #[pyo3(get)]
    name: Py<PyString>,
    #[pyo3(get)]
    func: PyValue,
}

#[pymethods]
impl Named {
    #[new]
    fn py_new(name: Bound<'_, PyAny>, func: PyValue, py: Python<'_>) -> PyResult<Named> {
        let name = name.cast_into::<PyString>().map_err(|e| {
            PyTypeError::new_err(format!(
                "a task name must be a str, not {}",
                type_name(e.into_inner().as_any())
            ))
        })?;
        if !func.bind(py).is_callable() {
            return Err(PyTypeError::new_err(format!(
                "hpyx.named() needs a callable, got {}",
                type_name(func.bind(py))
            )));
        }
        Ok(Named {
            name: name.unbind(),
            func,
        })
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyValue> {
        self.func.bind(py).call(args, kwargs).map(Bound::unbind)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "hpyx.named({}, {})",
            self.name.bind(py).repr()?,
            self.func.bind(py).repr()?
        ))
    }
}

pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

/// Unwraps `hpyx.named`, checks the callable, and picks the node name: the
/// explicit `name`, the `Named` name, or the callable's `__qualname__`.
fn resolve(py: Python<'_>, func: PyValue, name: Option<String>) -> PyResult<(PyValue, NodeName)> {
    let bound = func.bind(py);
    if let Ok(named) = bound.cast::<Named>() {
        let named = named.get();
        let name = match name {
            Some(n) => n,
            None => named.name.bind(py).to_str()?.to_owned(),
        };
        return Ok((named.func.clone_ref(py), NodeName::from(name)));
    }
    if !bound.is_callable() {
        return Err(PyTypeError::new_err(format!(
            "'{}' object is not callable",
            type_name(bound)
        )));
    }
    let name = match name {
        Some(n) => NodeName::from(n),
        None => match bound.getattr(pyo3::intern!(py, "__qualname__")) {
            Ok(q) => match q.cast_into::<PyString>() {
                Ok(q) => cached_name(&q)?,
                Err(q) => NodeName::from(q.into_inner().str()?.to_str()?.to_owned()),
            },
            Err(_) => NodeName::from(type_name(bound)),
        },
    };
    Ok((func, name))
}

thread_local! {
    /// Recently seen `__qualname__` strings and their names. A function's
    /// `__qualname__` is the same str object on every access, so a task's
    /// name costs a pointer comparison. Holding the str keeps its address
    /// from being reused.
    static NAME_CACHE: RefCell<Vec<(Py<PyString>, NodeName)>> = const { RefCell::new(Vec::new()) };
}

const NAME_CACHE_SIZE: usize = 16;

/// Names interned for the rest of the process, at most [`INTERNED_MAX`] of
/// them: a task named by one is a static `NodeName`, which costs no
/// reference counting. A shared `Arc<str>` was cloned twice per task on the
/// submitting thread and released twice on a worker: one cache line
/// bouncing between the cores for every task of a million.
static INTERNED: std::sync::Mutex<Option<std::collections::HashSet<&'static str>>> =
    std::sync::Mutex::new(None);

/// Distinct task names interned at most (beyond it, names are shared
/// `Arc<str>`s): bounds what generated `__qualname__`s can pin.
const INTERNED_MAX: usize = 4096;

fn intern(text: &str) -> NodeName {
    let mut interned = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
    let interned = interned.get_or_insert_with(Default::default);
    if let Some(name) = interned.get(text) {
        return NodeName::from_static(name);
    }
    if interned.len() >= INTERNED_MAX {
        return NodeName::from(text.to_owned());
    }
    let name: &'static str = Box::leak(Box::from(text));
    interned.insert(name);
    NodeName::from_static(name)
}

fn cached_name(qualname: &Bound<'_, PyString>) -> PyResult<NodeName> {
    let hit = NAME_CACHE.with(|cache| {
        cache
            .borrow()
            .iter()
            .find(|(s, _)| s.as_ptr() == qualname.as_ptr())
            .map(|(_, name)| name.clone())
    });
    if let Some(name) = hit {
        return Ok(name);
    }
    let name = intern(qualname.to_str()?);
    NAME_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() == NAME_CACHE_SIZE {
            cache.remove(0);
        }
        cache.push((qualname.clone().unbind(), name.clone()));
    });
    Ok(name)
}

/// Positional and keyword arguments, built once attached.
type CallArgs<'py> = (Bound<'py, PyTuple>, Option<Bound<'py, PyDict>>);

/// Calls `func(*args, **kwargs)` attached to the interpreter, with the
/// arguments `build` makes there.
fn call(
    func: PyValue,
    build: impl for<'py> FnOnce(Python<'py>) -> PyResult<CallArgs<'py>>,
    name: &str,
) -> Result<PyValue, TaskError> {
    crate::fault::hit("task.before_call");
    crate::runtime::attach(|py| {
        let result = build(py).and_then(|(args, kwargs)| func.bind(py).call(args, kwargs.as_ref()));
        // Drop the function (and, with `build`, the arguments) while attached.
        drop(func);
        crate::fault::hit("task.after_call");
        result
            .map(Bound::unbind)
            .map_err(|e| errors::capture(py, e, name))
    })
    .unwrap_or_else(|| Err(errors::interpreter_gone()))
}

/// The stdlib's `Executor.submit` docstring, as this interpreter compiles it
/// (CPython 3.13 strips docstring indentation at compile time).
#[cfg(Py_3_13)]
macro_rules! stdlib_submit_doc {
    () => {
        "Submits a callable to be executed with the given arguments.\n\nSchedules the callable to be executed as fn(*args, **kwargs) and returns\na Future instance representing the execution of the callable.\n\nReturns:\n    A Future representing the given call.\n"
    };
}
#[cfg(not(Py_3_13))]
macro_rules! stdlib_submit_doc {
    () => {
        "Submits a callable to be executed with the given arguments.\n\n        Schedules the callable to be executed as fn(*args, **kwargs) and returns\n        a Future instance representing the execution of the callable.\n\n        Returns:\n            A Future representing the given call.\n        "
    };
}

/// The Rust half of `hpyx.HPXExecutor`: its closed flag and the futures it
/// still tracks (for `shutdown(wait=True)` and `cancel_futures`), under one
/// mutex, and `submit` in one call: no Python-level lock or bookkeeping per
/// task. Tracked weakly: the pool holds a node while it is pending or
/// running, and a finished one's value is freed as soon as the caller drops
/// it, as with the stdlib's executor. Finished futures are forgotten
/// whenever the list doubles, so a long-lived executor does not grow.
#[pyclass(frozen, module = "hpyx._core", name = "ExecutorCore")]
struct ExecutorCore {
    /// False for `hpyx.async_`, which needs no shutdown bookkeeping.
    track: bool,
    tracked: std::sync::Mutex<Tracked>,
}

struct Tracked {
    closed: bool,
    nodes: TrackedFutures<hpyx_graph::WeakFuture<PyValue>>,
    prune_at: usize,
}

const MIN_PRUNE_AT: usize = 1024;

#[pymethods]
impl ExecutorCore {
    #[new]
    #[pyo3(signature = (track=true))]
    fn new(track: bool) -> ExecutorCore {
        ExecutorCore {
            track,
            tracked: std::sync::Mutex::new(Tracked {
                closed: false,
                nodes: TrackedFutures::new(),
                prune_at: MIN_PRUNE_AT,
            }),
        }
    }

    // `HPXExecutor.submit`, bound to each executor (no Python frame per
    // call), with the stdlib's docstring.
    #[doc = stdlib_submit_doc!()]
    #[pyo3(signature = (r#fn, /, *args, **kwargs), text_signature = "(fn, /, *args, **kwargs)")]
    fn submit<'py>(
        &self,
        py: Python<'py>,
        r#fn: PyValue,
        args: Py<PyTuple>,
        kwargs: Option<Py<PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.submit_args(py, r#fn, args, kwargs)
    }

    // `hpyx.async_` (bound to the untracked spawner), with its docstring.
    #[doc = "Runs ``fn(*args, **kwargs)`` on the worker pool.\n\nArgs:\n    fn: The callable to run.\n    *args: Positional arguments for ``fn``.\n    **kwargs: Keyword arguments for ``fn``.\n\nReturns:\n    A Future for the result.\n"]
    #[pyo3(signature = (r#fn, /, *args, **kwargs), text_signature = "(fn, /, *args, **kwargs)")]
    fn async_<'py>(
        &self,
        py: Python<'py>,
        r#fn: PyValue,
        args: Py<PyTuple>,
        kwargs: Option<Py<PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.submit_args(py, r#fn, args, kwargs)
    }

    /// `executor.map(fn, *iterables, timeout=)`: schedules `func(*args)` for
    /// every tuple of `arg_tuples` (`zip(*iterables)`) now, and returns an
    /// iterator over the results in order. No `hpyx.Future` is made per item.
    #[pyo3(signature = (func, arg_tuples, timeout=None))]
    fn map(
        &self,
        py: Python<'_>,
        func: PyValue,
        arg_tuples: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<MapResults> {
        // As the stdlib: the deadline counts from the call.
        let deadline = timeout
            .map(|t| {
                if t.is_nan() {
                    Err(PyValueError::new_err("timeout must be a number, got nan"))
                } else {
                    Ok(Instant::now() + Duration::from_secs_f64(t.clamp(0.0, 1e9)))
                }
            })
            .transpose()?;
        let graph = runtime_unless_closed(self)?;
        let (func, name) = resolve(py, func, None)?;
        let mut nodes = VecDeque::new();
        let scheduled = arg_tuples.try_iter()?.try_for_each(|args| {
            let args = args?.cast_into::<PyTuple>()?.unbind();
            let body = task_body(func.clone_ref(py), args);
            nodes.push_back(self.spawn_tracked(&graph, body, name.clone())?);
            Ok::<_, PyErr>(())
        });
        // On an error (a raising iterable, shutdown) the items scheduled so
        // far still run, as with the stdlib's list of submits.
        scheduled?;
        Ok(MapResults {
            state: std::sync::Mutex::new(MapState {
                nodes,
                started: false,
            }),
            deadline,
        })
    }
    /// Closes the executor and hands back the futures it tracked.
    fn close(&self) -> Vec<PyNode> {
        let mut tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        tracked.closed = true;
        // The futures still alive: pending or running, or held elsewhere.
        tracked
            .nodes
            .take_all()
            .filter_map(|node| node.upgrade())
            .map(PyNode::new)
            .collect()
    }

    /// How many futures are tracked (for tests).
    fn __len__(&self) -> usize {
        self.tracked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .nodes
            .len()
    }
}

impl ExecutorCore {
    /// Schedules `func(*args, **kwargs)` and returns its `hpyx.Future`.
    fn submit_args<'py>(
        &self,
        py: Python<'py>,
        func: PyValue,
        args: Py<PyTuple>,
        kwargs: Option<Py<PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let graph = runtime_unless_closed(self)?;
        // Resolve the name before locking: it may run Python
        // (`__qualname__`), which must not happen under the lock.
        let (func, name) = resolve(py, func, None)?;
        let future = match kwargs {
            None => self.spawn_tracked(&graph, task_body(func, args), name)?,
            Some(kwargs) => {
                self.spawn_tracked(&graph, keyword_task_body(func, args, kwargs), name)?
            }
        };
        wrap(py, future)
    }

    /// Adds a task node and tracks it (tracking executors) or just adds it.
    fn spawn_tracked(
        &self,
        graph: &hpyx_graph::TaskGraph,
        body: impl FnOnce(&Inputs<'_>) -> Result<PyValue, TaskError> + Send + 'static,
        name: NodeName,
    ) -> PyResult<hpyx_graph::Future<PyValue>> {
        if !self.track {
            return Ok(spawn_node(graph, name, body));
        }
        // The nodes a prune looks at, dropped after unlocking: one of them
        // may hold the last reference to a task's result (its task has just
        // finished, its future is dropped), whose `__del__` may run any
        // Python, even `submit` on this executor (a deadlock under the
        // lock), or be held at a stop-the-world pause while other
        // submitters wait.
        let mut looked_at = Vec::new();
        let future = {
            let mut tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
            if tracked.closed {
                return Err(shut_down_error());
            }
            let future = spawn_node(graph, name, body);
            tracked.nodes.push(future.downgrade());
            if tracked.nodes.len() >= tracked.prune_at {
                // Forgets the finished and the gone.
                tracked.nodes.take_finished(|node| match node.upgrade() {
                    None => true,
                    Some(node) => {
                        let finished = node.is_finished();
                        looked_at.push(node);
                        finished
                    }
                });
                tracked.prune_at = MIN_PRUNE_AT.max(2 * tracked.nodes.len());
            }
            future
        };
        drop(looked_at);
        Ok(future)
    }
}

/// The iterator `HPXExecutor.map` returns: the results in order, each
/// waited for (until the map's deadline) when asked for, with the stdlib's
/// generator's behaviour (`close`, `send`, `throw`). Once an iteration has
/// started, its first exception (the task's, or `TimeoutError`), `close`,
/// `throw` or dropping it cancels the items not yet returned; before that,
/// nothing cancels them (a map whose result is never iterated runs every
/// item). Unlike a generator, threads may share it.
#[pyclass(frozen, module = "hpyx._core", name = "MapResults")]
struct MapResults {
    state: std::sync::Mutex<MapState>,
    deadline: Option<Instant>,
}

struct MapState {
    /// The items not yet returned, in order.
    nodes: VecDeque<hpyx_graph::Future<PyValue>>,
    /// False until the first `__next__`, `send`, `throw` or `close`: the
    /// generator's "just started", when ending it cancels nothing.
    started: bool,
}

impl MapResults {
    fn lock(&self) -> std::sync::MutexGuard<'_, MapState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends the iteration: the items not yet returned are cancelled if it
    /// had started (the generator's `finally`), else left to run.
    fn end(&self) {
        let (rest, started) = {
            let mut state = self.lock();
            let started = std::mem::replace(&mut state.started, true);
            (std::mem::take(&mut state.nodes), started)
        };
        if started {
            for node in &rest {
                node.cancel();
            }
        }
        // Dropped unlocked: a finished item's value may run any `__del__`.
        drop(rest);
    }

    /// The next result; `None` once exhausted.
    fn next_result(&self, py: Python<'_>) -> PyResult<Option<PyValue>> {
        let next = {
            let mut state = self.lock();
            state.started = true;
            state.nodes.pop_front()
        };
        let Some(next) = next else {
            return Ok(None);
        };
        let timeout = self
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()).as_secs_f64());
        let node = PyNode::new(next);
        node.result(py, timeout)
            .inspect_err(|_| {
                node.future.cancel();
                self.end();
            })
            .map(Some)
    }
}

#[pymethods]
impl MapResults {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyValue>> {
        self.next_result(py)
    }

    /// Returns the next result as `__next__` does, or raises StopIteration.
    /// As with a generator, a value other than None cannot be sent before
    /// the first result; any value sent is ignored.
    fn send(&self, py: Python<'_>, arg: &Bound<'_, PyAny>) -> PyResult<PyValue> {
        if !arg.is_none() && !self.lock().started {
            return Err(PyTypeError::new_err(
                "can't send non-None value to a just-started generator",
            ));
        }
        self.next_result(py)?
            .ok_or_else(|| pyo3::exceptions::PyStopIteration::new_err(()))
    }

    /// Raises the exception (built from `typ`, `val` and `tb` as a
    /// generator's `throw` builds it) and ends the iteration, cancelling
    /// the items not yet returned if it had started.
    #[pyo3(signature = (typ, val=None, tb=None))]
    fn throw(
        &self,
        py: Python<'_>,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyValue> {
        let exc = thrown(py, typ, val, tb)?;
        self.end();
        Err(exc)
    }

    /// Ends the iteration, cancelling the items not yet returned if it had
    /// started (a generator's `close`).
    fn close(&self) {
        self.end();
    }
}

impl Drop for MapResults {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if state.started {
            for node in &state.nodes {
                node.cancel();
            }
        }
    }
}

/// The exception `generator.throw(typ, val, tb)` raises, built as CPython
/// builds it (with its deprecation warning for more than one argument).
fn thrown(
    py: Python<'_>,
    typ: &Bound<'_, PyAny>,
    val: Option<&Bound<'_, PyAny>>,
    tb: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyErr> {
    let val = val.filter(|v| !v.is_none());
    let tb = tb.filter(|t| !t.is_none());
    if (val.is_some() || tb.is_some()) && py.version_info() >= (3, 12) {
        PyErr::warn(
            py,
            py.get_type::<pyo3::exceptions::PyDeprecationWarning>().as_any(),
            c"the (type, exc, tb) signature of throw() is deprecated, use the single-arg signature instead.",
            1,
        )?;
    }
    let base = py.get_type::<pyo3::exceptions::PyBaseException>();
    let exc = if typ.is_instance(&base)? {
        if val.is_some() {
            return Err(PyTypeError::new_err(
                "instance exception may not have a separate value",
            ));
        }
        typ.clone()
    } else if typ
        .cast::<pyo3::types::PyType>()
        .is_ok_and(|t| t.is_subclass(&base).unwrap_or(false))
    {
        match val {
            Some(v) if v.is_instance(typ)? => v.clone(),
            Some(v) if v.is_instance_of::<PyTuple>() => typ.call1(v.cast::<PyTuple>()?.clone())?,
            Some(v) => typ.call1((v,))?,
            None => typ.call0()?,
        }
    } else {
        return Err(PyTypeError::new_err(format!(
            "exceptions must be classes or instances deriving from BaseException, not {}",
            type_name(typ)
        )));
    };
    if let Some(tb) = tb {
        exc.call_method1(pyo3::intern!(py, "with_traceback"), (tb,))?;
    }
    Ok(PyErr::from_value(exc))
}

/// `submit` after `shutdown()`: the stdlib's exception and message.
fn shut_down_error() -> PyErr {
    PyRuntimeError::new_err("cannot schedule new futures after shutdown")
}

/// `submit` once the interpreter's exit has shut the pool down: the
/// stdlib's exception and message.
fn interpreter_shut_down_error() -> PyErr {
    PyRuntimeError::new_err("cannot schedule new futures after interpreter shutdown")
}

/// The running graph, unless `core` is closed: checked first, before the
/// arguments, as the stdlib does (and again under the lock when tracking).
fn runtime_unless_closed(core: &ExecutorCore) -> PyResult<hpyx_graph::TaskGraph> {
    if core.track
        && core
            .tracked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .closed
    {
        return Err(shut_down_error());
    }
    match runtime() {
        Ok(runtime) => Ok(runtime.graph),
        Err(_) if core.track && crate::runtime::shut_down_at_exit() => {
            Err(interpreter_shut_down_error())
        }
        Err(e) => Err(e),
    }
}

/// A new `hpyx.Future` (the registered type, see `future_types.rs`) around
/// `node`: `object.__new__` without `__init__`, the node in its
/// `FutureBase` part (see `future_base.rs`), left untracked by the cycle
/// collector (GIL builds).
/// Every future around a node is made here (`submit`, `async_`, and the
/// combinators built in Python through `_core.wrap`).
///
/// Untracked because such a future holds no reference the collector can
/// follow (its node is Rust's, invisible to the collector; it has no
/// `__dict__` yet), so it can be in no cycle; tracking a million of them made
/// every full collection walk them all, which cost up to a microsecond per
/// task at 1M pending futures on 3.11. `Future.__setattr__` tracks a future
/// again before it gets any attribute that could close a cycle.
pub(crate) fn wrap<'py>(
    py: Python<'py>,
    future: hpyx_graph::Future<PyValue>,
) -> PyResult<Bound<'py, PyAny>> {
    let types = future_types(py)?;
    let future = crate::future_base::new_future(types.hpyx.bind(py), future)?;
    // Not on free-threaded builds: their collector walks every object of the
    // heap, tracked or not, and scales its threshold with the *tracked*
    // survivors only, so a million untracked futures made it collect every
    // 2,000 allocations, each time over the whole heap (submit at 1M: from
    // 1.3 to 6 us per task on 3.13t).
    #[cfg(not(Py_GIL_DISABLED))]
    // SAFETY: `future` is a new, tracked instance of a GC type holding only
    // its node, which refers to no Python object the collector could see.
    unsafe {
        pyo3::ffi::PyObject_GC_UnTrack(future.as_ptr().cast())
    };
    Ok(future)
}

/// `_core.wrap(node)`: [`wrap`] for the combinators built in Python
/// (`hpyx._future._wrap`), so every future around a node is made one way.
#[pyfunction(name = "wrap")]
fn wrap_node<'py>(py: Python<'py>, node: Bound<'py, PyNode>) -> PyResult<Bound<'py, PyAny>> {
    wrap(py, node.get().future.clone())
}

/// `_core.track(obj)`: makes the cycle collector track `obj` again (a
/// future made by [`wrap`], before it gets an attribute).
#[pyfunction]
fn track(obj: &Bound<'_, PyAny>) {
    // SAFETY: `obj` is a valid object; only GC types are (un)tracked, and
    // only when not tracked already.
    unsafe {
        let ptr = obj.as_ptr();
        if pyo3::ffi::PyType_IS_GC(pyo3::ffi::Py_TYPE(ptr)) != 0
            && pyo3::ffi::PyObject_GC_IsTracked(ptr) == 0
        {
            pyo3::ffi::PyObject_GC_Track(ptr.cast());
        }
    }
}

/// The function of a task node: `func(*args)`, attached, with its exception
/// noted as raised in the task of the node's name. Two pointers, which the
/// graph keeps in the node itself (no allocation per task); with keywords
/// ([`keyword_task_body`]) it is boxed.
fn task_body(
    func: PyValue,
    args: Py<PyTuple>,
) -> impl FnOnce(&Inputs<'_>) -> Result<PyValue, TaskError> + Send + 'static {
    move |inputs: &Inputs<'_>| {
        call(
            func,
            move |py| Ok((args.into_bound(py), None)),
            inputs.name().as_str(),
        )
    }
}

/// [`task_body`] with keywords: `func(*args, **kwargs)`.
fn keyword_task_body(
    func: PyValue,
    args: Py<PyTuple>,
    kwargs: Py<PyDict>,
) -> impl FnOnce(&Inputs<'_>) -> Result<PyValue, TaskError> + Send + 'static {
    move |inputs: &Inputs<'_>| {
        call(
            func,
            move |py| Ok((args.into_bound(py), Some(kwargs.into_bound(py)))),
            inputs.name().as_str(),
        )
    }
}

/// A node without inputs running `body`: `TaskGraph::spawn`, but through
/// `dataflow` (with no inputs, the same node), whose function is handed the
/// node's name, so the function holds no copy of the name.
fn spawn_node(
    graph: &hpyx_graph::TaskGraph,
    name: NodeName,
    body: impl FnOnce(&Inputs<'_>) -> Result<PyValue, TaskError> + Send + 'static,
) -> hpyx_graph::Future<PyValue> {
    graph.dataflow(name, std::iter::empty(), body)
}

/// `_core.spawn`: a bare node for `func(*args, **kwargs)`, optionally named
/// (the Python package goes through `ExecutorCore` instead).
#[pyfunction]
#[pyo3(signature = (func, args, kwargs=None, name=None))]
fn spawn(
    py: Python<'_>,
    func: PyValue,
    args: Py<PyTuple>,
    kwargs: Option<Py<PyDict>>,
    name: Option<String>,
) -> PyResult<PyNode> {
    let graph = runtime()?.graph;
    let (func, name) = resolve(py, func, name)?;
    Ok(PyNode::new(match kwargs {
        None => spawn_node(&graph, name, task_body(func, args)),
        Some(kwargs) => spawn_node(&graph, name, keyword_task_body(func, args, kwargs)),
    }))
}

pub(crate) fn then(
    py: Python<'_>,
    node: &PyNode,
    func: PyValue,
    args: Py<PyTuple>,
    kwargs: Option<Py<PyDict>>,
    name: Option<String>,
) -> PyResult<PyNode> {
    let graph = runtime()?.graph;
    let (func, name) = resolve(py, func, name)?;
    let input = [NodeRef::from(&node.future)];
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
    Ok(PyNode::new(future))
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
/// worker's).
#[derive(Default)]
struct Slots {
    positions: u64,
    rest: Vec<Slot>,
}

impl Slots {
    fn push(&mut self, slot: Slot) {
        match slot {
            Slot::Arg(i) if i < 64 => self.positions |= 1 << i,
            slot => self.rest.push(slot),
        }
    }

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
    let mut slots = Slots::default();
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
    let (func, name) = resolve(py, r#fn, None)?;
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
        crate::runtime::attach(|py| {
            crate::fault::hit("when_all.build");
            let values = (0..inputs.len()).map(|k| {
                inputs
                    .value::<PyValue>(k)
                    .expect("when_all input succeeded")
                    .bind(py)
                    .clone()
            });
            PyTuple::new(py, values)
                .map(|t| t.into_any().unbind())
                .map_err(|e| errors::capture(py, e, "when_all"))
        })
        .unwrap_or_else(|| Err(errors::interpreter_gone()))
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
        crate::runtime::attach(|py| {
            (index, futures.bind(py).clone())
                .into_pyobject(py)
                .map(|t| t.into_any().unbind())
                .map_err(|e| errors::capture(py, e, "when_any"))
        })
        .unwrap_or_else(|| Err(errors::interpreter_gone()))
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
    m.add_class::<Named>()?;
    m.add_class::<ExecutorCore>()?;
    m.add_function(wrap_pyfunction!(spawn, m)?)?;
    m.add_function(wrap_pyfunction!(dataflow, m)?)?;
    m.add_function(wrap_pyfunction!(when_all, m)?)?;
    m.add_function(wrap_pyfunction!(when_any, m)?)?;
    m.add_function(wrap_pyfunction!(ready, m)?)?;
    m.add_function(wrap_pyfunction!(promise, m)?)?;
    m.add_function(wrap_pyfunction!(track, m)?)?;
    m.add_class::<MapResults>()?;
    m.add_function(wrap_pyfunction!(wrap_node, m)?)?;
    Ok(())
}
