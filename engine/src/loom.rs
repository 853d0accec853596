//! The `crate::loom` facade: the primitives that the loom model checker
//! swaps in, as tokio's `loom` module does.
//!
//! The protocols we own and model import from here instead of `std`: the
//! sleep/wake handshake, the latch state word, and the registry's shutdown
//! gate, worker threads and queues. Without `--cfg loom` every name is the
//! `std` (or crossbeam-deque) item itself, so the normal build pays nothing.
//! Under `--cfg loom` the queues are [`deque`]'s mutex-backed stand-in,
//! because crossbeam-deque's atomics are invisible to loom.
//!
//! Run the models with `make loom`.

#[cfg(loom)]
pub(crate) use loom::{sync, thread};

#[cfg(not(loom))]
pub(crate) use std::{sync, thread};

#[cfg(loom)]
pub(crate) mod deque;

#[cfg(not(loom))]
pub(crate) use crossbeam_deque as deque;
