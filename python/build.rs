//! Exposes PyO3's interpreter-version cfgs (`Py_3_13`, `Py_GIL_DISABLED`, ...)
//! to this crate: `thread_state/` picks the finalization check by version.
//!
//! Outside an extension build (maturin sets `PYO3_BUILD_EXTENSION_MODULE`,
//! and then PyO3 links no libpython and this adds nothing), PyO3 links
//! libpython into what cargo builds, the unit-test binary included; the
//! rpath lets that binary find the library when it runs.

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
    pyo3_build_config::add_libpython_rpath_link_args();
}
