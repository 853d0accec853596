//! Node ids and names.

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroUsize;
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
/// one name can label many nodes), in one word.
///
/// Every node keeps one, and a pending node's size class is the memory a
/// pending task costs (see `node.rs`), so the name is a tagged pointer: the
/// text's address in the low 48 bits, and above them its kind and length.
/// An enum of `&'static str` and `Arc<str>` takes 24 bytes (two fat
/// pointers and a tag word), a pointer and a length word 16.
///
/// Text of 16 KiB or more, or at an address the low 48 bits cannot hold,
/// is kept as a shared `Arc<Box<str>>` (a thin pointer, whose box knows the
/// length): an allocation more, for names no one gives in practice.
pub struct NodeName {
    tagged: Tagged,
}

/// What the tag above the address says the pointer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The first byte of a `&'static str`.
    Static,
    /// The first byte of an `Arc<str>` from `Arc::into_raw`, whose strong
    /// count the name holds.
    Shared,
    /// The first byte of the static `"task"`: no name was given.
    Anonymous,
    /// An `Arc<Box<str>>` from `Arc::into_raw`, whose strong count the name
    /// holds: text too long for the length field, or at too high an address.
    Long,
}

/// Bits of the tag's length field: text up to 16,383 bytes is kept as is.
const LEN_BITS: u32 = 14;
const MAX_LEN: usize = (1 << LEN_BITS) - 1;

impl Kind {
    const ALL: [Kind; 4] = [Kind::Static, Kind::Shared, Kind::Anonymous, Kind::Long];

    /// The 16-bit tag of text of this kind and `len` bytes (`len` at most
    /// [`MAX_LEN`]; 0 for `Long`).
    fn tag(self, len: usize) -> u16 {
        debug_assert!(len <= MAX_LEN);
        ((self as u16) << LEN_BITS) | len as u16
    }

    fn of(tag: u16) -> (Kind, usize) {
        (
            Kind::ALL[usize::from(tag >> LEN_BITS)],
            usize::from(tag) & MAX_LEN,
        )
    }
}

/// A non-null pointer and a 16-bit tag. With 64-bit pointers, the tag sits
/// in the pointer's top 16 bits, which user-space addresses leave zero on
/// the platforms Python runs on (x86-64 and AArch64 hand out addresses
/// above 2^47 only to a program that asks for them); a pointer with any of
/// them set is refused, and the caller keeps its text another way. With
/// narrower pointers there are no spare bits, so the tag takes a word of
/// its own.
#[cfg(target_pointer_width = "64")]
#[derive(Clone, Copy)]
struct Tagged(NonNull<u8>);

#[cfg(target_pointer_width = "64")]
impl Tagged {
    const TAG_SHIFT: u32 = 48;
    const ADDR_MASK: usize = (1 << Self::TAG_SHIFT) - 1;

    fn new(ptr: NonNull<u8>, tag: u16) -> Option<Tagged> {
        if ptr.addr().get() & !Self::ADDR_MASK != 0 {
            return None;
        }
        // `map_addr` keeps the pointer's provenance; the address is
        // non-null before the tag is or'ed in, so it stays non-null.
        Some(Tagged(ptr.map_addr(|addr| {
            addr | (usize::from(tag) << Self::TAG_SHIFT)
        })))
    }

    fn ptr(self) -> NonNull<u8> {
        // SAFETY: the low 48 bits are the address `new` was given, which was
        // non-null and had no bit above them set.
        self.0
            .map_addr(|addr| unsafe { NonZeroUsize::new_unchecked(addr.get() & Self::ADDR_MASK) })
    }

    fn tag(self) -> u16 {
        (self.0.addr().get() >> Self::TAG_SHIFT) as u16
    }
}

#[cfg(not(target_pointer_width = "64"))]
#[derive(Clone, Copy)]
struct Tagged(NonNull<u8>, u16);

#[cfg(not(target_pointer_width = "64"))]
impl Tagged {
    fn new(ptr: NonNull<u8>, tag: u16) -> Option<Tagged> {
        Some(Tagged(ptr, tag))
    }

    fn ptr(self) -> NonNull<u8> {
        self.0
    }

    fn tag(self) -> u16 {
        self.1
    }
}

// SAFETY: a `NodeName` is a `&'static str`, an `Arc<str>` or an
// `Arc<Box<str>>`, all `Send` and `Sync`; it only reads the text and, when
// shared, moves the strong count it holds, as an `Arc` would.
unsafe impl Send for NodeName {}
// SAFETY: as above.
unsafe impl Sync for NodeName {}

impl NodeName {
    /// No name given (the text is `"task"`).
    pub fn anonymous() -> NodeName {
        NodeName::from_text(Kind::Anonymous, "task")
            .unwrap_or_else(|| NodeName::long("task".into()))
    }

    /// Static text.
    pub fn from_static(text: &'static str) -> NodeName {
        NodeName::from_text(Kind::Static, text).unwrap_or_else(|| NodeName::long(text.into()))
    }

    /// Shared text.
    pub fn shared(text: Arc<str>) -> NodeName {
        if text.len() > MAX_LEN {
            return NodeName::long(text.as_ref().into());
        }
        let len = text.len();
        let raw = Arc::into_raw(text);
        // SAFETY: `Arc::into_raw` never returns null.
        let ptr = unsafe { NonNull::new_unchecked(raw.cast::<u8>().cast_mut()) };
        match Tagged::new(ptr, Kind::Shared.tag(len)) {
            Some(tagged) => NodeName { tagged },
            None => {
                // SAFETY: `raw` came from `Arc::into_raw` just above and was
                // not used since: this takes its count back.
                let text = unsafe { Arc::from_raw(raw) };
                NodeName::long(text.as_ref().into())
            }
        }
    }

    /// `text` of `kind` (`Static` or `Anonymous`), if its length and address
    /// fit the tag.
    fn from_text(kind: Kind, text: &'static str) -> Option<NodeName> {
        if text.len() > MAX_LEN {
            return None;
        }
        let ptr = NonNull::from(text).cast::<u8>();
        Tagged::new(ptr, kind.tag(text.len())).map(|tagged| NodeName { tagged })
    }

    /// `text` behind a thin pointer, for text that does not fit the tag.
    #[cold]
    fn long(text: Box<str>) -> NodeName {
        let raw = Arc::into_raw(Arc::new(text));
        // SAFETY: `Arc::into_raw` never returns null.
        let ptr = unsafe { NonNull::new_unchecked(raw.cast_mut()) }.cast::<u8>();
        match Tagged::new(ptr, Kind::Long.tag(0)) {
            Some(tagged) => NodeName { tagged },
            None => panic!(
                "hpyx-graph keeps a node name's kind in a pointer's top 16 bits, \
                 but the allocator returned {ptr:p}, which uses them"
            ),
        }
    }

    fn kind_and_len(&self) -> (Kind, usize) {
        Kind::of(self.tagged.tag())
    }

    /// True if no name was given.
    pub fn is_anonymous(&self) -> bool {
        self.kind_and_len().0 == Kind::Anonymous
    }

    /// The text, as a raw pointer to it (`Static`, `Shared`, `Anonymous`).
    fn raw_str(&self, len: usize) -> *const str {
        std::ptr::slice_from_raw_parts(self.tagged.ptr().as_ptr().cast_const(), len) as *const str
    }

    /// The `Arc<Box<str>>` of a `Long` name, as a raw pointer.
    fn raw_long(&self) -> *const Box<str> {
        self.tagged.ptr().as_ptr().cast_const().cast::<Box<str>>()
    }

    /// The text (`"task"` for an anonymous node).
    pub fn as_str(&self) -> &str {
        match self.kind_and_len() {
            // SAFETY: the pointer and length are those of a `&'static str`,
            // or of an `Arc<str>` whose strong count this name holds
            // (`Shared`), so the text lives at least as long as `self` and
            // is UTF-8.
            (Kind::Static | Kind::Shared | Kind::Anonymous, len) => unsafe { &*self.raw_str(len) },
            // SAFETY: the pointer is that of an `Arc<Box<str>>` whose strong
            // count this name holds.
            (Kind::Long, _) => unsafe { &*self.raw_long() },
        }
    }
}

impl Clone for NodeName {
    fn clone(&self) -> NodeName {
        match self.kind_and_len() {
            // SAFETY: `raw_str` is what `Arc::into_raw` returned, and this
            // name holds a strong count, so the allocation is alive; the new
            // count is the clone's, released by its `Drop`.
            (Kind::Shared, len) => unsafe { Arc::increment_strong_count(self.raw_str(len)) },
            // SAFETY: as above, for the `Arc<Box<str>>`.
            (Kind::Long, _) => unsafe { Arc::increment_strong_count(self.raw_long()) },
            (Kind::Static | Kind::Anonymous, _) => {}
        }
        NodeName {
            tagged: self.tagged,
        }
    }
}

impl Drop for NodeName {
    fn drop(&mut self) {
        match self.kind_and_len() {
            // SAFETY: as in `clone`: this releases the name's own count.
            (Kind::Shared, len) => drop(unsafe { Arc::from_raw(self.raw_str(len)) }),
            // SAFETY: as above, for the `Arc<Box<str>>`.
            (Kind::Long, _) => drop(unsafe { Arc::from_raw(self.raw_long()) }),
            (Kind::Static | Kind::Anonymous, _) => {}
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

    /// One word: the size tests in `node.rs` count on it.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn is_one_word() {
        assert_eq!(size_of::<NodeName>(), size_of::<usize>());
        assert_eq!(size_of::<Option<NodeName>>(), size_of::<usize>());
    }

    #[test]
    fn text_too_long_for_the_tag_is_kept_whole() {
        let long = "x".repeat(MAX_LEN + 1);
        let shared: Arc<str> = long.as_str().into();
        let a = NodeName::from(Arc::clone(&shared));
        assert_eq!(a.kind_and_len().0, Kind::Long);
        let b = a.clone();
        assert_eq!(b.as_str(), long);
        assert_eq!(a, b);
        drop((a, b));
        let leaked: &'static str = Box::leak(long.clone().into_boxed_str());
        let s = NodeName::from_static(leaked);
        assert_eq!(s.as_str(), long);
        assert!(!s.is_anonymous());
        let fits = NodeName::from(long[..MAX_LEN].to_owned());
        assert_eq!(fits.kind_and_len(), (Kind::Shared, MAX_LEN));
        assert_eq!(fits.as_str(), &long[..MAX_LEN]);
    }

    #[test]
    fn empty_and_multibyte_text() {
        for text in ["", "é", "naïve ∑"] {
            assert_eq!(NodeName::from(text.to_owned()).as_str(), text);
            assert_eq!(NodeName::from_static(text).as_str(), text);
        }
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
