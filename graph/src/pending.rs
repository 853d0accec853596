//! The count of unfinished inputs of a node.
//!
//! It starts at `inputs + 1`: the extra one is a *construction guard* held
//! while edges are being wired, so a node whose inputs finish during wiring
//! cannot fire before it is fully built. Whoever brings the count to zero
//! (the last input, or the builder releasing the guard) schedules the node,
//! exactly once. `AcqRel`: the last decrement sees every input's outcome.
//! Only a node with inputs has a count (in its input side): for one without,
//! releasing the guard is all there is, and makes it ready at once.

use crate::loom::sync::atomic::{AtomicU32, Ordering};

#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Readiness {
    StillWaiting,
    /// The caller brought the count to zero and must schedule the node.
    Ready,
}

/// Four bytes, not eight: it sits in every pending node with inputs, and no
/// node has anywhere near 2^32 inputs (each costs 16 bytes of memory).
pub(crate) struct PendingInputs(AtomicU32);

impl PendingInputs {
    /// `inputs` unfinished inputs, plus the construction guard.
    pub(crate) fn with_guard(inputs: usize) -> PendingInputs {
        let count = u32::try_from(inputs + 1).expect("a node has fewer than 2^32 - 1 inputs");
        PendingInputs(AtomicU32::new(count))
    }

    #[inline]
    pub(crate) fn input_done(&self) -> Readiness {
        let before = self.0.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(before > 0, "pending-input count underflow");
        if before == 1 {
            Readiness::Ready
        } else {
            Readiness::StillWaiting
        }
    }

    /// Release the construction guard (same as one input finishing).
    #[inline]
    pub(crate) fn release_guard(&self) -> Readiness {
        self.input_done()
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::atomic::AtomicUsize;
    use loom::sync::Arc;

    /// Two inputs finish on two threads while the builder releases the
    /// guard: exactly one of the three sees `Ready`, and it sees both
    /// inputs' writes.
    #[test]
    fn loom_exactly_one_fires() {
        loom::model(|| {
            let pending = Arc::new(PendingInputs::with_guard(2));
            let written = Arc::new(AtomicUsize::new(0));
            let fired = Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let (p, w, f) = (
                        Arc::clone(&pending),
                        Arc::clone(&written),
                        Arc::clone(&fired),
                    );
                    loom::thread::spawn(move || {
                        w.fetch_add(1, Ordering::Relaxed);
                        if p.input_done() == Readiness::Ready {
                            assert_eq!(w.load(Ordering::Relaxed), 2);
                            f.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            if pending.release_guard() == Readiness::Ready {
                assert_eq!(written.load(Ordering::Relaxed), 2);
                fired.fetch_add(1, Ordering::Relaxed);
            }
            for h in handles {
                h.join().unwrap();
            }
            assert_eq!(fired.load(Ordering::Relaxed), 1);
        });
    }
}
