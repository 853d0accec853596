//! `TrackedFutures`: the futures an executor must wait for or cancel at
//! shutdown, in fixed-size chunks.
//!
//! One entry per pending task, so its growth is memory every pending task
//! costs. A doubling `Vec` would cost ~31 bytes of RSS per 16-byte entry
//! (spare capacity after each doubling, and the old buffer still resident
//! while the new one fills); in chunks of `CHUNK` entries the list grows a chunk
//! at a time, never copies, and a prune rebuilds it chunk by chunk, freeing
//! each old chunk as soon as it is read.

/// Entries per chunk (16 KiB of 16-byte entries).
const CHUNK: usize = 1024;

pub(crate) struct TrackedFutures<T> {
    /// Full chunks, then the one being filled (none when empty).
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> TrackedFutures<T> {
    pub(crate) const fn new() -> TrackedFutures<T> {
        TrackedFutures {
            chunks: Vec::new(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, entry: T) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(entry),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(entry);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// Removes the entries `finished` says are done and hands them back
    /// (for the caller to drop when it likes); the rest keep their order.
    pub(crate) fn take_finished(&mut self, mut finished: impl FnMut(&T) -> bool) -> Vec<T> {
        let mut done = Vec::new();
        let mut kept = TrackedFutures::new();
        for chunk in std::mem::take(&mut self.chunks) {
            // Each chunk's buffer is freed when its iterator is spent, as
            // the rebuilt list grows: at most a chunk or two more at once.
            for entry in chunk {
                if finished(&entry) {
                    done.push(entry);
                } else {
                    kept.push(entry);
                }
            }
        }
        *self = kept;
        done
    }

    /// Empties the list, handing back every entry in order.
    pub(crate) fn take_all(&mut self) -> impl Iterator<Item = T> {
        self.len = 0;
        std::mem::take(&mut self.chunks).into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_across_chunks_and_prunes() {
        let mut list = TrackedFutures::new();
        let n = 3 * CHUNK + 7;
        for i in 0..n {
            list.push(i);
        }
        assert_eq!(list.len(), n);
        assert_eq!(list.chunks.len(), 4);
        let done = list.take_finished(|i| i % 3 == 0);
        assert_eq!(done, (0..n).filter(|i| i % 3 == 0).collect::<Vec<_>>());
        assert_eq!(list.len(), n - done.len());
        assert!(list.chunks.iter().all(|c| c.capacity() == CHUNK));
        let rest: Vec<_> = list.take_all().collect();
        assert_eq!(rest, (0..n).filter(|i| i % 3 != 0).collect::<Vec<_>>());
        assert_eq!(list.len(), 0);
        list.push(1);
        assert_eq!(list.take_all().collect::<Vec<_>>(), [1]);
    }
}
