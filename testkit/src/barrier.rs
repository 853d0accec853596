//! [`TimedBarrier`]: a barrier for threads that must not block forever.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::try_wait_for;

/// A barrier whose wait gives up after [`TIMEOUT`](crate::TIMEOUT).
///
/// Unlike `std::sync::Barrier`, it can be used on pool workers: a worker
/// stuck at a barrier the other parties never reach returns false (and the
/// test fails on that) instead of holding the pool, and the test, forever.
pub struct TimedBarrier {
    parties: usize,
    arrived: AtomicUsize,
}

impl TimedBarrier {
    /// A barrier for `parties` threads.
    pub fn new(parties: usize) -> TimedBarrier {
        TimedBarrier {
            parties,
            arrived: AtomicUsize::new(0),
        }
    }

    /// Arrives and waits for the others: true once all `parties` have
    /// arrived, false if they did not within the timeout.
    pub fn arrive_and_wait(&self) -> bool {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        try_wait_for(|| self.arrived.load(Ordering::SeqCst) >= self.parties)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn every_party_passes_once_all_have_arrived() {
        let barrier = Arc::new(TimedBarrier::new(3));
        let others: Vec<_> = (0..2)
            .map(|_| {
                let b = Arc::clone(&barrier);
                std::thread::spawn(move || b.arrive_and_wait())
            })
            .collect();
        assert!(barrier.arrive_and_wait());
        for t in others {
            assert!(t.join().unwrap());
        }
    }
}
