//! The exception classes of `racetrack_plugins.errors` (plain Python classes) and the
//! conversion of engine errors into them.

use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule, PyType};

use crate::engine::HookError;
use crate::error::EngineError;
use crate::store::StoreError;

const ERRORS_MODULE: &str = "racetrack_plugins.errors";

/// Which exception class to raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Plugin,
    Hook,
    Install,
    NotFound,
    Timeout,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Plugin,
        Kind::Hook,
        Kind::Install,
        Kind::NotFound,
        Kind::Timeout,
    ];

    fn class_name(self) -> &'static str {
        match self {
            Kind::Plugin => "PluginError",
            Kind::Hook => "PluginHookError",
            Kind::Install => "PluginInstallError",
            Kind::NotFound => "PluginNotFoundError",
            Kind::Timeout => "HookTimeout",
        }
    }

    fn cell(self) -> &'static PyOnceLock<Py<PyType>> {
        static PLUGIN: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        static HOOK: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        static INSTALL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        static NOT_FOUND: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        static TIMEOUT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        match self {
            Kind::Plugin => &PLUGIN,
            Kind::Hook => &HOOK,
            Kind::Install => &INSTALL,
            Kind::NotFound => &NOT_FOUND,
            Kind::Timeout => &TIMEOUT,
        }
    }

    fn class<'py>(self, py: Python<'py>) -> PyResult<&'py Bound<'py, PyType>> {
        self.cell().import(py, ERRORS_MODULE, self.class_name())
    }
}

/// Makes the exception classes attributes of `_native` too.
pub(crate) fn add_to_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    for kind in Kind::ALL {
        m.add(kind.class_name(), kind.class(m.py())?)?;
    }
    Ok(())
}

/// An exception of class `kind` with `message`. When the class cannot be imported, the
/// import error is what gets raised (it says what is wrong with the installation).
pub(crate) fn new_error(py: Python<'_>, kind: Kind, message: String) -> PyErr {
    new_error_with(py, kind, message, None)
}

fn new_error_with(
    py: Python<'_>,
    kind: Kind,
    message: String,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyErr {
    match kind.class(py).and_then(|cls| cls.call((message,), kwargs)) {
        Ok(value) => PyErr::from_value(value),
        Err(err) => err,
    }
}

/// `err` as the exception Python callers see: `kind` unless the error itself says
/// better (a missing plugin, a rejected bundle). I/O errors are chained as the
/// `OSError` `__cause__`.
pub(crate) fn engine_error(py: Python<'_>, kind: Kind, err: EngineError) -> PyErr {
    let message = crate::error::report(&err);
    match err {
        // No plugin can have a name or version that leads outside the directory.
        EngineError::NotFound { .. } => new_error(py, Kind::NotFound, message),
        EngineError::Store(ref e) if matches!(**e, StoreError::BadId { .. }) => {
            new_error(py, Kind::NotFound, message)
        }
        EngineError::NotAZip { .. }
        | EngineError::UploadRejected { .. }
        | EngineError::Refused { .. }
        | EngineError::Archive(_)
        | EngineError::Manifest(_)
        | EngineError::Deps(_) => new_error(py, Kind::Install, message),
        EngineError::Io { source, .. } | EngineError::File(source) => {
            let error = new_error(py, kind, message);
            error.set_cause(py, Some(PyErr::from(source)));
            error
        }
        EngineError::Interpreter(_)
        | EngineError::Reentrant
        | EngineError::Store(_)
        | EngineError::InstalledBut { .. } => new_error(py, kind, message),
    }
}

/// The error a hook's failure becomes: `PluginHookError` naming the plugin, with the
/// original exception as `__cause__`, whatever it is (`SystemExit`, pyo3's
/// `PanicException`, any `BaseException`: a plugin must not end the host), except
/// `KeyboardInterrupt`, which is the user's, not the plugin's. A hook over its time
/// limit is `HookTimeout` (a `PluginHookError`).
pub(crate) fn hook_error(py: Python<'_>, error: HookError) -> PyErr {
    let message = error.to_string();
    if let HookError::Timeout {
        plugin,
        hook,
        timeout,
    } = &error
    {
        let kwargs = PyDict::new(py);
        let filled = (|| -> PyResult<()> {
            kwargs.set_item("plugin", &plugin.name)?;
            kwargs.set_item("version", &plugin.version)?;
            kwargs.set_item("hook", hook)?;
            kwargs.set_item("timeout", timeout.as_secs_f64())?;
            Ok(())
        })();
        if let Err(e) = filled {
            return e;
        }
        return new_error_with(py, Kind::Timeout, message, Some(&kwargs));
    }
    let HookError::Raised {
        plugin,
        hook,
        failure,
    } = error
    else {
        return new_error(py, Kind::Hook, message);
    };
    let original = failure.to_err(py);
    if let Some(err) = &original {
        if err.is_instance_of::<PyKeyboardInterrupt>(py) {
            return err.clone_ref(py);
        }
    }
    let message = format!(
        "plugin {} {}: hook {hook} raised {}",
        plugin.name,
        plugin.version,
        failure.summary()
    );
    let kwargs = PyDict::new(py);
    let filled = (|| -> PyResult<()> {
        kwargs.set_item("plugin", &plugin.name)?;
        kwargs.set_item("version", &plugin.version)?;
        kwargs.set_item("hook", &hook)?;
        kwargs.set_item("traceback_text", &failure.traceback)?;
        Ok(())
    })();
    if let Err(e) = filled {
        return e;
    }
    let error = new_error_with(py, Kind::Hook, message, Some(&kwargs));
    error.set_cause(py, original);
    error
}
