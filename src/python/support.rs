//! The runtime's Python half: the private modules of `racetrack_plugins` that Rust
//! calls into, compiled into the library and run once per interpreter.

use pyo3::exceptions::PyLookupError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

/// Module name (in the package) and source, in the order they run. The files live in
/// the Python package (type-checked and unit-tested there); Rust hosts, which have no
/// package, get them compiled in. Running one registers it in `sys.modules` under
/// its full name, so a module may import those above it
/// (`from racetrack_plugins._importer import ...`) with no package on disk.
const MODULES: &[(&str, &str)] = &[
    (
        "_jsonable",
        include_str!("../../python/racetrack_plugins/_jsonable.py"),
    ),
    (
        "_calls",
        include_str!("../../python/racetrack_plugins/_calls.py"),
    ),
    (
        "_importer",
        include_str!("../../python/racetrack_plugins/_importer.py"),
    ),
    (
        "_shadowing",
        include_str!("../../python/racetrack_plugins/_shadowing.py"),
    ),
    (
        "_loading",
        include_str!("../../python/racetrack_plugins/_loading.py"),
    ),
    (
        "_batch",
        include_str!("../../python/racetrack_plugins/_batch.py"),
    ),
];

/// `MODULES`, run, in the same order.
static RUN: PyOnceLock<Vec<Py<PyModule>>> = PyOnceLock::new();

/// The runtime module `name` (`"_loading"`) of this interpreter; the first call runs
/// them all. A Python host runs the engine's own copies too (the source its Rust code
/// was built with): one imported from the package before is run again in place, so
/// each name stays one module object, holding one set of classes.
pub(crate) fn support_module<'py>(
    py: Python<'py>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyModule>> {
    let modules = RUN.get_or_try_init(py, || {
        MODULES
            .iter()
            .map(|(name, source)| run(py, name, source))
            .collect::<PyResult<Vec<_>>>()
    })?;
    let index = MODULES
        .iter()
        .position(|(known, _)| *known == name)
        .ok_or_else(|| PyLookupError::new_err(format!("no runtime module {name}")))?;
    Ok(modules[index].bind(py))
}

fn run(py: Python<'_>, name: &str, source: &str) -> PyResult<Py<PyModule>> {
    let module = PyModule::from_code(
        py,
        &std::ffi::CString::new(source)?,
        &std::ffi::CString::new(format!("racetrack_plugins/{name}.py"))?,
        &std::ffi::CString::new(format!("racetrack_plugins.{name}"))?,
    )?;
    Ok(module.unbind())
}
