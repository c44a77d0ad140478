use std::fmt;

use pyo3::prelude::*;

use super::support_module;

/// A Python exception, captured with everything an operator needs to find its cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyFailure {
    /// Qualified exception type, e.g. `ModuleNotFoundError`.
    pub exception: String,
    pub message: String,
    /// The formatted traceback, ending with the exception line.
    pub traceback: String,
}

impl PyFailure {
    pub fn from_err(py: Python<'_>, err: &PyErr) -> Self {
        let value = err.value(py);
        let exception = value
            .get_type()
            .qualname()
            .map(|q| q.to_string())
            .unwrap_or_else(|_| "Exception".into());
        let message = value.str().map(|s| s.to_string()).unwrap_or_default();
        let traceback = support_module(py)
            .and_then(|m| m.call_method1("format_exception", (value, err.traceback(py))))
            .and_then(|t| t.extract::<String>())
            .unwrap_or_else(|_| format!("{exception}: {message}\n"));
        Self {
            exception,
            message,
            traceback,
        }
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
