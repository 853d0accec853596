//! Shared counters: how often something was called, how many values were
//! dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A counter that clones share: tests hand a clone to each closure and
/// read the total afterwards.
#[derive(Clone, Default)]
pub struct Calls(Arc<AtomicUsize>);

impl Calls {
    /// A counter at zero.
    pub fn new() -> Calls {
        Calls::default()
    }

    /// Counts one call.
    pub fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// Calls so far.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Counts drops of the [`DropToken`]s it hands out: a value that holds a
/// token is seen to be dropped exactly once, or never.
#[derive(Clone, Default)]
pub struct DropCounter(Calls);

impl DropCounter {
    /// A counter at zero.
    pub fn new() -> DropCounter {
        DropCounter::default()
    }

    /// A token that counts one drop when it is dropped.
    pub fn token(&self) -> DropToken {
        DropToken(self.0.clone())
    }

    /// Tokens dropped so far.
    pub fn dropped(&self) -> usize {
        self.0.get()
    }
}

/// Counts one drop on its [`DropCounter`] when dropped.
pub struct DropToken(Calls);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.hit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_of_calls_share_one_count() {
        let calls = Calls::new();
        let other = calls.clone();
        calls.hit();
        other.hit();
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn each_token_counts_its_own_drop_once() {
        let drops = DropCounter::new();
        let (a, b) = (drops.token(), drops.token());
        assert_eq!(drops.dropped(), 0);
        drop(a);
        assert_eq!(drops.dropped(), 1);
        drop(b);
        assert_eq!(drops.dropped(), 2);
    }
}
