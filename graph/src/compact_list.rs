//! [`CompactList`]: a list that never grows, in three words, for a pending
//! node's inputs.
//!
//! A [`SmallList`] keeps three items inline, which is right for lists that
//! are built and drained quickly (a completion walk's ready nodes) but costs
//! 56 bytes in every pending node that has inputs: most of them (`then`) have
//! one. Here a single item is inline and two or more are one boxed slice,
//! so the list takes 24 bytes, which keeps a node with inputs in a smaller
//! allocator size class (see the size tests in `node.rs`).

use crate::small::SmallList;

/// A fixed list: empty, one item inline, or a boxed slice of two or more.
#[derive(Default)]
pub(crate) enum CompactList<T> {
    #[default]
    Empty,
    One(T),
    Many(Box<[T]>),
}

impl<T> std::ops::Deref for CompactList<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        match self {
            CompactList::Empty => &[],
            CompactList::One(item) => std::slice::from_ref(item),
            CompactList::Many(items) => items,
        }
    }
}

impl<T> From<SmallList<T>> for CompactList<T> {
    fn from(list: SmallList<T>) -> Self {
        if list.len() <= 1 {
            return list
                .into_iter()
                .next()
                .map_or(CompactList::Empty, CompactList::One);
        }
        CompactList::Many(list.into_iter().collect())
    }
}

impl<T> From<CompactList<T>> for SmallList<T> {
    fn from(list: CompactList<T>) -> Self {
        match list {
            CompactList::Empty => SmallList::Empty,
            CompactList::One(item) => SmallList::One([item]),
            CompactList::Many(items) => items.into_vec().into(),
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
    fn takes_three_words_for_a_wide_pointer() {
        assert_eq!(
            size_of::<CompactList<std::sync::Arc<dyn Send + Sync>>>(),
            24
        );
    }
}
