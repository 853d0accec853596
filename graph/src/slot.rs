//! [`SlotCell`]: a node's function until it runs, then its value, in one
//! field; and what decides whether the function is kept there or boxed.

use std::cell::UnsafeCell;

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
/// coexist: for a pointer-sized `T` (a Python object) the pair takes 16
/// bytes instead of 24, the function's pointer lending its spare (null)
/// value to tell the variants apart.
enum Slot<T, F> {
    /// The function, not yet taken: a [`Body`], or the function itself if
    /// it [fits](fits_in_node).
    Body(F),
    /// The value once the node succeeded; `None` before that, and for good
    /// if it fails or is cancelled.
    Value(Option<T>),
}

/// A node's [`Slot`], shared between threads under the node's state
/// protocol: written at construction (published with the node's `Arc`),
/// then only by the node's claimant (the one thread that won
/// `transition_to_running` or `transition_to_cancelled`, see `state.rs`),
/// which takes the function and writes the value at most once, before its
/// `Release` store of the final state; read only after `Succeeded` is
/// loaded with `Acquire`. The unsafe methods state their part of it.
pub(crate) struct SlotCell<T, F>(UnsafeCell<Slot<T, F>>);

// SAFETY: the cell is touched only through `&mut self` (`Drop`) and the
// unsafe methods below, whose contracts keep each access from racing
// another: the claimant's accesses (`take_body`, `set_value`) all happen
// before it publishes the final state, and `value` reads only after seeing
// `Succeeded`, which is final, so after the claimant's last write. From then
// on the value is shared read-only, which `T: Sync` allows; `T: Send` and
// `F: Send` cover the claimant taking or dropping them on another thread
// than the one that made the node.
unsafe impl<T: Send + Sync, F: Send> Sync for SlotCell<T, F> {}

impl<T, F> SlotCell<T, F> {
    /// The function `body`, or (a promise's node) no function and no value.
    pub(crate) fn new(body: Option<F>) -> SlotCell<T, F> {
        SlotCell(UnsafeCell::new(match body {
            Some(body) => Slot::Body(body),
            None => Slot::Value(None),
        }))
    }

    /// A value already (a node made finished).
    pub(crate) fn with_value(value: T) -> SlotCell<T, F> {
        SlotCell(UnsafeCell::new(Slot::Value(Some(value))))
    }

    /// Takes the function, if it is still there.
    ///
    /// # Safety
    ///
    /// Only the node's claimant may call this, before it publishes the
    /// node's final state.
    pub(crate) unsafe fn take_body(&self) -> Option<F> {
        // SAFETY: the caller is the claimant, before the final state is
        // published, so no other thread reads or writes the slot (see the
        // `Sync` impl).
        let slot = unsafe { &mut *self.0.get() };
        match std::mem::replace(slot, Slot::Value(None)) {
            Slot::Body(body) => Some(body),
            value => {
                *slot = value;
                None
            }
        }
    }

    /// Stores the value.
    ///
    /// # Safety
    ///
    /// Only the node's claimant may call this, once, before it publishes
    /// `Succeeded`.
    pub(crate) unsafe fn set_value(&self, value: T) {
        // SAFETY: as in `take_body`.
        unsafe { *self.0.get() = Slot::Value(Some(value)) };
    }

    /// The value.
    ///
    /// # Safety
    ///
    /// The caller must have loaded the node's state `Succeeded` with
    /// `Acquire` (the claimant's `Release` store of it follows its last
    /// write here).
    pub(crate) unsafe fn value(&self) -> Option<&T> {
        // SAFETY: `Succeeded` is final, so every write happened before the
        // caller's load of it, and none follows (see the `Sync` impl).
        match unsafe { &*self.0.get() } {
            Slot::Value(value) => value.as_ref(),
            Slot::Body(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pointer-sized value and a boxed function share 16 bytes.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_boxed_function_and_a_pointer_share_two_words() {
        assert_eq!(size_of::<SlotCell<Box<u8>, Body<Box<u8>>>>(), 16);
    }

    #[test]
    fn holds_the_function_then_the_value() {
        let slot: SlotCell<u8, Body<u8>> = SlotCell::new(Some(Box::new(|_: &Inputs<'_>| Ok(7))));
        // SAFETY: one thread: it is the claimant, and the "state" is
        // `Succeeded` only after `set_value`.
        unsafe {
            assert!(slot.value().is_none());
            assert!(slot.take_body().is_some());
            assert!(slot.take_body().is_none());
            slot.set_value(7);
            assert_eq!(slot.value(), Some(&7));
            assert!(slot.take_body().is_none());
            assert_eq!(slot.value(), Some(&7));
        }
        let empty: SlotCell<u8, Body<u8>> = SlotCell::new(None);
        // SAFETY: as above.
        unsafe {
            assert!(empty.take_body().is_none());
            assert!(empty.value().is_none());
        }
    }
}
