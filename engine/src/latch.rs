//! Latches: a one-shot "it happened" flag that knows whom to wake.
//!
//! A waiting thread creates a [`Latch`] for itself (it records whether it is
//! a pool worker, and which, or an ordinary thread to unpark), hands an
//! `Arc` of it to whatever will set it, and waits with
//! [`wait_until`](crate::wait_until).
//!
//! State word: `UNSET -> SLEEPING -> UNSET ...` by the waiter, and `-> SET`
//! by the setter, once. The setter swaps `SET` in and, only if it saw
//! `SLEEPING`, pays for a wake-up.

use std::sync::Arc;
use std::thread::Thread;

use crate::loom::sync::atomic::{AtomicU8, Ordering};
use crate::registry::Registry;
use crate::sleep::SleepCondition;

const UNSET: u8 = 0;
const SLEEPING: u8 = 1;
const SET: u8 = 2;

/// A one-shot flag that wakes the thread waiting on it.
///
/// ```
/// use std::sync::Arc;
/// use hpyx_engine::{wait_until, Latch};
///
/// let latch = Arc::new(Latch::new());
/// let setter = Arc::clone(&latch);
/// std::thread::spawn(move || setter.set());
/// wait_until::<()>(&latch, None, &mut || Ok(())).unwrap();
/// assert!(latch.probe());
/// ```
pub struct Latch {
    state: AtomicU8,
    waiter: Waiter,
}

enum Waiter {
    Worker {
        registry: Arc<Registry>,
        index: usize,
    },
    Thread(Thread),
    /// A worker of a bare `Sleep`: the loom models have no registry.
    #[cfg(all(test, loom))]
    Model {
        sleep: crate::loom::sync::Arc<crate::sleep::Sleep>,
        index: usize,
    },
}

impl Latch {
    /// A latch to be waited on by the calling thread.
    pub fn new() -> Latch {
        let waiter = match crate::worker::current() {
            Some(worker) => Waiter::Worker {
                registry: Arc::clone(worker.registry()),
                index: worker.index(),
            },
            None => Waiter::Thread(std::thread::current()),
        };
        Latch {
            state: AtomicU8::new(UNSET),
            waiter,
        }
    }

    /// A latch whose waiter parks as an ordinary thread even on a pool
    /// worker, for [`wait_until_helping`](crate::wait_until_helping).
    pub fn new_parking() -> Latch {
        Latch {
            state: AtomicU8::new(UNSET),
            waiter: Waiter::Thread(std::thread::current()),
        }
    }

    /// True once [`Latch::set`] has been called. Acquire: what the setter
    /// wrote before `set` is visible after a `true`.
    #[inline]
    pub fn probe(&self) -> bool {
        self.state.load(Ordering::Acquire) == SET
    }

    /// Sets the latch and wakes its waiter if it is asleep.
    pub fn set(&self) {
        if self.state.swap(SET, Ordering::AcqRel) == SLEEPING {
            match &self.waiter {
                Waiter::Worker { registry, index } => {
                    registry.sleep().wake_specific(*index);
                }
                Waiter::Thread(thread) => thread.unpark(),
                #[cfg(all(test, loom))]
                Waiter::Model { sleep, index } => {
                    sleep.wake_specific(*index);
                }
            }
        }
    }

    /// A latch waited on by worker `index` of a bare `Sleep` (loom models).
    #[cfg(all(test, loom))]
    pub(crate) fn for_model(
        sleep: crate::loom::sync::Arc<crate::sleep::Sleep>,
        index: usize,
    ) -> Latch {
        Latch {
            state: AtomicU8::new(UNSET),
            waiter: Waiter::Model { sleep, index },
        }
    }

    /// For an ordinary thread: announce that it is about to park. False if
    /// the latch is already set.
    pub(crate) fn prepare_park(&self) -> bool {
        match self
            .state
            .compare_exchange(UNSET, SLEEPING, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(actual) => actual == SLEEPING,
        }
    }
}

impl Default for Latch {
    fn default() -> Self {
        Latch::new()
    }
}

impl SleepCondition for Latch {
    fn try_mark_sleeping(&self) -> bool {
        self.state
            .compare_exchange(UNSET, SLEEPING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn unmark_sleeping(&self) {
        // Fails harmlessly if the latch was set meanwhile.
        let _ = self
            .state
            .compare_exchange(SLEEPING, UNSET, Ordering::AcqRel, Ordering::Acquire);
    }
}
