//! Worker thread states: how a pool worker enters and leaves the
//! interpreter. The protocol (sticky attach, detached waits, parking at
//! finalization) and why it is safe are in `README.md` beside this file.
//!
//! The runtime's lifecycle (`runtime.rs`) installs the three worker hooks
//! ([`on_worker_start`], [`on_worker_idle`], [`on_worker_exit`]); everything
//! that runs Python on a worker goes through [`attach`], and everything that
//! blocks goes through [`detach`].

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyo3::ffi;
use pyo3::prelude::*;

use crate::ownership;

thread_local! {
    /// The worker's own thread state, kept from start to exit.
    static WORKER_THREAD_STATE: Cell<Option<(ffi::PyGILState_STATE, *mut ffi::PyThreadState)>> =
        const { Cell::new(None) };
    /// True while this worker stays attached between tasks.
    static STICKY: Cell<bool> = const { Cell::new(false) };
    /// Waits on this thread's stack: they detach, and tasks run while
    /// helping inside them attach and detach as usual.
    static WAIT_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// How many workers of the running pool have their thread state. A worker
/// creates it asynchronously, when it starts: see
/// [`wait_for_worker_thread_states`].
static WORKERS_ATTACHED: AtomicUsize = AtomicUsize::new(0);

/// The pool's worker-start hook: creates this worker's thread state and
/// keeps it, detached, until [`on_worker_exit`].
pub(crate) fn on_worker_start() {
    // SAFETY: the interpreter is initialised (this module was imported).
    // `PyGILState_Ensure` creates this thread's state and attaches it;
    // `PyEval_SaveThread` detaches again, keeping the state. Every later
    // `Python::attach` on this thread re-attaches the same state, and the
    // exit hook releases it.
    let saved = unsafe {
        let gstate = ffi::PyGILState_Ensure();
        let tstate = ffi::PyEval_SaveThread();
        (gstate, tstate)
    };
    WORKER_THREAD_STATE.with(|cell| cell.set(Some(saved)));
    WORKERS_ATTACHED.fetch_add(1, Ordering::AcqRel);
}

/// The pool's worker-exit hook: releases the thread state, unless the
/// interpreter is finalizing.
pub(crate) fn on_worker_exit() {
    let Some((gstate, tstate)) = WORKER_THREAD_STATE.with(Cell::take) else {
        return;
    };
    if interpreter_finalizing() {
        // Attaching now could hang or abort: leave the state to the
        // interpreter's own teardown.
        return;
    }
    // SAFETY: the pair comes from `on_worker_start` on this same thread. If
    // the worker stayed attached it still is; otherwise restoring attaches
    // it. Releasing then undoes the `PyGILState_Ensure`.
    unsafe {
        if !STICKY.replace(false) {
            ffi::PyEval_RestoreThread(tstate);
        }
        ffi::PyGILState_Release(gstate);
    }
}

/// The pool's idle hook, called when the worker runs out of work: detach if
/// it stayed attached. Attaching then detaching once also runs PyO3's
/// deferred decrefs, so objects whose last reference a worker dropped while
/// detached are freed now, not at some later hpyx call; on a free-threaded
/// build the worker also frees what other threads released of its own
/// objects (`ownership.rs`).
pub(crate) fn on_worker_idle() {
    if STICKY.replace(false) {
        let _ = Python::try_attach(ownership::run_merge_queue);
        // SAFETY: the worker is attached (sticky) with its own state and is
        // outside any PyO3 attach guard (the engine calls the idle hook
        // between jobs): saving detaches it, and the next task re-attaches.
        unsafe { ffi::PyEval_SaveThread() };
    } else {
        let _ = Python::try_attach(ownership::run_merge_queue);
    }
}

/// True once the interpreter has started finalizing, and after: CPython
/// clears `Py_IsInitialized` when finalization starts and keeps it clear,
/// where the finalizing flag alone may not outlive the runtime's teardown.
/// Both are plain reads of the runtime's static state, safe at any time.
fn interpreter_finalizing() -> bool {
    #[cfg(Py_3_13)]
    // SAFETY: no preconditions; reads a runtime flag.
    let finalizing = unsafe { ffi::Py_IsFinalizing() };
    #[cfg(not(Py_3_13))]
    // SAFETY: no preconditions; reads a runtime flag.
    let finalizing = unsafe { _Py_IsFinalizing() };
    // SAFETY: no preconditions; reads a runtime flag.
    finalizing != 0 || unsafe { ffi::Py_IsInitialized() } == 0
}

#[cfg(not(Py_3_13))]
extern "C" {
    /// CPython < 3.13 exports it under its private name.
    fn _Py_IsFinalizing() -> std::os::raw::c_int;
}

/// Runs `f` attached to the interpreter (`None` if it is finalizing).
///
/// A worker at the top of its loop *stays* attached afterwards, until it
/// runs out of work ([`on_worker_idle`]): consecutive tasks then cost no
/// attach/detach each, and on a GIL build a worker keeps the GIL for a run
/// of tasks instead of handing it over after every task (the stdlib's
/// `ThreadPoolExecutor` workers behave the same way). Inside a wait the
/// worker is detached ([`detach`]), and nested tasks attach as usual, paired
/// with their own detach, so the wait's re-attach finds the state it left.
///
/// Only on GIL builds: on a free-threaded build the garbage collector stops
/// the world and waits for every *attached* thread to reach a safe point
/// (a bytecode boundary, or a detach); a worker staying attached through a
/// run of tasks that call C functions (`map(int, ...)`) reaches none until
/// the run ends, and every other thread would wait that long. There,
/// attaching per task is cheap anyway: no GIL to hand over.
#[inline]
pub(crate) fn attach<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    #[cfg(not(Py_GIL_DISABLED))]
    if !STICKY.get() && WAIT_DEPTH.get() == 0 {
        stay_attached();
    }
    Python::try_attach(f)
}

#[cold]
#[cfg_attr(Py_GIL_DISABLED, allow(dead_code))]
fn stay_attached() {
    let Some((_, tstate)) = WORKER_THREAD_STATE.get() else {
        return; // not a worker: plain attach
    };
    if interpreter_finalizing() {
        // Re-attaching now would end this thread inside Rust frames.
        return;
    }
    // SAFETY: `tstate` is this worker's own thread state, saved by
    // `on_worker_start` and detached now (not sticky, and no wait is
    // detached on top of it), so restoring it is balanced by the
    // `PyEval_SaveThread` in `on_worker_idle` or the exit hook.
    unsafe { ffi::PyEval_RestoreThread(tstate) };
    STICKY.set(true);
}

/// The hook a detached wait calls every `HOOK_INTERVAL`, so Ctrl-C
/// interrupts it. CPython handles signals on the main thread only
/// (`PyErr_CheckSignals` does nothing elsewhere), so a pool worker does not
/// re-attach for it: on 3.13t every attach can be held up by a stop-the-world
/// pause, and a thread re-attaching while another loops `gc.collect()` can
/// wait a long time for its turn (python/cpython#151518).
///
/// Nor does any thread once the interpreter finalizes: only daemon threads
/// (and the finalizing one) are left, a daemon thread's state may already be
/// freed, and the check would attach through it (a segfault after
/// `faulthandler` is gone, seen at exit on 3.13t); [`detach`] parks such a
/// thread when its wait ends.
pub(crate) fn check_signals_unless_worker() -> PyResult<()> {
    if WORKER_THREAD_STATE.get().is_some() || interpreter_finalizing() {
        return Ok(());
    }
    Python::attach(|py| py.check_signals())
}

/// `py.detach(f)` for waits that may outlast the interpreter.
///
/// A daemon thread still waiting when the interpreter finalizes must never
/// come back into Python: on CPython < 3.14, re-attaching then calls
/// `pthread_exit`, whose forced unwind runs through PyO3's re-attach (a plain
/// `extern "C"` `PyEval_RestoreThread` in PyO3 0.28) up to the catch_unwind
/// of the pyfunction trampoline, and glibc aborts the process ("FATAL:
/// exception not rethrown"). Here that unwind meets this guard, which parks
/// the thread for good instead, as CPython 3.14 does (and PyO3 >= 0.30 does
/// for `detach`, PyO3/pyo3#6085). A Rust panic (`thread::panicking()`) still
/// unwinds normally.
///
/// A wait that began before finalization and ends during it, or after, is a
/// daemon thread's (the finalizing thread is busy finalizing): it parks for
/// good before re-attaching at all, since by then the interpreter may have
/// freed its thread state. A wait that began during finalization (a
/// `__del__` on the finalizing thread) returns as usual.
pub(crate) fn detach<T, F>(py: Python<'_>, f: F) -> T
where
    F: Send + FnOnce() -> T,
    T: Send,
{
    struct HangOnForcedUnwind;
    impl Drop for HangOnForcedUnwind {
        fn drop(&mut self) {
            if std::thread::panicking() {
                return;
            }
            park_forever();
        }
    }
    struct WaitDepth;
    impl Drop for WaitDepth {
        fn drop(&mut self) {
            WAIT_DEPTH.set(WAIT_DEPTH.get() - 1);
        }
    }
    let guard = HangOnForcedUnwind;
    WAIT_DEPTH.set(WAIT_DEPTH.get() + 1);
    let depth = WaitDepth;
    let finalizing_before = interpreter_finalizing();
    let result = py.detach(move || {
        let result = f();
        if !finalizing_before && interpreter_finalizing() {
            park_forever();
        }
        result
    });
    drop(depth);
    std::mem::forget(guard);
    result
}

/// Parks this thread for good: what a daemon thread of a finalizing
/// interpreter does instead of coming back into Python (see [`detach`]).
fn park_forever() -> ! {
    loop {
        std::thread::park();
    }
}

/// How many workers of the running pool have their Python thread state.
pub(crate) fn worker_thread_states() -> usize {
    WORKERS_ATTACHED.load(Ordering::Acquire)
}

/// Waits (detached, bounded) until every worker of a just-started pool has
/// created its Python thread state; `init` and auto-init return only then.
///
/// A worker creates its thread state on its own thread, unlike a
/// `threading.Thread`, whose state is made by the thread that starts it, and
/// creating it allocates through `PyMem_RawMalloc` without the GIL. Left to
/// happen at some later moment, that races two things in the caller's
/// thread: `tracemalloc.stop()`, whose raw-allocator hook frees its
/// traceback buffer under a worker still inside the hook (CPython < 3.12.9 /
/// 3.13.2 segfault, python/cpython#128679, seen here on 3.11 with
/// `tracemalloc.start(); ...; tracemalloc.stop()` right after `init`); and
/// on the free-threaded build a fork, since creating the first thread
/// states stops the world and a fork at that moment leaves the interpreter's
/// stop-the-world lock held in the child (CPython 3.13 takes it before the
/// runtime-wide lock that fork holds), which deadlocks in its next garbage
/// collection.
pub(crate) fn wait_for_worker_thread_states(py: Python<'_>, workers: usize) {
    if worker_thread_states() >= workers {
        return;
    }
    detach(py, || {
        // Bounded: a worker that failed to start must not block the caller.
        let deadline = Instant::now() + Duration::from_secs(10);
        while worker_thread_states() < workers && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
    });
}
