//! [`CompactList`]: a list that never grows, in the size of one item, for
//! a pending node's inputs.
//!
//! A [`SmallList`] keeps three items inline, which is right for lists that
//! are built and drained quickly (a completion walk's ready nodes) but costs
//! 56 bytes in every pending node that has inputs: most of them (`then`) have
//! one. Here a single item is inline, and two or more are a boxed slice
//! behind a box of its own: a thin pointer, which fits beside an input's
//! wide pointer, so the list takes 16 bytes (the wide pointer's spare null
//! value tells the variants apart). That keeps a node with inputs in a
//! smaller allocator size class (see the size tests in `node.rs`); a node
//! with two or more inputs pays a 16-byte allocation more.

use crate::small::SmallList;

/// A fixed list: one item inline, or none or two or more boxed. Safe code
/// only: the layout is the compiler's, and the size test below pins it.
pub(crate) enum CompactList<T> {
    One(T),
    /// `None` for no items, else two or more.
    Many(Option<Box<Box<[T]>>>),
}

impl<T> Default for CompactList<T> {
    fn default() -> Self {
        CompactList::Many(None)
    }
}

impl<T> std::ops::Deref for CompactList<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        match self {
            CompactList::One(item) => std::slice::from_ref(item),
            CompactList::Many(Some(items)) => items,
            CompactList::Many(None) => &[],
        }
    }
}

impl<T> From<SmallList<T>> for CompactList<T> {
    fn from(list: SmallList<T>) -> Self {
        if list.len() <= 1 {
            return list
                .into_iter()
                .next()
                .map_or_else(CompactList::default, CompactList::One);
        }
        CompactList::Many(Some(Box::new(list.into_iter().collect())))
    }
}

impl<T> From<CompactList<T>> for SmallList<T> {
    fn from(list: CompactList<T>) -> Self {
        match list {
            CompactList::One(item) => SmallList::One([item]),
            CompactList::Many(Some(items)) => items.into_vec().into(),
            CompactList::Many(None) => SmallList::Empty,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_through_both_conversions() {
        for n in 0..6 {
            let small: SmallList<usize> = (0..n).collect();
            let compact = CompactList::from(small);
            assert_eq!(&*compact, (0..n).collect::<Vec<_>>().as_slice());
            let back = SmallList::from(compact);
            assert_eq!(&*back, (0..n).collect::<Vec<_>>().as_slice());
        }
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn takes_two_words_for_a_wide_pointer() {
        assert_eq!(
            size_of::<CompactList<std::sync::Arc<dyn Send + Sync>>>(),
            16
        );
    }
}
