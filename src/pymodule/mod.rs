//! The Python extension module `racetrack_plugins._native`, a drop-in for Racetrack's
//! `racetrack_commons.plugin.engine.PluginEngine`. Built by maturin (see
//! `pyproject.toml`); the Python half lives in `python/racetrack_plugins/`.
//!
//! Hooks run in the host's own interpreter on the very objects the caller passed. Any
//! call that may load, reload, install or delete plugins releases the GIL first
//! (`py.detach`): those take the engine's load lock and then attach again themselves.

mod data;
mod engine;
mod errors;
mod logging;

use std::io::Write;
use std::path::PathBuf;

use pyo3::prelude::*;

pub use data::PluginData;
pub use engine::PyPluginEngine;

use crate::bundle::BundleOptions;
use crate::python::ManifestView;

/// Bundles the plugin folder `workdir` into `<name>-<version>.zip` and returns its path.
#[pyfunction]
#[pyo3(signature = (workdir, out_dir=None, out_filename=None, plugin_version=None))]
fn bundle_plugin(
    py: Python<'_>,
    workdir: PathBuf,
    out_dir: Option<PathBuf>,
    out_filename: Option<String>,
    plugin_version: Option<String>,
) -> PyResult<PathBuf> {
    let options = BundleOptions {
        out_dir,
        out_filename,
        plugin_version,
    };
    py.detach(|| crate::bundle::bundle_plugin(&workdir, &options))
        .map_err(|e| errors::new_error(py, errors::Kind::Plugin, e.to_string()))
}

/// Reads and validates the manifest of a plugin bundle given as bytes, installing
/// nothing: hosts check their own rules before an upload (Racetrack's one
/// infrastructure plugin per name). Raises `PluginInstallError` naming `filename`.
#[pyfunction]
fn read_bundle_manifest(
    py: Python<'_>,
    filename: &str,
    data: &Bound<'_, pyo3::types::PyBytes>,
) -> PyResult<ManifestView> {
    let bytes = data.as_bytes().to_vec();
    let read = py.detach(|| -> Result<_, String> {
        let mut file = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
        file.write_all(&bytes).map_err(|e| e.to_string())?;
        crate::archive::read_manifest_as(file.path(), filename).map_err(|e| e.to_string())
    });
    read.map(|m| ManifestView::from(&m))
        .map_err(|message| errors::new_error(py, errors::Kind::Install, message))
}

/// Runs the `racetrack-plugin` command line with `argv` (program name first); returns
/// its exit code.
#[pyfunction]
fn run_cli(py: Python<'_>, argv: Vec<String>) -> u8 {
    run_command(py, || crate::cli::run_from_args(argv))
}

/// Runs a command line without the GIL (it may load plugins) and flushes what it
/// wrote, so Python's own output that follows comes after it.
fn run_command(py: Python<'_>, command: impl FnOnce() -> u8 + Send) -> u8 {
    py.detach(|| {
        let code = command();
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        code
    })
}

/// Runs the `racetrack-plugin-bundler` command line with `argv` (program name first).
#[pyfunction]
fn run_bundler_cli(py: Python<'_>, argv: Vec<String>) -> u8 {
    run_command(py, || crate::bundle_cli::bundler_from_args(argv))
}

/// `atexit` hook: hooks still running in other threads are stopped before the
/// interpreter finalizes (a thread ended by finalization inside the engine's frames
/// would crash the process). Waits at most 5 s for hooks blocked in C code.
#[pyfunction]
fn _stop_hooks_at_exit(py: Python<'_>) {
    let left = crate::python::stop_hooks_for_exit(py, std::time::Duration::from_secs(5));
    if left > 0 {
        eprintln!(
            "racetrack_plugins: {left} hook call(s) still blocked in C code at exit; \
             the interpreter may abort"
        );
    }
}

// Not yet tested on a free-threaded (3.13t) build, so the module asks for the GIL there
// rather than claim a safety nobody checked.
#[pymodule(gil_used = true)]
#[pyo3(name = "_native")]
pub fn native_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyPluginEngine>()?;
    m.add_class::<ManifestView>()?;
    m.add_class::<PluginData>()?;
    m.add_function(wrap_pyfunction!(bundle_plugin, m)?)?;
    m.add_function(wrap_pyfunction!(run_cli, m)?)?;
    m.add_function(wrap_pyfunction!(read_bundle_manifest, m)?)?;
    m.add_function(wrap_pyfunction!(run_bundler_cli, m)?)?;
    errors::add_to_module(m)?;
    let stop = wrap_pyfunction!(_stop_hooks_at_exit, m)?;
    m.py().import("atexit")?.call_method1("register", (stop,))?;
    Ok(())
}
