//! The `crate::loom` facade: the synchronisation primitives that the loom
//! model checker can swap in.
//!
//! Only the protocols we own and model (the sleep/wake handshake and the
//! latch state word) import from here; everything else uses `std` directly.
//! Build with `RUSTFLAGS="--cfg loom"` to run the models
//! (`cargo test -p hpyx-engine --release --lib loom`).

#[cfg(loom)]
pub(crate) use loom::sync;

#[cfg(not(loom))]
pub(crate) use std::sync;
