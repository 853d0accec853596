//! Node ids and names.

use std::cell::Cell;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A node's id: unique in the process, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u64);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

const ID_BLOCK: u64 = 1024;
static NEXT_ID_BLOCK: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// `(next, end)` of this thread's block of ids: threads take ids in
    /// blocks so that building nodes on several workers does not contend on
    /// one counter. Ids are therefore unique but not ordered by creation
    /// across threads.
    static ID_RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

impl NodeId {
    pub(crate) fn next() -> NodeId {
        ID_RANGE.with(|range| {
            let (mut next, mut end) = range.get();
            if next == end {
                next = NEXT_ID_BLOCK.fetch_add(ID_BLOCK, Ordering::Relaxed);
                end = next + ID_BLOCK;
            }
            range.set((next + 1, end));
            NodeId(next)
        })
    }
}

/// A node's readable name: static text, or shared text (cheap to clone, so
/// one name can label many nodes), in 16 bytes.
///
/// Every node keeps one, and a pending node's size class is the memory a
/// pending task costs (see `node.rs`), so this is the text's pointer and
/// length with two flag bits in the length's spare top bits, rather than an
/// enum of `&'static str` and `Arc<str>` (24 bytes: the tag needs a word of
/// its own, as neither fat pointer has a spare value for it).
pub struct NodeName {
    /// The text's first byte: static text, or the text of an
    /// `Arc<str>` turned into a raw pointer (`SHARED` set).
    ptr: NonNull<u8>,
    /// The text's length, or'ed with `SHARED` and `ANONYMOUS`.
    bits: usize,
}

/// `ptr` holds one strong count of an `Arc<str>`.
const SHARED: usize = 1 << (usize::BITS - 1);
/// No name was given (the text is `"task"`).
const ANONYMOUS: usize = 1 << (usize::BITS - 2);
const LEN: usize = !(SHARED | ANONYMOUS);

// SAFETY: a `NodeName` is either a `&'static str` or an `Arc<str>`, both
// `Send` and `Sync`; it only reads the text and, when shared, moves the
// strong count it holds, as an `Arc` would.
unsafe impl Send for NodeName {}
// SAFETY: as above.
unsafe impl Sync for NodeName {}

impl NodeName {
    /// No name given (the text is `"task"`).
    pub const fn anonymous() -> NodeName {
        let mut name = NodeName::from_static("task");
        name.bits |= ANONYMOUS;
        name
    }

    /// Static text.
    pub const fn from_static(text: &'static str) -> NodeName {
        assert!(text.len() <= LEN, "a node name this long is not supported");
        NodeName {
            // SAFETY: a reference's pointer is never null.
            ptr: unsafe { NonNull::new_unchecked(text.as_ptr().cast_mut()) },
            bits: text.len(),
        }
    }

    /// Shared text.
    pub fn shared(text: Arc<str>) -> NodeName {
        let len = text.len();
        assert!(len <= LEN, "a node name of {len} bytes is too long");
        let raw = Arc::into_raw(text);
        NodeName {
            // SAFETY: `Arc::into_raw` never returns null.
            ptr: unsafe { NonNull::new_unchecked(raw.cast::<u8>().cast_mut()) },
            bits: len | SHARED,
        }
    }

    /// True if no name was given.
    pub fn is_anonymous(&self) -> bool {
        self.bits & ANONYMOUS != 0
    }

    fn raw_str(&self) -> *const str {
        std::ptr::slice_from_raw_parts(self.ptr.as_ptr().cast_const(), self.bits & LEN)
            as *const str
    }

    /// The text (`"task"` for an anonymous node).
    pub fn as_str(&self) -> &str {
        // SAFETY: `ptr` and the length are those of a `&'static str`, or of
        // an `Arc<str>` whose strong count this name holds (`SHARED`), so
        // the text lives at least as long as `self` and is UTF-8.
        unsafe { &*self.raw_str() }
    }
}

impl Clone for NodeName {
    fn clone(&self) -> NodeName {
        if self.bits & SHARED != 0 {
            // SAFETY: `raw_str` is what `Arc::into_raw` returned, and this
            // name holds a strong count, so the allocation is alive; the new
            // count is the clone's, released by its `Drop`.
            unsafe { Arc::increment_strong_count(self.raw_str()) };
        }
        NodeName {
            ptr: self.ptr,
            bits: self.bits,
        }
    }
}

impl Drop for NodeName {
    fn drop(&mut self) {
        if self.bits & SHARED != 0 {
            // SAFETY: as in `clone`: this releases the name's own count.
            drop(unsafe { Arc::from_raw(self.raw_str()) });
        }
    }
}

impl Default for NodeName {
    fn default() -> NodeName {
        NodeName::anonymous()
    }
}

impl PartialEq for NodeName {
    /// The same text, both anonymous or both named (static or shared alike).
    fn eq(&self, other: &NodeName) -> bool {
        self.is_anonymous() == other.is_anonymous() && self.as_str() == other.as_str()
    }
}

impl Eq for NodeName {}

impl fmt::Debug for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_anonymous() {
            f.write_str("NodeName(anonymous)")
        } else {
            write!(f, "NodeName({:?})", self.as_str())
        }
    }
}

impl From<&'static str> for NodeName {
    fn from(s: &'static str) -> Self {
        NodeName::from_static(s)
    }
}

impl From<String> for NodeName {
    fn from(s: String) -> Self {
        NodeName::shared(s.into())
    }
}

impl From<Arc<str>> for NodeName {
    fn from(s: Arc<str>) -> Self {
        NodeName::shared(s)
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_two_words() {
        assert_eq!(size_of::<NodeName>(), 2 * size_of::<usize>());
    }

    #[test]
    fn text_and_equality() {
        let shared: Arc<str> = "sum".into();
        let a = NodeName::from(Arc::clone(&shared));
        let b = a.clone();
        assert_eq!(Arc::strong_count(&shared), 3);
        assert_eq!(b.as_str(), "sum");
        assert_eq!(a, NodeName::from_static("sum"));
        drop((a, b));
        assert_eq!(Arc::strong_count(&shared), 1);
        assert_eq!(NodeName::anonymous().as_str(), "task");
        assert!(NodeName::default().is_anonymous());
        assert_ne!(NodeName::anonymous(), NodeName::from_static("task"));
        assert_eq!(NodeName::from(String::new()).as_str(), "");
        assert_eq!(format!("{:?}", NodeName::from("x")), "NodeName(\"x\")");
    }
}
