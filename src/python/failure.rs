//! A Python exception as the rest of the crate sees it: text an operator can read,
//! plus the live exception for front ends that re-raise it (the Python module chains
//! it as `__cause__`).

use std::fmt;
use std::sync::Arc;

use pyo3::prelude::*;

use super::support_module;

/// A Python exception, captured with everything an operator needs to find its cause.
#[derive(Clone)]
pub struct PyFailure {
    /// Qualified exception type, e.g. `ModuleNotFoundError`.
    pub exception: String,
    pub message: String,
    /// The formatted traceback, ending with the exception line.
    pub traceback: String,
    /// The exception itself.
    original: Option<Arc<PyErr>>,
}

impl fmt::Debug for PyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PyFailure")
            .field("exception", &self.exception)
            .field("message", &self.message)
            .field("traceback", &self.traceback)
            .finish_non_exhaustive()
    }
}

/// Equal when they read the same: two captures of one exception are equal.
impl PartialEq for PyFailure {
    fn eq(&self, other: &Self) -> bool {
        self.exception == other.exception
            && self.message == other.message
            && self.traceback == other.traceback
    }
}

impl Eq for PyFailure {}

impl PyFailure {
    pub fn from_err(py: Python<'_>, err: &PyErr) -> Self {
        let value = err.value(py);
        let exception = value
            .get_type()
            .qualname()
            .map(|q| q.to_string())
            .unwrap_or_else(|_| "Exception".into());
        let message = value.str().map(|s| s.to_string()).unwrap_or_default();
        let traceback = support_module(py, "_calls")
            .and_then(|m| m.call_method1("format_exception", (value, err.traceback(py))))
            .and_then(|t| t.extract::<String>())
            .unwrap_or_else(|_| format!("{exception}: {message}\n"));
        Self {
            exception,
            message,
            traceback,
            original: Some(Arc::new(err.clone_ref(py))),
        }
    }

    /// The exception as raised, when it was captured from a live one.
    pub fn to_err(&self, py: Python<'_>) -> Option<PyErr> {
        self.original.as_ref().map(|e| e.clone_ref(py))
    }

    /// One line: `Type: message`.
    pub fn summary(&self) -> String {
        if self.message.is_empty() {
            self.exception.clone()
        } else {
            format!("{}: {}", self.exception, self.message)
        }
    }
}

impl fmt::Display for PyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n{}", self.summary(), self.traceback.trim_end())
    }
}

impl std::error::Error for PyFailure {}
