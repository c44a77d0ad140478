//! `_support.py`, the runtime's Python half, compiled once per interpreter.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

// The file lives in the Python package (type-checked and unit-tested there); Rust
// hosts, which have no package, get it compiled in.
const SUPPORT_SOURCE: &str = include_str!("../../python/racetrack_plugins/_support.py");

static SUPPORT: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The helper module of `support.py`, compiled once per interpreter.
pub(crate) fn support_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    SUPPORT
        .get_or_try_init(py, || {
            let module = PyModule::from_code(
                py,
                &std::ffi::CString::new(SUPPORT_SOURCE)?,
                c"racetrack_plugins/_support.py",
                c"racetrack_plugins._support",
            )?;
            Ok(module.unbind())
        })
        .map(|m| m.bind(py))
}
