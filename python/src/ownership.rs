//! Who frees a value on the free-threaded build: a task's result is handed
//! over by the worker that made it, and a worker running out of work frees
//! what other threads released of its own objects.
//!
//! Free-threaded CPython counts references in two halves (biased reference
//! counting): the thread that made an object (its *owner*, `ob_tid`) counts
//! its own references in `ob_ref_local`, every other thread in the atomic
//! `ob_ref_shared`. When another thread releases a reference and finds the
//! shared half at zero, it cannot know whether the owner still holds
//! local references, so it queues the object on the owner's
//! merge queue and sets a bit on the owner's eval breaker
//! (`_Py_DecRefShared` and `_Py_brc_queue_object` in CPython 3.13's
//! `Objects/object.c` and `Python/brc.c`). Only the owner empties that
//! queue, when it next handles its eval breaker (at a Python function's
//! entry, or a loop's back edge), or a stop-the-world collection does.
//!
//! A pool worker makes a task's result and other threads consume it; then
//! the worker may call only C functions, or go to sleep, and never handle its
//! eval breaker: every value it made and others released stays allocated
//! until the next `gc.collect()` (a chain of 8 MiB steps held hundreds of
//! MiB). Two things keep that from happening:
//!
//! - [`hand_over`]: when a task returns a value whose only reference on its
//!   worker is the result itself, the worker turns that reference into a
//!   shared one, and its own local count reaches zero. CPython then
//!   *merges* the object (`_Py_MergeZeroLocalRefcount`): it belongs to no
//!   thread, and whichever thread releases its last reference frees it at
//!   once. The graph's values are exactly the objects that leave their
//!   worker, so this is where a pipeline's intermediates are freed; the
//!   items of a returned tuple (several results of one task) are handed
//!   over with it.
//! - [`run_merge_queue`]: a worker running out of work calls a Python
//!   function that does nothing, whose entry handles the eval breaker and so
//!   empties the merge queue. Other objects inside a result (a list's
//!   items, an instance's attributes) stay the worker's own: released by
//!   another thread, they are freed when the worker next runs Python code or
//!   goes idle, or by a collection.
//!
//! On GIL builds reference counts have one half and both are no-ops.

use pyo3::prelude::*;

/// A task's result, as it leaves the worker that ran the task: on a
/// free-threaded build, owned by no thread if the worker held no other
/// reference to it, and so are the items of a tuple it returned (see the
/// module documentation). Every value a worker makes for the graph goes
/// through it: a task's result (`task.rs`) and the tuples of `when_all` and
/// `when_any` (`combinators.rs`).
#[inline]
pub(crate) fn hand_over(value: Py<PyAny>) -> Py<PyAny> {
    #[cfg(Py_GIL_DISABLED)]
    {
        let op = value.as_ptr();
        // SAFETY: `value` is a strong reference to `op`, and a tuple holds
        // one to each of its items, which it never changes: each pointer
        // passed is a live object with a reference that is not ours alone
        // to drop but ours to re-count (`release_local`).
        unsafe {
            if release_local(op) && pyo3::ffi::PyTuple_CheckExact(op) != 0 {
                let items = pyo3::ffi::PyTuple_GET_SIZE(op);
                for i in 0..items {
                    release_local(pyo3::ffi::PyTuple_GET_ITEM(op, i));
                }
            }
        }
    }
    value
}

/// Moves one reference to `op` from this thread's local count to the shared
/// one if it is the only local reference, so that the object belongs to no
/// thread any more; true if it did.
///
/// # Safety
///
/// `op` is a live object and the caller holds a reference to it (directly
/// or through a container it holds) for the duration of the call.
#[cfg(Py_GIL_DISABLED)]
#[inline]
unsafe fn release_local(op: *mut pyo3::ffi::PyObject) -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    /// `_Py_REF_SHARED_SHIFT` (CPython's `Include/object.h`): the low bits
    /// of `ob_ref_shared` are flags.
    const ONE_SHARED: isize = 1 << 2;
    // SAFETY: by the caller's promise `op` is live and a reference to it is
    // held throughout; the read is of the object's own reference count
    // field. A local count of 1 on the owner is the held
    // reference alone (an immortal object's local count is `u32::MAX`);
    // read on a thread that is not the owner it may be any value, and the
    // two steps below then cancel out (shared +1, then shared -1, or a
    // queued decref the owner merges later), so no ownership check is
    // needed: together they are an increment and a decrement by one thread,
    // which CPython's counting allows from any thread.
    //
    // The add is what `Py_INCREF` does on a thread that is not the owner.
    // The owner's `Py_DECREF` then takes its local count to zero, and
    // `_Py_MergeZeroLocalRefcount` sees the shared reference, marks the
    // object merged and clears `ob_tid`: from then on every thread counts
    // it in the shared half, and the one taking it to zero frees it. The
    // held reference is now a shared one.
    unsafe {
        if (*op).ob_ref_local.load(Relaxed) != 1 {
            return false;
        }
        (*op).ob_ref_shared.fetch_add(ONE_SHARED, Relaxed);
        pyo3::ffi::Py_DECREF(op);
    }
    true
}

/// Empties this thread's merge queue, on a free-threaded build: a worker
/// running out of work calls it, attached (see the module documentation).
/// Calling a Python function that does nothing handles the eval breaker at
/// its entry, where CPython merges the queued objects and frees those no
/// thread holds any more; whatever else it handles there (a scheduled
/// garbage collection, a stop-the-world pause) is what any Python code
/// running on this thread would handle at that point.
pub(crate) fn run_merge_queue(py: Python<'_>) {
    #[cfg(Py_GIL_DISABLED)]
    {
        use pyo3::sync::PyOnceLock;
        static NOTHING: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let nothing = NOTHING.get_or_try_init(py, || {
            py.eval(c"lambda: None", None, None).map(Bound::unbind)
        });
        // Out of sight of profilers, tracers and `sys.monitoring` (tracing
        // suppresses their events, not the eval breaker's handling): this
        // call is hpyx's, not the program's.
        // SAFETY: attached (`py`), so this thread has a thread state.
        let tstate = unsafe { pyo3::ffi::PyThreadState_Get() };
        // SAFETY: `tstate` is this thread's, attached; the enter is balanced
        // by the leave below on the same thread state.
        unsafe { pyo3::ffi::PyThreadState_EnterTracing(tstate) };
        let called = nothing.and_then(|f| f.call0(py));
        // SAFETY: as above.
        unsafe { pyo3::ffi::PyThreadState_LeaveTracing(tstate) };
        match called {
            Ok(_) => {}
            // An asynchronous exception aimed at this thread
            // (`PyThreadState_SetAsyncExc`) is the only error the entry can
            // raise here, with no task to raise it in: report it.
            Err(e) => e.write_unraisable(py, None),
        }
    }
    #[cfg(not(Py_GIL_DISABLED))]
    let _ = py;
}
