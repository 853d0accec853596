//! Exposes PyO3's interpreter-version cfgs (`Py_3_13`, `Py_GIL_DISABLED`, ...)
//! to this crate: `runtime.rs` picks the finalization check by version.

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
