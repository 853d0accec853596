//! # hpyx-testkit: helpers shared by hpyx's Rust tests
//!
//! Used by the engine's tests, the graph's tests and the cross-crate tests. Every wait here is bounded by [`TIMEOUT`], so a hang
//! fails the test instead of blocking the run.
//!
//! The crate knows nothing of the pool or the graph (they depend on it for
//! their tests, so it cannot depend on them): what needs their types, such
//! as building a pool for a test, stays beside the tests that use it and
//! leans on [`ShutdownGuard`] and [`deadline`].

mod barrier;
mod counters;
mod guard;
mod panics;
mod wait;

use std::time::Duration;

pub use barrier::TimedBarrier;
pub use counters::{Calls, DropCounter, DropToken};
pub use guard::ShutdownGuard;
pub use panics::{silence_expected_panics, EXPECTED};
pub use wait::{
    deadline, on_small_stack, recv, try_wait_for, wait_for, within_timeout, SMALL_STACK,
};

/// How long any single wait in a test may take before the test fails.
///
/// A bound only matters when something hangs: a wait returns as soon as
/// its condition holds, so a long bound costs a passing run nothing. It has
/// to sit far above the slowest wait that is not a hang, in the slowest
/// runs we make: Miri interprets about a thousand times slower than native
/// code and reads the real clock (`ci/miri.sh` turns isolation off), and
/// the sanitizer builds share small, busy CI machines. A minute clears
/// those with room to spare and still reports a hang in about a minute
/// rather than when the CI job itself times out.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// `normal`, or the smaller `miri` under Miri, where every step is about a
/// thousand times slower (the crossbeam convention for sizing loops).
pub const fn size(normal: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        normal
    }
}
