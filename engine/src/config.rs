//! Pool configuration.

use std::fmt;
use std::sync::Arc;

use crate::error::PoolError;

/// A hook called on each worker thread with its index.
pub type WorkerHook = Arc<dyn Fn(usize) + Send + Sync>;

/// Settings for a [`ThreadPool`](crate::ThreadPool), fixed at start.
///
/// ```
/// let config = hpyx_engine::Config::new().num_workers(2).stack_size(8 << 20);
/// assert_eq!(config.get_num_workers(), 2);
/// ```
#[derive(Clone)]
pub struct Config {
    num_workers: usize,
    stack_size: Option<usize>,
    thread_name: String,
    max_help_depth: usize,
    on_worker_start: Option<WorkerHook>,
    on_worker_exit: Option<WorkerHook>,
    on_worker_idle: Option<WorkerHook>,
}

/// The default depth limit of nested helping waits on one worker.
pub const DEFAULT_MAX_HELP_DEPTH: usize = 512;

/// The most workers a pool can have (the sleep protocol counts sleepers in
/// 16 bits). Worker indices are below it, so they fit a `u16`.
pub const MAX_WORKERS: usize = crate::sleep::MAX_WORKERS;

/// The default worker stack size: generous, because a waiting worker runs
/// other jobs on top of its own stack frames. Only touched pages cost memory.
pub const DEFAULT_STACK_SIZE: usize = 64 << 20;

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// One worker per available core, default stack size and depth limit.
    pub fn new() -> Config {
        Config {
            num_workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            stack_size: Some(DEFAULT_STACK_SIZE),
            thread_name: "hpyx-worker".to_owned(),
            max_help_depth: DEFAULT_MAX_HELP_DEPTH,
            on_worker_start: None,
            on_worker_exit: None,
            on_worker_idle: None,
        }
    }

    /// Sets the number of worker threads (at least 1).
    pub fn num_workers(mut self, n: usize) -> Config {
        self.num_workers = n;
        self
    }

    /// Sets each worker's stack size in bytes; `None` uses the platform default.
    pub fn stack_size(mut self, bytes: impl Into<Option<usize>>) -> Config {
        self.stack_size = bytes.into();
        self
    }

    /// Sets the prefix of worker thread names (`"<prefix>-<index>"`).
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Config {
        self.thread_name = prefix.into();
        self
    }

    /// Sets how many helping waits may nest on one worker before a further
    /// wait fails with [`WaitError::TooDeep`](crate::WaitError) instead of
    /// growing the stack.
    pub fn max_help_depth(mut self, depth: usize) -> Config {
        self.max_help_depth = depth;
        self
    }

    /// Runs `hook(index)` on each worker before it takes any job.
    pub fn on_worker_start(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Config {
        self.on_worker_start = Some(Arc::new(hook));
        self
    }

    /// Runs `hook(index)` on each worker after its last job, before it exits.
    /// Jobs the hook pushes to the pool are cancelled.
    pub fn on_worker_exit(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Config {
        self.on_worker_exit = Some(Arc::new(hook));
        self
    }

    /// Runs `hook(index)` on a worker each time it runs out of work, before
    /// it spins and sleeps (once per idle period, never inside a job). The
    /// Python layer uses it to release objects dropped while detached.
    pub fn on_worker_idle(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Config {
        self.on_worker_idle = Some(Arc::new(hook));
        self
    }

    /// The number of workers this configuration starts.
    pub fn get_num_workers(&self) -> usize {
        self.num_workers
    }

    /// The worker stack size, if set.
    pub fn get_stack_size(&self) -> Option<usize> {
        self.stack_size
    }

    /// The nested-wait depth limit.
    pub fn get_max_help_depth(&self) -> usize {
        self.max_help_depth
    }

    pub(crate) fn thread_name_for(&self, index: usize) -> String {
        format!("{}-{index}", self.thread_name)
    }

    pub(crate) fn start_hook(&self) -> Option<&WorkerHook> {
        self.on_worker_start.as_ref()
    }

    pub(crate) fn exit_hook(&self) -> Option<&WorkerHook> {
        self.on_worker_exit.as_ref()
    }

    pub(crate) fn idle_hook(&self) -> Option<&WorkerHook> {
        self.on_worker_idle.as_ref()
    }

    pub(crate) fn validate(&self) -> Result<(), PoolError> {
        if self.num_workers == 0 {
            return Err(PoolError::invalid_config("num_workers must be at least 1"));
        }
        if self.num_workers > MAX_WORKERS {
            return Err(PoolError::invalid_config(format!(
                "num_workers must be at most {MAX_WORKERS} (got {})",
                self.num_workers
            )));
        }
        if matches!(self.stack_size, Some(s) if s < 64 * 1024) {
            return Err(PoolError::invalid_config(
                "stack_size must be at least 65536 bytes",
            ));
        }
        if self.max_help_depth == 0 {
            return Err(PoolError::invalid_config(
                "max_help_depth must be at least 1",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("num_workers", &self.num_workers)
            .field("stack_size", &self.stack_size)
            .field("thread_name", &self.thread_name)
            .field("max_help_depth", &self.max_help_depth)
            .finish_non_exhaustive()
    }
}
