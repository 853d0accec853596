//! Node ids and names.

use std::cell::Cell;
use std::fmt;
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
/// one name can label many nodes).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum NodeName {
    /// No name given.
    #[default]
    Anonymous,
    /// Static text.
    Static(&'static str),
    /// Shared text.
    Shared(Arc<str>),
}

impl NodeName {
    /// The text (`"task"` for an anonymous node).
    pub fn as_str(&self) -> &str {
        match self {
            NodeName::Anonymous => "task",
            NodeName::Static(s) => s,
            NodeName::Shared(s) => s,
        }
    }
}

impl From<&'static str> for NodeName {
    fn from(s: &'static str) -> Self {
        NodeName::Static(s)
    }
}

impl From<String> for NodeName {
    fn from(s: String) -> Self {
        NodeName::Shared(s.into())
    }
}

impl From<Arc<str>> for NodeName {
    fn from(s: Arc<str>) -> Self {
        NodeName::Shared(s)
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
