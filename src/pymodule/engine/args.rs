//! The Python arguments of `NativeEngine`'s methods as the engine wants them: a hook
//! given by name or function, and durations in seconds checked and converted. Calls
//! nothing in the engine.

use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::pymodule::errors::{new_error, Kind};

/// A hook given as its name or as a function (`PluginCore.fatman_job_types`).
pub(super) fn hook_name(hook: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(name) = hook.cast::<PyString>() {
        return Ok(name.to_str()?.to_owned());
    }
    match hook.getattr_opt("__name__")? {
        Some(name) => {
            let name = name.extract::<String>()?;
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(PyTypeError::new_err(format!(
                    "hook {name:?} is not a method name; pass the hook's name or a method such as PluginCore.fatman_job_types"
                )));
            }
            Ok(name)
        }
        None => Err(PyTypeError::new_err(format!(
            "hook must be a hook name or a function, not {}",
            hook.get_type().name()?
        ))),
    }
}

pub(super) fn load_timeout(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    seconds
        .map(|s| match Duration::try_from_secs_f64(s) {
            Ok(d) if !d.is_zero() => Ok(d),
            _ => Err(PyValueError::new_err(format!(
                "load_timeout must be a positive number of seconds or None, not {s}"
            ))),
        })
        .transpose()
}

pub(super) fn watch_interval(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    seconds
        .map(|s| {
            Duration::try_from_secs_f64(s).map_err(|_| {
                PyValueError::new_err(format!(
                    "watch_interval must be a non-negative number of seconds or None, not {s}"
                ))
            })
        })
        .transpose()
}

pub(super) fn not_found(py: Python<'_>, name: &str, version: Option<&str>) -> PyErr {
    new_error(
        py,
        Kind::NotFound,
        match version {
            Some(v) => format!("no loaded plugin named {name} with version {v}"),
            None => format!("no loaded plugin named {name}"),
        },
    )
}

/// `timeout=` of the hook calls: seconds, positive and finite, or `None`.
pub(super) fn timeout_of(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    let Some(seconds) = seconds else {
        return Ok(None);
    };
    if seconds <= 0.0 {
        return Err(PyValueError::new_err(format!(
            "timeout must be more than 0 seconds, not {seconds}"
        )));
    }
    Duration::try_from_secs_f64(seconds)
        .map(Some)
        .map_err(|e| PyValueError::new_err(format!("timeout {seconds}: {e}")))
}
