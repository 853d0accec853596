//! `SpinFlag`: the lock of a node's input list and of its successor list.
//!
//! Every critical section on these lists is a few loads and stores (push an
//! edge, take the list, read the inputs' states), and contention is rare (an
//! input finishing while a dependent is being wired to it). A spin lock
//! costs one compare-and-swap to take and a plain release store to give
//! back, where `std::sync::Mutex` also pays a swap on unlock and a poison
//! check each way; a node takes these locks about six times in its life.
//!
//! A waiter spins briefly, then yields its time slice, so a holder that was
//! descheduled is not starved. No poisoning: a panic while holding the lock
//! releases it, and the lists stay valid (as with the `Mutex` it replaces,
//! whose poison was ignored).

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// Spins (with `spin_loop` hints) this many times before yielding.
const SPINS_BEFORE_YIELD: u32 = 64;

/// The lock bit alone, apart from the value it guards: a node keeps it
/// beside its other one-byte fields, where it costs no padding (see
/// `NodeCore` and `InputSide`), where a lock holding its value would pad
/// it to the value's alignment.
pub(crate) struct SpinFlag(AtomicBool);

impl SpinFlag {
    pub(crate) const fn new() -> SpinFlag {
        SpinFlag(AtomicBool::new(false))
    }

    /// Locks `value`, which this flag, and only this flag, guards.
    ///
    /// # Safety
    ///
    /// Every access to `value` other than through `&mut` (which excludes
    /// every guard) must go through a guard from this flag: the flag is what
    /// makes the guard's `&mut T` unique.
    #[inline]
    pub(crate) unsafe fn lock<'a, T>(&'a self, value: &'a UnsafeCell<T>) -> SpinGuard<'a, T> {
        if self
            .0
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SpinGuard { flag: self, value }
    }

    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0;
        loop {
            while self.0.load(Ordering::Relaxed) {
                if spins < SPINS_BEFORE_YIELD {
                    std::hint::spin_loop();
                    spins += 1;
                } else {
                    std::thread::yield_now();
                }
            }
            if self
                .0
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// Holds the lock; releases it when dropped.
pub(crate) struct SpinGuard<'a, T> {
    flag: &'a SpinFlag,
    value: &'a UnsafeCell<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this guard's existence means this thread holds the flag
        // that guards `value` (see `SpinFlag::lock`), so no other thread
        // accesses it.
        unsafe { &*self.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only borrow
        // through the guard.
        unsafe { &mut *self.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.flag.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::SpinFlag;
    use std::cell::UnsafeCell;
    use std::sync::Arc;

    /// A value and the flag that guards it, as a node keeps them.
    struct Guarded {
        flag: SpinFlag,
        value: UnsafeCell<usize>,
    }

    // SAFETY: `value` is reached only through `Guarded::lock`.
    unsafe impl Sync for Guarded {}

    impl Guarded {
        fn lock(&self) -> super::SpinGuard<'_, usize> {
            // SAFETY: `value` is reached only here.
            unsafe { self.flag.lock(&self.value) }
        }
    }

    #[test]
    fn smoke() {
        let guarded = Guarded {
            flag: SpinFlag::new(),
            value: UnsafeCell::new(1),
        };
        *guarded.lock() += 1;
        assert_eq!(*guarded.lock(), 2);
    }

    #[test]
    fn stress() {
        const THREADS: usize = 4;
        const ROUNDS: usize = if cfg!(miri) { 100 } else { 100_000 };
        let guarded = Arc::new(Guarded {
            flag: SpinFlag::new(),
            value: UnsafeCell::new(0),
        });
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let guarded = Arc::clone(&guarded);
                std::thread::spawn(move || {
                    for _ in 0..ROUNDS {
                        // A non-atomic read-modify-write: lost updates would
                        // show if two threads were inside at once.
                        let mut guard = guarded.lock();
                        let v = *guard;
                        std::hint::black_box(&v);
                        *guard = v + 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*guarded.lock(), THREADS * ROUNDS);
    }
}
