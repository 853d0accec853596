//! `TaskError`: why a task failed, cheap to clone and to share with every
//! dependent the failure propagates to.

use std::any::Any;
use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// The error a failed node carries. Cloning shares the same error, so every
/// dependent of a failed node fails with *the same* error object (the Python
/// layer relies on this to re-raise the very same exception).
///
/// ```
/// use hpyx_graph::TaskError;
/// let err = TaskError::new(std::io::Error::other("disk full"));
/// assert_eq!(err.type_name(), "Error");
/// assert_eq!(err.message(), "disk full");
/// assert!(err.payload::<std::io::Error>().is_some());
/// ```
#[derive(Clone)]
pub struct TaskError(Arc<Repr>);

struct Repr {
    kind: Kind,
    type_name: Cow<'static, str>,
    message: String,
    payload: Option<Box<dyn Any + Send + Sync>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Failed,
    Panicked,
    BrokenPromise,
}

impl TaskError {
    /// Wraps a Rust error; its short type name and `Display` text become the
    /// error's type name and message, and it stays reachable via
    /// [`TaskError::payload`].
    pub fn new<E: Error + Send + Sync + 'static>(err: E) -> TaskError {
        let full = std::any::type_name::<E>();
        let short = full.rsplit("::").next().unwrap_or(full);
        TaskError(Arc::new(Repr {
            kind: Kind::Failed,
            type_name: Cow::Owned(short.to_owned()),
            message: err.to_string(),
            payload: Some(Box::new(err)),
        }))
    }

    /// An error with a type name and message and no payload.
    pub fn msg(type_name: impl Into<Cow<'static, str>>, message: impl Into<String>) -> TaskError {
        TaskError(Arc::new(Repr {
            kind: Kind::Failed,
            type_name: type_name.into(),
            message: message.into(),
            payload: None,
        }))
    }

    /// An error carrying an arbitrary payload (the Python layer stores the
    /// exception object here).
    pub fn with_payload<P: Any + Send + Sync>(
        type_name: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
        payload: P,
    ) -> TaskError {
        TaskError(Arc::new(Repr {
            kind: Kind::Failed,
            type_name: type_name.into(),
            message: message.into(),
            payload: Some(Box::new(payload)),
        }))
    }

    /// A panic caught at the task boundary.
    pub fn from_panic(payload: Box<dyn Any + Send>) -> TaskError {
        TaskError(Arc::new(Repr {
            kind: Kind::Panicked,
            type_name: Cow::Borrowed("panic"),
            message: hpyx_engine::panic_message(&*payload),
            payload: None,
        }))
    }

    /// A promise dropped without a value.
    pub fn broken_promise() -> TaskError {
        TaskError(Arc::new(Repr {
            kind: Kind::BrokenPromise,
            type_name: Cow::Borrowed("BrokenPromise"),
            message: "the promise was dropped without a value".to_owned(),
            payload: None,
        }))
    }

    /// The error's type name (for Python errors, the exception class name).
    pub fn type_name(&self) -> &str {
        &self.0.type_name
    }

    /// The error's message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The payload, if it is a `P`.
    pub fn payload<P: Any>(&self) -> Option<&P> {
        self.0.payload.as_ref()?.downcast_ref::<P>()
    }

    /// True if the task panicked.
    pub fn is_panic(&self) -> bool {
        self.0.kind == Kind::Panicked
    }

    /// True if this comes from a dropped [`Promise`](crate::Promise).
    pub fn is_broken_promise(&self) -> bool {
        self.0.kind == Kind::BrokenPromise
    }

    /// True if both are the same error (clones of one another).
    pub fn ptr_eq(&self, other: &TaskError) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.message.is_empty() {
            f.write_str(&self.0.type_name)
        } else {
            write!(f, "{}: {}", self.0.type_name, self.0.message)
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskError")
            .field("kind", &self.0.kind)
            .field("type_name", &self.0.type_name)
            .field("message", &self.0.message)
            .finish()
    }
}

impl Error for TaskError {}

/// How a finished node ended, borrowed from the node.
#[derive(Debug)]
pub enum Outcome<'a, T> {
    /// It produced this value.
    Value(&'a T),
    /// It failed (or an input failed) with this error.
    Failed(&'a TaskError),
    /// It, or an input, was cancelled.
    Cancelled,
}

impl<'a, T> Outcome<'a, T> {
    /// The value, or `Err` with the error (`None` for a cancellation).
    pub fn into_result(self) -> Result<&'a T, Option<&'a TaskError>> {
        match self {
            Outcome::Value(v) => Ok(v),
            Outcome::Failed(e) => Err(Some(e)),
            Outcome::Cancelled => Err(None),
        }
    }
}
