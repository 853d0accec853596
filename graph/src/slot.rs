//! [`SlotCell`]: a node's function until it runs, then its value, in one
//! field, and [`SlotTag`], the byte that says which; and what decides
//! whether the function is kept in the node or boxed.

use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;

use crate::error::TaskError;
use crate::node::Inputs;

/// The function of a node: gets its inputs (in argument order) and the
/// `when_any` winner.
pub(crate) trait NodeFn<T>:
    FnOnce(&Inputs<'_>) -> Result<T, TaskError> + Send + 'static
{
}

impl<T, F: FnOnce(&Inputs<'_>) -> Result<T, TaskError> + Send + 'static> NodeFn<T> for F {}

/// A node's function, boxed: for a function too large to keep in the node
/// itself (see [`fits_in_node`]).
pub(crate) type Body<T> = Box<dyn FnOnce(&Inputs<'_>) -> Result<T, TaskError> + Send>;

/// Whether a node keeps the function `F` itself rather than a [`Body`]: if
/// its slot is no larger that way (for a Python task, a callable and an
/// argument tuple: two non-null pointers, the size of the box). A function
/// kept in the node saves an allocation per node (32 bytes per pending
/// task, and a `malloc`/`free` pair); a larger one would move every node of
/// its type up a size class, so it is boxed.
pub(crate) const fn fits_in_node<T, F>() -> bool {
    size_of::<Slot<T, F>>() <= size_of::<Slot<T, Body<T>>>()
        && align_of::<F>() <= align_of::<Body<T>>()
}

/// What a node holds besides its core and input side: its function until
/// the claimant takes it, then its value. One field for both, as they never
/// coexist, and no tag beside them: a `then` node's function is `fn` alone
/// (8 bytes) and its value a Python object (8 bytes), so the slot takes 8
/// bytes where an enum takes 16, which keeps a `then` or `dataflow` node in
/// mimalloc's 112-byte class instead of the 128-byte one. Which of the two
/// is there is told by a [`SlotTag`], kept in a spare byte of the node's
/// core (see `node_core.rs`).
union Slot<T, F> {
    body: ManuallyDrop<F>,
    value: ManuallyDrop<T>,
    nothing: (),
}

/// What a node's [`SlotCell`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Holds {
    /// Nothing: the function was taken (or a promise never had one), and
    /// there is no value (not yet, or for good if the node failed or was
    /// cancelled).
    Nothing,
    /// The function, not yet taken: a [`Body`], or the function itself if
    /// it [fits](fits_in_node).
    Body,
    /// The value, once the node succeeded.
    Value,
}

/// What a node's slot holds, in one byte of the node's core, under the same
/// protocol as the slot (see [`SlotCell`]).
pub(crate) struct SlotTag(UnsafeCell<Holds>);

impl SlotTag {
    /// Nothing yet: [`SlotCell::new`] and [`SlotCell::with_value`] set it.
    pub(crate) const fn new() -> SlotTag {
        SlotTag(UnsafeCell::new(Holds::Nothing))
    }
}

/// A node's [`Slot`], shared between threads under the node's state
/// protocol: written at construction (published with the node's `Arc`),
/// then only by the node's claimant (the one thread that won
/// `transition_to_running` or `transition_to_cancelled`, see `state.rs`),
/// which takes the function and writes the value at most once, before its
/// `Release` store of the final state; read only after `Succeeded` is
/// loaded with `Acquire`. Its [`SlotTag`] follows the same protocol. The
/// unsafe methods state their part of it; each takes the tag made with the
/// slot, which is the node's own.
pub(crate) struct SlotCell<T, F>(UnsafeCell<Slot<T, F>>);

// SAFETY: the cell and its tag are touched only through the unsafe methods
// below, whose contracts keep each access from racing another: the
// claimant's accesses (`take_body`, `set_value`) all happen before it
// publishes the final state, and `value` reads only after seeing
// `Succeeded`, which is final, so after the claimant's last write; `drop`
// has the node to itself. From then on the value is shared read-only,
// which `T: Sync` allows; `T: Send` and `F: Send` cover the claimant taking
// or dropping them on another thread than the one that made the node.
unsafe impl<T: Send + Sync, F: Send> Sync for SlotCell<T, F> {}
// SAFETY: `SlotTag` is part of the same protocol (see above); a `Holds` is
// plain data.
unsafe impl Sync for SlotTag {}

impl<T, F> SlotCell<T, F> {
    /// The function `body`, or (a promise's node) no function and no value;
    /// `tag` is set to match.
    pub(crate) fn new(tag: &mut SlotTag, body: Option<F>) -> SlotCell<T, F> {
        match body {
            Some(body) => {
                *tag.0.get_mut() = Holds::Body;
                SlotCell(UnsafeCell::new(Slot {
                    body: ManuallyDrop::new(body),
                }))
            }
            None => {
                *tag.0.get_mut() = Holds::Nothing;
                SlotCell(UnsafeCell::new(Slot { nothing: () }))
            }
        }
    }

    /// A value already (a node made finished); `tag` is set to match.
    pub(crate) fn with_value(tag: &mut SlotTag, value: T) -> SlotCell<T, F> {
        *tag.0.get_mut() = Holds::Value;
        SlotCell(UnsafeCell::new(Slot {
            value: ManuallyDrop::new(value),
        }))
    }

    /// Takes the function, if it is still there.
    ///
    /// # Safety
    ///
    /// `tag` is the one this slot was made with. Only the node's claimant
    /// may call this, before it publishes the node's final state.
    pub(crate) unsafe fn take_body(&self, tag: &SlotTag) -> Option<F> {
        // SAFETY: the caller is the claimant, before the final state is
        // published, so no other thread reads or writes the slot or its
        // tag (see the `Sync` impl).
        let holds = unsafe { &mut *tag.0.get() };
        if *holds != Holds::Body {
            return None;
        }
        *holds = Holds::Nothing;
        // SAFETY: as above; the tag said `Body`, so `body` is the field
        // that is set, and now that the tag says `Nothing` it is read once.
        Some(unsafe { ManuallyDrop::take(&mut (*self.0.get()).body) })
    }

    /// Stores the value.
    ///
    /// # Safety
    ///
    /// `tag` is the one this slot was made with. Only the node's claimant
    /// may call this, once, after taking the function and before it
    /// publishes `Succeeded`.
    pub(crate) unsafe fn set_value(&self, tag: &SlotTag, value: T) {
        // SAFETY: as in `take_body`.
        let holds = unsafe { &mut *tag.0.get() };
        debug_assert_eq!(
            *holds,
            Holds::Nothing,
            "a value over the function or a value"
        );
        // SAFETY: as in `take_body`; the slot held nothing to drop.
        unsafe {
            *self.0.get() = Slot {
                value: ManuallyDrop::new(value),
            }
        };
        *holds = Holds::Value;
    }

    /// The value.
    ///
    /// # Safety
    ///
    /// `tag` is the one this slot was made with. The caller must have
    /// loaded the node's state `Succeeded` with `Acquire` (the claimant's
    /// `Release` store of it follows its last write here).
    pub(crate) unsafe fn value(&self, tag: &SlotTag) -> Option<&T> {
        // SAFETY: `Succeeded` is final, so every write to the slot and its
        // tag happened before the caller's load of it, and none follows
        // (see the `Sync` impl); the tag says which field is set.
        unsafe {
            match *tag.0.get() {
                Holds::Value => Some(&(*self.0.get()).value),
                Holds::Body | Holds::Nothing => None,
            }
        }
    }

    /// Drops what the slot holds (for the node's `Drop`).
    ///
    /// # Safety
    ///
    /// `tag` is the one this slot was made with, and the slot is not used
    /// afterwards.
    pub(crate) unsafe fn drop_contents(&mut self, tag: &mut SlotTag) {
        let slot = self.0.get_mut();
        let holds = std::mem::replace(tag.0.get_mut(), Holds::Nothing);
        match holds {
            // SAFETY: the tag says which field is set; it is dropped once,
            // as the tag now says `Nothing`.
            Holds::Body => unsafe { ManuallyDrop::drop(&mut slot.body) },
            // SAFETY: as above.
            Holds::Value => unsafe { ManuallyDrop::drop(&mut slot.value) },
            Holds::Nothing => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    /// The slot is the larger of the function and the value, no more.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn the_slot_is_the_larger_of_function_and_value() {
        assert_eq!(size_of::<SlotCell<Box<u8>, Body<Box<u8>>>>(), 16);
        assert_eq!(size_of::<SlotCell<Box<u8>, Box<u8>>>(), 8);
        assert_eq!(size_of::<SlotTag>(), 1);
    }

    #[test]
    fn holds_the_function_then_the_value_and_drops_each_once() {
        let count = Rc::new(());
        let mut tag = SlotTag::new();
        let held = Rc::clone(&count);
        let mut slot: SlotCell<Rc<()>, Rc<()>> = SlotCell::new(&mut tag, Some(held));
        // SAFETY: one thread, which is the claimant; the "state" is
        // `Succeeded` only after `set_value`; `tag` is the slot's own.
        unsafe {
            assert!(slot.value(&tag).is_none());
            let body = slot.take_body(&tag).expect("the function is there");
            assert!(slot.take_body(&tag).is_none());
            drop(body);
            assert_eq!(Rc::strong_count(&count), 1);
            slot.set_value(&tag, Rc::clone(&count));
            assert!(slot.value(&tag).is_some_and(|v| Rc::ptr_eq(v, &count)));
            assert!(slot.take_body(&tag).is_none());
            assert_eq!(Rc::strong_count(&count), 2);
            slot.drop_contents(&mut tag);
        }
        assert_eq!(Rc::strong_count(&count), 1);
        // A function never taken is dropped with the slot.
        let mut tag = SlotTag::new();
        let mut slot: SlotCell<Rc<()>, Rc<()>> = SlotCell::new(&mut tag, Some(Rc::clone(&count)));
        assert_eq!(Rc::strong_count(&count), 2);
        // SAFETY: `tag` is the slot's own, and the slot is not used again.
        unsafe { slot.drop_contents(&mut tag) };
        assert_eq!(Rc::strong_count(&count), 1);
        // A promise's slot: nothing, until a value.
        let mut tag = SlotTag::new();
        let mut slot: SlotCell<Rc<()>, Rc<()>> = SlotCell::new(&mut tag, None);
        // SAFETY: as in the first block.
        unsafe {
            assert!(slot.take_body(&tag).is_none());
            assert!(slot.value(&tag).is_none());
            slot.drop_contents(&mut tag);
        }
        let mut tag = SlotTag::new();
        let mut slot: SlotCell<Rc<()>, Rc<()>> = SlotCell::with_value(&mut tag, Rc::clone(&count));
        // SAFETY: as in the first block.
        unsafe {
            assert!(slot.value(&tag).is_some());
            slot.drop_contents(&mut tag);
        }
        assert_eq!(Rc::strong_count(&count), 1);
    }
}
