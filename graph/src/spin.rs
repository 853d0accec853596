//! `SpinLock`: the lock around a node's input and successor lists.
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

/// The lock bit alone. [`SpinLock`] pairs it with its value; a node keeps
/// its successor list's bit apart from the list, beside its other one-byte
/// fields, where it costs no padding (see `NodeCore`).
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

pub(crate) struct SpinLock<T> {
    flag: SpinFlag,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one thread at a time (the
// one whose compare-and-swap took the flag from false to true, with Acquire,
// until its guard stores false with Release), so sharing a `SpinLock<T>`
// only ever moves `&mut T` between threads in turn, as `Mutex<T>` does:
// `T: Send` is what that needs.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub(crate) const fn new(value: T) -> SpinLock<T> {
        SpinLock {
            flag: SpinFlag::new(),
            value: UnsafeCell::new(value),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        // SAFETY: `value` is private to this lock and reached only through
        // this method or `get_mut`.
        unsafe { self.flag.lock(&self.value) }
    }

    /// The value, through a unique borrow (no locking needed).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
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
    use super::SpinLock;
    use std::sync::Arc;

    #[test]
    fn smoke() {
        let mut lock = SpinLock::new(vec![1]);
        lock.lock().push(2);
        assert_eq!(*lock.lock(), vec![1, 2]);
        lock.get_mut().push(3);
        assert_eq!(lock.get_mut().len(), 3);
    }

    #[test]
    fn stress() {
        const THREADS: usize = 4;
        const ROUNDS: usize = if cfg!(miri) { 100 } else { 100_000 };
        let lock = Arc::new(SpinLock::new(0usize));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let lock = Arc::clone(&lock);
                std::thread::spawn(move || {
                    for _ in 0..ROUNDS {
                        // A non-atomic read-modify-write: lost updates would
                        // show if two threads were inside at once.
                        let mut guard = lock.lock();
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
        assert_eq!(*lock.lock(), THREADS * ROUNDS);
    }
}
