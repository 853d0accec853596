//! # hpyx-engine: the work-stealing pool
//!
//! A fixed set of worker threads, each owning a `crossbeam-deque` [`Worker`]
//! deque (LIFO for its owner, stolen FIFO by the others), plus one shared
//! [`Injector`] for work pushed from outside the pool. No Python, no graph:
//! the task graph (`hpyx-graph`) builds on [`Job`], [`ThreadPool::push`],
//! [`Latch`] and [`wait_until`].
//!
//! - **Jobs** are `Arc<dyn Job>`; a job may return a *tail job* that the same
//!   worker runs next without queueing it.
//! - **Sleep** (`sleep/README.md`): idle workers spin briefly, then park; a
//!   push costs a fence and a load while every worker is awake, and no
//!   wake-up is lost.
//! - **Waiting helps**: [`wait_until`] on a worker runs other ready jobs (its
//!   own deque first) instead of sleeping; on other threads it parks with a
//!   deadline and a periodic hook.
//! - **Panics** in a job are caught at the job boundary; the worker lives on.
//! - **The global pool** ([`init_global`], [`global_pool`],
//!   [`shutdown_global`]) starts no thread before first use and cannot be
//!   restarted after shutdown.
//!
//! [`Worker`]: crossbeam_deque::Worker
//! [`Injector`]: crossbeam_deque::Injector

mod config;
mod error;
mod global;
mod job;
mod latch;
mod loom;
mod pool;
mod registry;
#[cfg(all(test, loom))]
mod shutdown_loom_tests;
mod sleep;
mod wait;
mod worker;

pub use config::{Config, WorkerHook, DEFAULT_MAX_HELP_DEPTH, DEFAULT_STACK_SIZE, MAX_WORKERS};
pub use error::{PoolError, WaitError};
pub use global::{
    global_pool, global_pool_or_init, init_global, is_global_running, shutdown_global,
};
pub use job::{FnJob, Job, JobRef};
pub use latch::Latch;
pub use pool::ThreadPool;
pub use registry::ShutdownPolicy;
pub use wait::{wait_until, wait_until_helping, HOOK_INTERVAL};
pub use worker::{current_worker_index, panic_message};
