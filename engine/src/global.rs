//! The process-global pool: started once, on first use, never restarted.
//!
//! States: `NotStarted -> Running -> ShutDown`, and `NotStarted -> ShutDown`
//! (a shutdown before any use also forbids a later start). Transitions hold
//! `STATE`; the hot path ([`global_pool`]) reads a `OnceLock` instead.

use std::sync::{Mutex, OnceLock};

use crate::config::Config;
use crate::error::PoolError;
use crate::pool::ThreadPool;
use crate::registry::ShutdownPolicy;

enum State {
    NotStarted,
    Running,
    ShutDown,
}

static STATE: Mutex<State> = Mutex::new(State::NotStarted);
static POOL: OnceLock<ThreadPool> = OnceLock::new();

fn lock_state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the global pool with `config`.
///
/// If it is already running with the same number of workers, returns it;
/// with a different number, fails with an error naming both. Fails after
/// [`shutdown_global`].
pub fn init_global(config: Config) -> Result<ThreadPool, PoolError> {
    let mut state = lock_state();
    match *state {
        State::NotStarted => {
            let pool = ThreadPool::new(config)?;
            let _ = POOL.set(pool.clone());
            *state = State::Running;
            Ok(pool)
        }
        State::Running => {
            let pool = POOL.get().expect("running global pool is set").clone();
            if pool.num_workers() == config.get_num_workers() {
                Ok(pool)
            } else {
                Err(PoolError::already_started(
                    pool.num_workers(),
                    config.get_num_workers(),
                ))
            }
        }
        State::ShutDown => Err(PoolError::shut_down()),
    }
}

/// The running global pool. Fails if it was never started, was shut down,
/// or was started in a parent process before `fork()`.
pub fn global_pool() -> Result<ThreadPool, PoolError> {
    match POOL.get() {
        Some(pool) if pool.is_shut_down() => Err(PoolError::shut_down()),
        Some(pool) if pool.started_in_pid() != std::process::id() => Err(PoolError::forked()),
        Some(pool) => Ok(pool.clone()),
        None if matches!(*lock_state(), State::ShutDown) => Err(PoolError::shut_down()),
        None => Err(PoolError::not_started()),
    }
}

/// The global pool, started with `config()` if it is not running yet.
pub fn global_pool_or_init(config: impl FnOnce() -> Config) -> Result<ThreadPool, PoolError> {
    match global_pool() {
        Err(e) if e.is_not_started() => {
            let mut state = lock_state();
            match *state {
                State::NotStarted => {
                    let pool = ThreadPool::new(config())?;
                    let _ = POOL.set(pool.clone());
                    *state = State::Running;
                    Ok(pool)
                }
                State::Running => Ok(POOL.get().expect("running global pool is set").clone()),
                State::ShutDown => Err(PoolError::shut_down()),
            }
        }
        other => other,
    }
}

/// True while the global pool is running.
pub fn is_global_running() -> bool {
    matches!(*lock_state(), State::Running)
}

/// Shuts the global pool down by `policy` (see [`ThreadPool::shutdown`]).
/// Idempotent; after it, starting the global pool fails.
pub fn shutdown_global(policy: ShutdownPolicy) -> Result<(), PoolError> {
    let mut state = lock_state();
    if let State::Running = *state {
        POOL.get()
            .expect("running global pool is set")
            .shutdown(policy)?;
    }
    *state = State::ShutDown;
    Ok(())
}
