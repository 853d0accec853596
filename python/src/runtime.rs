//! The process's hpyx runtime: one pool and one task graph.
//!
//! States: `NotStarted -> Running -> ShutDown` (and `NotStarted ->
//! ShutDown`); there is no way back, because worker threads and their
//! Python thread states cannot be revived in-process. The hot path
//! ([`runtime`]) reads one atomic pointer; transitions hold `STATE`.
//!
//! Every worker attaches a Python thread state when it starts and keeps it
//! (detached between tasks) until it exits: attaching per task then costs a
//! lock, not a thread-state allocation.
//!
//! After `fork()` the child has the runtime's memory but none of its
//! threads: every call then fails with a clear error instead of hanging.

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::Mutex;

use hpyx_engine::{Config, ShutdownPolicy, ThreadPool};
use hpyx_graph::TaskGraph;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;

/// The running runtime. Leaked: it lives for the rest of the process.
pub(crate) struct Runtime {
    pub(crate) graph: TaskGraph,
    os_threads: usize,
    cfg: Vec<String>,
}

enum State {
    NotStarted,
    Running(&'static Runtime),
    ShutDown,
}

static STATE: Mutex<State> = Mutex::new(State::NotStarted);
static RUNNING: AtomicPtr<Runtime> = AtomicPtr::new(ptr::null_mut());
static FORKED: AtomicBool = AtomicBool::new(false);
/// Set by the `atexit` hook's shutdown: the interpreter is exiting.
static AT_EXIT: AtomicBool = AtomicBool::new(false);

const SHUT_DOWN: &str =
    "the hpyx runtime has been shut down and cannot be restarted in this process";
const FORKED_MSG: &str = "hpyx: this process was forked after the hpyx worker pool started; \
     the pool's threads do not exist in the child. Fork before the first hpyx call, \
     or use the 'spawn' or 'forkserver' multiprocessing start method";

/// The supported `cfg` keys, for `init(cfg=[...])`.
const CFG_KEYS: &[&str] = &["max_help_depth", "stack_size", "thread_name"];

fn lock_state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running runtime, started with the defaults (and `HPYX_OS_THREADS`)
/// on first use unless `HPYX_AUTOINIT=0`.
#[inline]
pub(crate) fn runtime() -> PyResult<&'static Runtime> {
    let running = RUNNING.load(Ordering::Acquire);
    if !running.is_null() && !FORKED.load(Ordering::Relaxed) {
        // SAFETY: `RUNNING` only ever holds null or a pointer from
        // `Box::leak` in `start`, which is never freed.
        return Ok(unsafe { &*running });
    }
    runtime_cold()
}

#[cold]
fn runtime_cold() -> PyResult<&'static Runtime> {
    if FORKED.load(Ordering::Relaxed) {
        return Err(PyRuntimeError::new_err(FORKED_MSG));
    }
    let mut state = lock_state();
    match *state {
        State::Running(runtime) => Ok(runtime),
        State::ShutDown => Err(PyRuntimeError::new_err(SHUT_DOWN)),
        State::NotStarted => {
            if std::env::var("HPYX_AUTOINIT").is_ok_and(|v| v.trim() == "0") {
                return Err(PyRuntimeError::new_err(
                    "hpyx is not initialised and HPYX_AUTOINIT=0 disables auto-init: \
                     call hpyx.init() first",
                ));
            }
            let runtime = start(env_os_threads()?, Vec::new())?;
            *state = State::Running(runtime);
            drop(state);
            Python::attach(|py| wait_for_worker_thread_states(py, runtime.os_threads));
            Ok(runtime)
        }
    }
}

fn env_os_threads() -> PyResult<Option<usize>> {
    match std::env::var("HPYX_OS_THREADS") {
        Err(_) => Ok(None),
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(PyValueError::new_err(format!(
                "HPYX_OS_THREADS must be a positive integer, got {v:?}"
            ))),
        },
    }
}

/// `os.cpu_count()`, recorded when the module is imported (0: unknown).
static CPU_COUNT: AtomicUsize = AtomicUsize::new(0);

/// The default pool size: `os.cpu_count()`, as the contract says (not the
/// affinity- or quota-limited available parallelism).
fn default_os_threads() -> usize {
    match CPU_COUNT.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

fn start(os_threads: Option<usize>, cfg: Vec<String>) -> PyResult<&'static Runtime> {
    let os_threads = os_threads.unwrap_or_else(default_os_threads);
    let mut config = Config::new()
        .num_workers(os_threads)
        .thread_name("hpyx-worker")
        .on_worker_start(|_| attach_worker_thread_state())
        .on_worker_exit(|_| release_worker_thread_state())
        // Detach a worker that stayed attached, and run PyO3's deferred
        // decrefs: objects whose last reference a worker dropped while
        // detached are freed now, not at some later hpyx call.
        .on_worker_idle(|_| detach_idle_worker());
    for entry in &cfg {
        config = apply_cfg(config, entry)?;
    }
    let pool = ThreadPool::new(config).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let runtime: &'static Runtime = Box::leak(Box::new(Runtime {
        graph: TaskGraph::new(pool),
        os_threads,
        cfg,
    }));
    if let Some(path) = std::env::var_os("HPYX_TRACE_PATH").filter(|p| !p.is_empty()) {
        crate::trace::enable(runtime.graph, path.into())?;
    }
    RUNNING.store(runtime as *const Runtime as *mut Runtime, Ordering::Release);
    Ok(runtime)
}

/// The graph, if the runtime is running.
pub(crate) fn running_graph() -> Option<TaskGraph> {
    match *lock_state() {
        State::Running(runtime) => Some(runtime.graph),
        _ => None,
    }
}

fn apply_cfg(config: Config, entry: &str) -> PyResult<Config> {
    let Some((key, value)) = entry.split_once('=') else {
        return Err(PyValueError::new_err(format!(
            "hpyx cfg entries are \"key=value\" strings, got {entry:?}"
        )));
    };
    let (key, value) = (key.trim(), value.trim());
    let number = || {
        value.parse::<usize>().map_err(|_| {
            PyValueError::new_err(format!(
                "hpyx cfg {key} must be a positive integer, got {value:?}"
            ))
        })
    };
    match key {
        "max_help_depth" => Ok(config.max_help_depth(number()?)),
        "stack_size" => Ok(config.stack_size(number()?)),
        "thread_name" => Ok(config.thread_name(value)),
        _ => Err(PyValueError::new_err(format!(
            "unknown hpyx cfg key {key:?}; supported keys: {}",
            CFG_KEYS.join(", ")
        ))),
    }
}

thread_local! {
    /// The worker's own thread state, kept from start to exit.
    static WORKER_THREAD_STATE: Cell<Option<(ffi::PyGILState_STATE, *mut ffi::PyThreadState)>> =
        const { Cell::new(None) };
}

/// How many workers of the running pool have their thread state. A worker
/// creates it asynchronously, when it starts: see
/// [`wait_for_worker_thread_states`].
static WORKERS_ATTACHED: AtomicUsize = AtomicUsize::new(0);

fn attach_worker_thread_state() {
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

fn release_worker_thread_state() {
    let Some((gstate, tstate)) = WORKER_THREAD_STATE.with(Cell::take) else {
        return;
    };
    if interpreter_finalizing() {
        // Attaching now could hang or abort: leave the state to the
        // interpreter's own teardown.
        return;
    }
    // SAFETY: the pair comes from `attach_worker_thread_state` on this same
    // thread. If the worker stayed attached it still is; otherwise restoring
    // attaches it. Releasing then undoes the `PyGILState_Ensure`.
    unsafe {
        if !STICKY.replace(false) {
            ffi::PyEval_RestoreThread(tstate);
        }
        ffi::PyGILState_Release(gstate);
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

thread_local! {
    /// True while this worker stays attached between tasks.
    static STICKY: Cell<bool> = const { Cell::new(false) };
    /// Waits on this thread's stack: they detach, and tasks run while
    /// helping inside them attach and detach as usual.
    static WAIT_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f` attached to the interpreter (`None` if it is finalizing).
///
/// A worker at the top of its loop *stays* attached afterwards, until it
/// runs out of work (`detach_idle_worker`): consecutive tasks then cost no
/// attach/detach each, and on a GIL build a worker keeps the GIL for a run
/// of tasks instead of handing it over after every task (the stdlib's
/// `ThreadPoolExecutor` workers behave the same way). Inside a wait the
/// worker is detached (`detach`), and nested tasks attach as usual, paired
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
    // `attach_worker_thread_state` and detached now (not sticky, and no
    // wait is detached on top of it), so restoring it is balanced by the
    // `PyEval_SaveThread` in `detach_idle_worker` or the exit hook.
    unsafe { ffi::PyEval_RestoreThread(tstate) };
    STICKY.set(true);
}

/// Called when the worker runs out of work: detach if it stayed attached.
/// Attaching then detaching once also runs PyO3's deferred decrefs (objects
/// whose last reference was dropped while detached).
fn detach_idle_worker() {
    if STICKY.replace(false) {
        let _ = Python::try_attach(|_| ());
        // SAFETY: the worker is attached (sticky) with its own state and is
        // outside any PyO3 attach guard (the engine calls the idle hook
        // between jobs): saving detaches it, and the next task re-attaches.
        unsafe { ffi::PyEval_SaveThread() };
    } else {
        let _ = Python::try_attach(|_| ());
    }
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
/// `faulthandler` is gone, seen at exit on 3.13t); `detach` parks such a
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

/// `hpyx.init`: start the pool, or check that it runs with these settings.
#[pyfunction]
#[pyo3(signature = (*, os_threads=None, cfg=None))]
fn init(py: Python<'_>, os_threads: Option<i64>, cfg: Option<Vec<String>>) -> PyResult<()> {
    let os_threads = match os_threads {
        Some(n) if n <= 0 => {
            return Err(PyValueError::new_err(format!(
                "os_threads must be a positive integer, got {n}"
            )))
        }
        Some(n) => Some(n as usize),
        None => env_os_threads()?,
    };
    let cfg = cfg.unwrap_or_default();
    // Validate before any comparison so a bad key is always a ValueError.
    let mut probe = Config::new();
    for entry in &cfg {
        probe = apply_cfg(probe, entry)?;
    }
    if FORKED.load(Ordering::Relaxed) {
        return Err(PyRuntimeError::new_err(FORKED_MSG));
    }
    let mut state = lock_state();
    match *state {
        State::ShutDown => Err(PyRuntimeError::new_err(SHUT_DOWN)),
        State::Running(runtime) => {
            let wanted = os_threads.unwrap_or(runtime.os_threads);
            if wanted == runtime.os_threads && (cfg.is_empty() || cfg == runtime.cfg) {
                Ok(())
            } else {
                Err(PyRuntimeError::new_err(format!(
                    "hpyx is already running with os_threads={}, cfg={:?}; \
                     cannot re-initialise it with os_threads={}, cfg={:?}",
                    runtime.os_threads, runtime.cfg, wanted, cfg
                )))
            }
        }
        State::NotStarted => {
            let runtime = start(os_threads, cfg)?;
            *state = State::Running(runtime);
            drop(state);
            wait_for_worker_thread_states(py, runtime.os_threads);
            Ok(())
        }
    }
}

/// Fails with the fork error in a child forked after the pool started:
/// waiting there on an unfinished node would never end.
pub(crate) fn check_not_forked() -> PyResult<()> {
    if FORKED.load(Ordering::Relaxed) {
        return Err(PyRuntimeError::new_err(FORKED_MSG));
    }
    Ok(())
}

/// True once the `atexit` hook has shut the runtime down (an executor then
/// refuses work in the stdlib's words for the interpreter's exit).
pub(crate) fn shut_down_at_exit() -> bool {
    AT_EXIT.load(Ordering::Relaxed)
}

/// `hpyx.shutdown`: drain the pool (every queued task runs) and stop it.
/// `at_exit=True` is the `atexit` hook's call.
#[pyfunction]
#[pyo3(signature = (*, at_exit=false))]
fn shutdown(py: Python<'_>, at_exit: bool) -> PyResult<()> {
    if at_exit {
        AT_EXIT.store(true, Ordering::Relaxed);
    }
    if FORKED.load(Ordering::Relaxed) {
        // A forked child has the pool's memory but none of its threads:
        // there is nothing to drain or join (joining would fail), so the
        // atexit hook and an explicit call just return.
        return Ok(());
    }
    let mut state = lock_state();
    if let State::Running(runtime) = *state {
        if runtime.graph.pool().current_worker_index().is_some() {
            return Err(PyRuntimeError::new_err(
                "hpyx.shutdown() cannot be called from one of hpyx's own worker threads",
            ));
        }
        RUNNING.store(ptr::null_mut(), Ordering::Release);
        *state = State::ShutDown;
        drop(state);
        // Detached: draining tasks and exiting workers need the interpreter.
        let drained = detach(py, || runtime.graph.pool().shutdown(ShutdownPolicy::Drain));
        // Every task has finished: the trace is complete.
        crate::trace::disable(Some(runtime.graph));
        drained.map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        return Ok(());
    }
    *state = State::ShutDown;
    Ok(())
}

/// `hpyx.is_running`.
#[pyfunction]
fn is_running() -> bool {
    !FORKED.load(Ordering::Relaxed) && matches!(*lock_state(), State::Running(_))
}

/// The pool size if running, else None.
#[pyfunction]
fn pool_size() -> Option<usize> {
    match *lock_state() {
        State::Running(runtime) if !FORKED.load(Ordering::Relaxed) => Some(runtime.os_threads),
        _ => None,
    }
}

/// The size the pool would start with (init() arguments aside).
#[pyfunction]
fn default_pool_size() -> PyResult<usize> {
    Ok(env_os_threads()?.unwrap_or_else(default_os_threads))
}

/// Registered with `os.register_at_fork(before=...)`: a fork racing a pool
/// that another thread is just starting waits for its workers' thread
/// states too (see [`wait_for_worker_thread_states`]).
#[pyfunction]
fn _before_fork(py: Python<'_>) {
    let running = RUNNING.load(Ordering::Acquire);
    if running.is_null() || FORKED.load(Ordering::Relaxed) {
        return;
    }
    // SAFETY: as in `runtime`: null or leaked, never freed.
    let workers = unsafe { &*running }.os_threads;
    wait_for_worker_thread_states(py, workers);
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
fn wait_for_worker_thread_states(py: Python<'_>, workers: usize) {
    if WORKERS_ATTACHED.load(Ordering::Acquire) >= workers {
        return;
    }
    detach(py, || {
        // Bounded: a worker that failed to start must not block the caller.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while WORKERS_ATTACHED.load(Ordering::Acquire) < workers
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    });
}

/// How many workers of the running pool have their Python thread state
/// (tests: `init` returns only when this equals `pool_size()`).
#[pyfunction]
fn _worker_thread_states() -> usize {
    WORKERS_ATTACHED.load(Ordering::Acquire)
}

/// Registered with `os.register_at_fork(after_in_child=...)`.
#[pyfunction]
fn _after_fork_in_child() {
    if !RUNNING.load(Ordering::Acquire).is_null() {
        FORKED.store(true, Ordering::Relaxed);
    }
}

/// The calling thread's worker index, or -1 outside the pool.
#[pyfunction]
fn get_worker_thread_id() -> i64 {
    hpyx_engine::current_worker_index().map_or(-1, |i| i as i64)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Read here, at import, where no lock is held.
    let cpu_count = m
        .py()
        .import("os")?
        .call_method0("cpu_count")?
        .extract::<Option<usize>>()?;
    CPU_COUNT.store(cpu_count.unwrap_or(0), Ordering::Relaxed);
    m.add_function(wrap_pyfunction!(init, m)?)?;
    m.add_function(wrap_pyfunction!(shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(is_running, m)?)?;
    m.add_function(wrap_pyfunction!(pool_size, m)?)?;
    m.add_function(wrap_pyfunction!(default_pool_size, m)?)?;
    m.add_function(wrap_pyfunction!(_before_fork, m)?)?;
    m.add_function(wrap_pyfunction!(_after_fork_in_child, m)?)?;
    m.add_function(wrap_pyfunction!(_worker_thread_states, m)?)?;
    m.add_function(wrap_pyfunction!(get_worker_thread_id, m)?)?;
    m.add("CFG_KEYS", CFG_KEYS.to_vec())?;
    Ok(())
}
