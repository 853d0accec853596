//! The allocator's view of memory, for tests and benchmarks.
//!
//! The extension allocates through mimalloc (see `allocator.rs`), which
//! keeps freed pages for reuse; these hooks are its counterparts of glibc's
//! `malloc_trim` and `mallinfo`.

use pyo3::prelude::*;

/// Returns freed memory to the OS where it can (`mi_collect(true)`) and
/// gives the bytes mimalloc still has committed.
#[pyfunction]
fn _release_memory() -> usize {
    // SAFETY: `mi_collect` has no preconditions; it only walks this
    // thread's heap and the abandoned ones.
    unsafe { libmimalloc_sys::mi_collect(true) };
    committed_bytes()
}

/// The bytes mimalloc has committed now (in use plus cached).
#[pyfunction]
fn _allocator_committed() -> usize {
    committed_bytes()
}

fn committed_bytes() -> usize {
    let mut values = [0usize; 8];
    let [elapsed, user, system, rss, peak_rss, commit, peak_commit, faults] = &mut values;
    // SAFETY: every argument points to a distinct, writable usize.
    unsafe {
        libmimalloc_sys::mi_process_info(
            elapsed,
            user,
            system,
            rss,
            peak_rss,
            commit,
            peak_commit,
            faults,
        )
    };
    values[5]
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_release_memory, m)?)?;
    m.add_function(wrap_pyfunction!(_allocator_committed, m)?)?;
    Ok(())
}
