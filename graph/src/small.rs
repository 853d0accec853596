//! `SmallList`: a list that keeps up to three items inline.
//!
//! Most nodes have one to three inputs, and a completion walk makes one to
//! three nodes ready. Keeping those inline saves an allocation each, and a
//! cache miss each time the list is read on another core. Longer lists
//! spill to a `Vec`. (A node's successor list, which every node has, keeps
//! two instead, to stay small: see `successors.rs`.)

use std::mem;

/// Up to three items inline, more on the heap. Safe code only: each inline
/// length is its own variant.
#[derive(Default)]
pub(crate) enum SmallList<T> {
    #[default]
    Empty,
    One([T; 1]),
    Two([T; 2]),
    Three([T; 3]),
    Many(Vec<T>),
}

impl<T> SmallList<T> {
    pub(crate) const fn new() -> SmallList<T> {
        SmallList::Empty
    }

    #[inline]
    pub(crate) fn push(&mut self, item: T) {
        *self = match mem::take(self) {
            SmallList::Empty => SmallList::One([item]),
            SmallList::One([a]) => SmallList::Two([a, item]),
            SmallList::Two([a, b]) => SmallList::Three([a, b, item]),
            SmallList::Three([a, b, c]) => {
                let mut v = Vec::with_capacity(8);
                v.extend([a, b, c, item]);
                SmallList::Many(v)
            }
            SmallList::Many(mut v) => {
                v.push(item);
                SmallList::Many(v)
            }
        };
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            SmallList::Empty => &[],
            SmallList::One(a) => a,
            SmallList::Two(a) => a,
            SmallList::Three(a) => a,
            SmallList::Many(v) => v,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }
}

impl<T: Clone> Clone for SmallList<T> {
    fn clone(&self) -> Self {
        self.as_slice().iter().cloned().collect()
    }
}

impl<T> std::ops::Deref for SmallList<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T> FromIterator<T> for SmallList<T> {
    #[inline]
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut it = iter.into_iter();
        let Some(a) = it.next() else {
            return SmallList::Empty;
        };
        let Some(b) = it.next() else {
            return SmallList::One([a]);
        };
        let Some(c) = it.next() else {
            return SmallList::Two([a, b]);
        };
        let Some(d) = it.next() else {
            return SmallList::Three([a, b, c]);
        };
        let mut v = Vec::with_capacity(4 + it.size_hint().0);
        v.extend([a, b, c, d]);
        v.extend(it);
        SmallList::Many(v)
    }
}

impl<T> From<Vec<T>> for SmallList<T> {
    fn from(v: Vec<T>) -> Self {
        if v.len() > 3 {
            SmallList::Many(v)
        } else {
            v.into_iter().collect()
        }
    }
}

/// The by-value iterator of a [`SmallList`].
pub(crate) enum IntoIter<T> {
    One(std::array::IntoIter<T, 1>),
    Two(std::array::IntoIter<T, 2>),
    Three(std::array::IntoIter<T, 3>),
    Many(std::vec::IntoIter<T>),
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        match self {
            IntoIter::One(it) => it.next(),
            IntoIter::Two(it) => it.next(),
            IntoIter::Three(it) => it.next(),
            IntoIter::Many(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            IntoIter::One(it) => it.size_hint(),
            IntoIter::Two(it) => it.size_hint(),
            IntoIter::Three(it) => it.size_hint(),
            IntoIter::Many(it) => it.size_hint(),
        }
    }
}

impl<T> IntoIterator for SmallList<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    #[inline]
    fn into_iter(self) -> IntoIter<T> {
        match self {
            SmallList::Empty => IntoIter::Many(Vec::new().into_iter()),
            SmallList::One(a) => IntoIter::One(a.into_iter()),
            SmallList::Two(a) => IntoIter::Two(a.into_iter()),
            SmallList::Three(a) => IntoIter::Three(a.into_iter()),
            SmallList::Many(v) => IntoIter::Many(v.into_iter()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SmallList;

    #[test]
    fn smoke() {
        for n in 0..10 {
            let mut pushed = SmallList::new();
            for i in 0..n {
                pushed.push(i);
            }
            let collected: SmallList<i32> = (0..n).collect();
            let expected: Vec<i32> = (0..n).collect();
            assert_eq!(pushed.as_slice(), &expected[..]);
            assert_eq!(collected.as_slice(), &expected[..]);
            assert_eq!(pushed.len(), n as usize);
            assert_eq!(pushed.is_empty(), n == 0);
            assert_eq!(pushed.clone().into_iter().collect::<Vec<_>>(), expected);
            assert_eq!(SmallList::from(expected.clone()).as_slice(), &expected[..]);
        }
    }

    #[test]
    fn destructors() {
        use std::rc::Rc;
        let item = Rc::new(());
        for n in 0..10 {
            let list: SmallList<Rc<()>> = (0..n).map(|_| Rc::clone(&item)).collect();
            assert_eq!(Rc::strong_count(&item), n + 1);
            let mut it = list.into_iter();
            drop(it.next());
            drop(it);
            assert_eq!(Rc::strong_count(&item), 1);
        }
    }
}
