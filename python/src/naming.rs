//! Task names: `hpyx.named(name, fn)`, and the name a task's node gets
//! otherwise (the callable's `__qualname__`), interned so that naming a task
//! costs a pointer comparison and no reference counting.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Mutex;

use hpyx_graph::NodeName;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::node::PyValue;

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

/// The name of `obj`'s type, for error messages.
pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

/// Unwraps `hpyx.named`, checks the callable, and picks the node name: the
/// `Named` name, or the callable's `__qualname__` (its type's name if it has
/// none).
pub(crate) fn resolve(py: Python<'_>, func: PyValue) -> PyResult<(PyValue, NodeName)> {
    let bound = func.bind(py);
    if let Ok(named) = bound.cast::<Named>() {
        let named = named.get();
        let name = named.name.bind(py).to_str()?.to_owned();
        return Ok((named.func.clone_ref(py), NodeName::from(name)));
    }
    if !bound.is_callable() {
        return Err(PyTypeError::new_err(format!(
            "'{}' object is not callable",
            type_name(bound)
        )));
    }
    let name = match bound.getattr(pyo3::intern!(py, "__qualname__")) {
        Ok(q) => match q.cast_into::<PyString>() {
            Ok(q) => cached_name(&q)?,
            Err(q) => NodeName::from(q.into_inner().str()?.to_str()?.to_owned()),
        },
        Err(_) => NodeName::from(type_name(bound)),
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
/// reference counting. A shared `Arc<str>` would be cloned twice per task
/// on the submitting thread and released twice on a worker: one cache line
/// bouncing between the cores for every task.
static INTERNED: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

/// Distinct task names interned at most (beyond it, names are shared
/// `Arc<str>`s): bounds what generated `__qualname__`s can pin.
const INTERNED_MAX: usize = 4096;

/// The interned name for `text`, or a shared one past [`INTERNED_MAX`].
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

/// The name for a `__qualname__`: from this thread's cache if the same str
/// was seen lately, else interned (and cached).
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

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Named>()?;
    Ok(())
}
