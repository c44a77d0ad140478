//! The in-process Python runtime: everything that touches the interpreter (start-up,
//! loading `plugin.py`, converting values, calling hooks). It implements the engine's
//! runtime interface ([`PythonRuntime`]); the rest of the crate sees Python only
//! through that and the opaque values exported here ([`PyValue`], [`HookArgs`],
//! [`PyFailure`]). It may not decide which plugins load or in what order: that is the
//! engine's.

mod failure;
mod hook;
mod loader;
mod runtime;
mod support;
mod value;

pub use failure::PyFailure;
pub use hook::{CallPolicy, HookMethod};
pub use runtime::PythonRuntime;
pub use value::{HookArgs, ManifestView, PyValue};

pub(crate) use support::support_module;

use pyo3::prelude::*;

use crate::deps::RunningPython;

/// Starts the embedded interpreter if this process has none yet (a Python host
/// already has one, and then this does nothing).
pub fn ensure_initialized() {
    Python::initialize();
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
            let info = support_module(py)
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
