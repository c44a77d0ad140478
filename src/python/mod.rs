//! The in-process Python runtime: everything that touches the interpreter (start-up,
//! loading `plugin.py`, converting values, calling hooks). It implements the engine's
//! runtime interface ([`PythonRuntime`]); the rest of the crate sees Python only
//! through that and the opaque values exported here ([`PyValue`], [`HookArgs`],
//! [`PyFailure`]). It may not decide which plugins load or in what order: that is the
//! engine's.

mod args;
mod batch;
mod deadline;
mod failure;
mod frozen_call;
mod hook;
mod hook_tables;
mod in_flight;
mod loader;
mod release;
mod runtime;
mod support;
mod value;

pub use args::HookArgs;
pub(crate) use args::PyCallArgs;
pub use failure::PyFailure;
pub use hook::{CallPolicy, HookMethod};
pub use in_flight::{host_exiting, stop_all as stop_hooks_for_exit, InFlight};
pub use runtime::PythonRuntime;
pub use value::{ManifestView, PluginInstance, PyValue};

pub(crate) use support::support_module;

use pyo3::prelude::*;

use crate::deps::RunningPython;

/// Starts the embedded interpreter if this process has none yet (a Python host
/// already has one, and then this does nothing). An interpreter this process starts
/// itself also gets the site-packages of `$VIRTUAL_ENV`, as an activated venv gives
/// `python`: the embedded libpython knows nothing of venvs.
pub fn ensure_initialized() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        // SAFETY: Py_IsInitialized only reads a flag and may be called at any time.
        let embedded = unsafe { pyo3::ffi::Py_IsInitialized() } == 0;
        Python::initialize();
        if !embedded {
            return;
        }
        if let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()) {
            Python::attach(|py| match add_virtual_env(py, &venv) {
                Ok(Some(dir)) => {
                    tracing::info!(site_packages = %dir, "VIRTUAL_ENV's packages added")
                }
                Ok(None) => tracing::warn!(
                    venv = %std::path::Path::new(&venv).display(),
                    "VIRTUAL_ENV has no site-packages for the embedded Python's version; not used"
                ),
                Err(e) => {
                    tracing::warn!(error = %PyFailure::from_err(py, &e), "VIRTUAL_ENV not used")
                }
            });
        }
    });
}

/// Adds the venv's site-packages (and its `.pth` files) to `sys.path`; its path, or
/// `None` when the venv has none for this interpreter's version.
fn add_virtual_env(py: Python<'_>, venv: &std::ffi::OsStr) -> PyResult<Option<String>> {
    let vars = pyo3::types::PyDict::new(py);
    vars.set_item("base", venv)?;
    vars.set_item("platbase", venv)?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("vars", vars)?;
    let dir: String = py
        .import("sysconfig")?
        .call_method("get_path", ("purelib",), Some(&kwargs))?
        .extract()?;
    if !std::path::Path::new(&dir).is_dir() {
        return Ok(None);
    }
    py.import("site")?.call_method1("addsitedir", (&dir,))?;
    Ok(Some(dir))
}

/// Puts `dirs` on `sys.path` (after what is there, with their `.pth` files), for
/// host-provided packages every plugin may import. Dirs already there stay put.
pub fn add_python_path(dirs: &[std::path::PathBuf]) -> Result<(), PyFailure> {
    if dirs.is_empty() {
        return Ok(());
    }
    Python::attach(|py| {
        let site = py.import("site").map_err(|e| PyFailure::from_err(py, &e))?;
        for dir in dirs {
            site.call_method1("addsitedir", (dir,))
                .map_err(|e| PyFailure::from_err(py, &e))?;
            tracing::debug!(dir = %dir.display(), "added to sys.path");
        }
        Ok(())
    })
}

/// The interpreter that is actually running, which may differ from the `python3` on
/// PATH (see ARCHITECTURE.md): venvs must be built for this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpreterInfo {
    pub version: (u32, u32, u32),
    pub version_text: String,
    pub prefix: String,
    pub base_prefix: String,
    pub executable: String,
}

impl InterpreterInfo {
    pub fn current() -> Result<Self, PyFailure> {
        ensure_initialized();
        Python::attach(|py| {
            let info = support_module(py, "_loading")
                .and_then(|m| m.call_method0("interpreter_info"))
                .and_then(|v| v.extract::<((u32, u32, u32), String, String, String, String)>())
                .map_err(|e| PyFailure::from_err(py, &e))?;
            let (version, version_text, prefix, base_prefix, executable) = info;
            Ok(Self {
                version,
                version_text,
                prefix,
                base_prefix,
                executable,
            })
        })
    }

    pub fn running_python(&self) -> RunningPython {
        RunningPython {
            version: self.version,
            base_prefix: self.base_prefix.clone().into(),
            executable: (!self.executable.is_empty()).then(|| self.executable.clone().into()),
        }
    }
}
