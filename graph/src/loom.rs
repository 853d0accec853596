//! The `crate::loom` facade: primitives the loom model checker swaps in for
//! the protocols modelled in `state.rs` and `pending.rs`
//! (`RUSTFLAGS="--cfg loom" cargo test -p hpyx-graph --release --lib loom`).

#[cfg(loom)]
pub(crate) use loom::sync;

#[cfg(not(loom))]
pub(crate) use std::sync;
