//! `Allocator`: the extension's global allocator, mimalloc asked the way
//! that keeps each allocation in its own size class.
//!
//! The `mimalloc` crate's `MiMalloc` passes every request to
//! `mi_malloc_aligned(size, align)`, even for the alignments every mimalloc
//! block has anyway. mimalloc 3 serves such a request from the size class's
//! page only while that page has a free block; otherwise, unless the class
//! is a power of two, it over-allocates `size + align - 1` bytes, which is
//! the next class up. With nothing but aligned requests reaching it, a class
//! like 112 bytes would never get a page, and a 112-byte node would take a
//! 128-byte block (an eighth of its memory wasted: `BENCHMARKS.md`, "Memory
//! per pending task"). So, as Rust's own `System` allocator does with
//! `malloc`, small alignments go to plain `mi_malloc`.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc,
    mi_zalloc_aligned,
};

/// The alignment every mimalloc block has: its size classes are multiples
/// of 8 bytes, and each page's first block is 16-byte aligned
/// (`MI_PAGE_MIN_START_BLOCK_ALIGN`); larger blocks are page aligned.
const MIN_BLOCK_ALIGN: usize = 8;

pub(crate) struct Allocator;

// SAFETY: each method forwards to the mimalloc function of the same
// contract, and every pointer handed out comes from mimalloc, whose
// `mi_free` and `mi_realloc*` take any of its blocks whatever call made
// them. The plain calls are used only for `align <= MIN_BLOCK_ALIGN`, which
// every mimalloc block satisfies (see `MIN_BLOCK_ALIGN`); `realloc` keeps
// the alignment of the original layout, as `GlobalAlloc` requires.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MIN_BLOCK_ALIGN {
            // SAFETY: `layout.size() > 0` (the `GlobalAlloc` contract).
            unsafe { mi_malloc(layout.size()).cast() }
        } else {
            // SAFETY: as above; the alignment is a power of two.
            unsafe { mi_malloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MIN_BLOCK_ALIGN {
            // SAFETY: as in `alloc`.
            unsafe { mi_zalloc(layout.size()).cast() }
        } else {
            // SAFETY: as in `alloc`.
            unsafe { mi_zalloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator, hence from mimalloc.
        unsafe { mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= MIN_BLOCK_ALIGN {
            // SAFETY: `ptr` came from mimalloc; `new_size > 0`.
            unsafe { mi_realloc(ptr.cast::<c_void>(), new_size).cast() }
        } else {
            // SAFETY: as above, keeping the block's alignment.
            unsafe { mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mimalloc's usable size of the block behind `ptr`.
    fn block_size(ptr: *mut u8) -> usize {
        // SAFETY: `ptr` is a live mimalloc block.
        unsafe { libmimalloc_sys::mi_usable_size(ptr.cast::<c_void>()) }
    }

    /// A 112-byte, 8-aligned allocation takes a 112-byte block, however
    /// many are made (the first ones, and those after a page fills, are
    /// where `mi_malloc_aligned` over-allocated); larger alignments still
    /// hold, and contents survive a reallocation.
    #[test]
    fn keeps_each_size_in_its_class_and_honours_alignment() {
        let layout = Layout::from_size_align(112, 8).unwrap();
        let blocks: Vec<*mut u8> = (0..2000)
            // SAFETY: a non-zero size.
            .map(|_| unsafe { Allocator.alloc(layout) })
            .collect();
        for &block in &blocks {
            assert!(!block.is_null());
            assert_eq!(block as usize % 8, 0);
            assert_eq!(block_size(block), 112);
        }
        for align in [16, 64, 4096] {
            let layout = Layout::from_size_align(align * 3, align).unwrap();
            // SAFETY: a non-zero size.
            let block = unsafe { Allocator.alloc_zeroed(layout) };
            assert_eq!(block as usize % align, 0);
            // SAFETY: the block is `align * 3` bytes, zeroed.
            assert!(unsafe { std::slice::from_raw_parts(block, align * 3) }
                .iter()
                .all(|&b| b == 0));
            // SAFETY: `block` is live; the new size is non-zero.
            unsafe {
                block.write(7);
                let grown = Allocator.realloc(block, layout, align * 9);
                assert_eq!(grown as usize % align, 0);
                assert_eq!(*grown, 7);
                Allocator.dealloc(grown, Layout::from_size_align(align * 9, align).unwrap());
            }
        }
        for block in blocks {
            // SAFETY: each block is live and freed once.
            unsafe { Allocator.dealloc(block, layout) };
        }
    }
}
