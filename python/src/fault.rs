//! Test-only fault injection: `hpyx._core._inject_panic(point, count)` makes
//! the next `count` passes through the glue point `point` panic, so the tests
//! can check that every such panic reaches Python as `hpyx.InternalError` on
//! the affected future and that the pool goes on.
//!
//! Compiled in only with the `fault-injection` feature (the dev/test builds
//! of `scripts/setup.sh`); without it [`hit`] is an empty inline function and
//! `_inject_panic` does not exist. Release wheels never have it.

/// The glue's fault points, where `hit` is called.
#[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
pub(crate) const POINTS: &[&str] = &[
    // task.rs `call()`: before attaching to run a task's function.
    "task.before_call",
    // task.rs `call()`: after the function returned, still attached.
    "task.after_call",
    // combinators.rs `then()`: while building a continuation's arguments.
    "then.build_args",
    // combinators.rs `when_all()`: while building the tuple of values.
    "when_all.build",
    // node.rs `on_complete()`: in the completion callback, before calling it.
    "callback",
];

#[cfg(feature = "fault-injection")]
mod imp {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use pyo3::exceptions::PyValueError;
    use pyo3::prelude::*;

    use super::POINTS;

    /// Panics still to inject, per point (indexed like `POINTS`).
    static REMAINING: Mutex<Vec<usize>> = Mutex::new(Vec::new());
    /// Sum of `REMAINING`: the fast path when nothing is armed.
    static ARMED: AtomicUsize = AtomicUsize::new(0);

    pub(crate) fn hit(point: &str) {
        if ARMED.load(Ordering::Acquire) == 0 {
            return;
        }
        let fire = {
            let mut remaining = REMAINING.lock().unwrap_or_else(|e| e.into_inner());
            match POINTS.iter().position(|p| *p == point) {
                Some(i) if remaining.get(i).copied().unwrap_or(0) > 0 => {
                    remaining[i] -= 1;
                    ARMED.fetch_sub(1, Ordering::AcqRel);
                    true
                }
                _ => false,
            }
        };
        if fire {
            panic!("hpyx fault injection at {point:?}");
        }
    }

    fn index(point: &str) -> PyResult<usize> {
        POINTS.iter().position(|p| *p == point).ok_or_else(|| {
            PyValueError::new_err(format!(
                "unknown fault point {point:?}; the points are {POINTS:?}"
            ))
        })
    }

    /// Makes the next `count` passes through `point` panic (0 disarms it).
    #[pyfunction]
    fn _inject_panic(point: &str, count: usize) -> PyResult<()> {
        let i = index(point)?;
        let mut remaining = REMAINING.lock().unwrap_or_else(|e| e.into_inner());
        if remaining.len() < POINTS.len() {
            remaining.resize(POINTS.len(), 0);
        }
        let old = std::mem::replace(&mut remaining[i], count);
        ARMED.fetch_add(count, Ordering::AcqRel);
        ARMED.fetch_sub(old, Ordering::AcqRel);
        Ok(())
    }

    /// How many panics `point` still has to inject.
    #[pyfunction]
    fn _injected_remaining(point: &str) -> PyResult<usize> {
        let i = index(point)?;
        let remaining = REMAINING.lock().unwrap_or_else(|e| e.into_inner());
        Ok(remaining.get(i).copied().unwrap_or(0))
    }

    pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("_FAULT_POINTS", POINTS.to_vec())?;
        m.add_function(wrap_pyfunction!(_inject_panic, m)?)?;
        m.add_function(wrap_pyfunction!(_injected_remaining, m)?)?;
        Ok(())
    }
}

#[cfg(feature = "fault-injection")]
pub(crate) use imp::{hit, register};

/// A fault point; nothing without the `fault-injection` feature.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn hit(_point: &str) {}

#[cfg(not(feature = "fault-injection"))]
pub(crate) fn register(_m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
    Ok(())
}
