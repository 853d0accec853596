//! Errors of the pool: one opaque type with a private kind.

use std::error::Error;
use std::fmt;
use std::io;

/// Why a pool could not be started or used.
#[derive(Debug)]
pub struct PoolError {
    kind: ErrorKind,
}

#[derive(Debug)]
enum ErrorKind {
    InvalidConfig(String),
    AlreadyStarted { running: usize, requested: usize },
    NotStarted,
    ShutDown,
    Forked,
    ShutdownFromWorker,
    Spawn(io::Error),
}

impl PoolError {
    pub(crate) fn invalid_config(msg: impl Into<String>) -> PoolError {
        PoolError {
            kind: ErrorKind::InvalidConfig(msg.into()),
        }
    }
    pub(crate) fn already_started(running: usize, requested: usize) -> PoolError {
        PoolError {
            kind: ErrorKind::AlreadyStarted { running, requested },
        }
    }
    pub(crate) fn not_started() -> PoolError {
        PoolError {
            kind: ErrorKind::NotStarted,
        }
    }
    pub(crate) fn shut_down() -> PoolError {
        PoolError {
            kind: ErrorKind::ShutDown,
        }
    }
    pub(crate) fn forked() -> PoolError {
        PoolError {
            kind: ErrorKind::Forked,
        }
    }
    pub(crate) fn shutdown_from_worker() -> PoolError {
        PoolError {
            kind: ErrorKind::ShutdownFromWorker,
        }
    }
    pub(crate) fn spawn(err: io::Error) -> PoolError {
        PoolError {
            kind: ErrorKind::Spawn(err),
        }
    }

    /// The global pool is already running (with a different size).
    pub fn is_already_started(&self) -> bool {
        matches!(self.kind, ErrorKind::AlreadyStarted { .. })
    }
    /// The pool has been shut down; it cannot be restarted.
    pub fn is_shut_down(&self) -> bool {
        matches!(self.kind, ErrorKind::ShutDown)
    }
    /// The global pool was used before it was started.
    pub fn is_not_started(&self) -> bool {
        matches!(self.kind, ErrorKind::NotStarted)
    }
    /// The pool was started in a parent process before `fork()`.
    pub fn is_forked(&self) -> bool {
        matches!(self.kind, ErrorKind::Forked)
    }
    /// The configuration was rejected.
    pub fn is_invalid_config(&self) -> bool {
        matches!(self.kind, ErrorKind::InvalidConfig(_))
    }
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::InvalidConfig(msg) => write!(f, "invalid pool configuration: {msg}"),
            ErrorKind::AlreadyStarted { running, requested } => write!(
                f,
                "the worker pool is already running with {running} workers; \
                 cannot start it again with {requested}"
            ),
            ErrorKind::NotStarted => f.write_str("the worker pool has not been started"),
            ErrorKind::ShutDown => {
                f.write_str("the worker pool has been shut down and cannot be restarted")
            }
            ErrorKind::Forked => f.write_str(
                "the worker pool was started before this process was forked; \
                 its threads do not exist in the child",
            ),
            ErrorKind::ShutdownFromWorker => {
                f.write_str("the worker pool cannot be shut down from one of its own workers")
            }
            ErrorKind::Spawn(err) => write!(f, "could not start a worker thread: {err}"),
        }
    }
}

impl Error for PoolError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.kind {
            ErrorKind::Spawn(err) => Some(err),
            _ => None,
        }
    }
}

/// Why a wait ended without its condition becoming true.
#[derive(Debug)]
pub enum WaitError<E> {
    /// The deadline passed.
    Timeout,
    /// The periodic hook asked to stop waiting (for example a signal).
    Interrupted(E),
    /// The waiting worker already has `limit` helping waits on its stack.
    TooDeep {
        /// The configured [`Config::max_help_depth`](crate::Config::max_help_depth).
        limit: usize,
    },
}

impl<E: fmt::Display> fmt::Display for WaitError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::Timeout => f.write_str("the wait timed out"),
            WaitError::Interrupted(e) => write!(f, "the wait was interrupted: {e}"),
            WaitError::TooDeep { limit } => write!(
                f,
                "too many nested waits on one worker (limit max_help_depth={limit})"
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> Error for WaitError<E> {}
