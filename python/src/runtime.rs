//! The process's hpyx runtime: one pool and one task graph.
//!
//! States: `NotStarted -> Running -> ShutDown` (and `NotStarted ->
//! ShutDown`); there is no way back, because worker threads and their
//! Python thread states cannot be revived in-process. The hot path
//! ([`runtime`]) reads one atomic pointer; transitions hold `STATE`.
//!
//! The pool's workers keep one Python thread state each, from start to exit;
//! the hooks that do it are in `thread_state/`.
//!
//! After `fork()` the child has the runtime's memory but none of its
//! threads: every call then fails with a clear error instead of hanging.

use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::Mutex;

use hpyx_engine::{Config, ShutdownPolicy, ThreadPool};
use hpyx_graph::TaskGraph;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::thread_state;

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
            Python::attach(|py| {
                thread_state::wait_for_worker_thread_states(py, runtime.os_threads)
            });
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

/// The default pool size: `os.cpu_count()`, as `hpyx.init` documents (not
/// the affinity- or quota-limited available parallelism).
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
        .on_worker_start(|_| thread_state::on_worker_start())
        .on_worker_exit(|_| thread_state::on_worker_exit())
        .on_worker_idle(|_| thread_state::on_worker_idle());
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
            thread_state::wait_for_worker_thread_states(py, runtime.os_threads);
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
        let drained =
            thread_state::detach(py, || runtime.graph.pool().shutdown(ShutdownPolicy::Drain));
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
/// states too (see `thread_state::wait_for_worker_thread_states`).
#[pyfunction]
fn _before_fork(py: Python<'_>) {
    let running = RUNNING.load(Ordering::Acquire);
    if running.is_null() || FORKED.load(Ordering::Relaxed) {
        return;
    }
    // SAFETY: as in `runtime`: null or leaked, never freed.
    let workers = unsafe { &*running }.os_threads;
    thread_state::wait_for_worker_thread_states(py, workers);
}

/// How many workers of the running pool have their Python thread state
/// (tests: `init` returns only when this equals `pool_size()`).
#[pyfunction]
fn _worker_thread_states() -> usize {
    thread_state::worker_thread_states()
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
