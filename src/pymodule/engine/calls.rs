//! How `NativeEngine` runs engine work for Python: operations without the GIL, and
//! hook calls with the caller's arguments, their results handed back one by one and
//! the first failure raised. The Python-facing methods are `engine.rs`'s.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::args::timeout_of;
use super::PyPluginEngine;
use crate::engine::{CallOptions, HookError, LoadedPlugin, PluginEngine};
use crate::pymodule::errors::{hook_error, new_error, Kind};
use crate::pymodule::logging::with_python_logging;
use crate::python::{HookArgs, InFlight};

impl PyPluginEngine {
    /// Runs an engine operation that may load plugins, without the GIL.
    pub(super) fn run<T: Send>(
        &self,
        py: Python<'_>,
        op: impl FnOnce(&PluginEngine) -> T + Send,
    ) -> T {
        let engine = &self.engine;
        with_python_logging(py, || py.detach(|| op(engine)))
    }

    /// Calls `hook` with the caller's own arguments, handing each result (with its
    /// plugin) to `each`; the first failure becomes the Python exception.
    pub(super) fn call_hook<'py>(
        &self,
        py: Python<'py>,
        hook: &str,
        only_plugin: Option<(&str, Option<&str>)>,
        (args, kwargs): (&Bound<'py, PyTuple>, Option<&Bound<'py, PyDict>>),
        timeout: Option<f64>,
        mut each: impl FnMut(&std::sync::Arc<LoadedPlugin>, Bound<'py, PyAny>) -> PyResult<()>,
    ) -> PyResult<()> {
        let options = CallOptions::default().timeout(timeout_of(timeout)?);
        let engine = &self.engine;
        let args = HookArgs::from_python(args, kwargs);
        let mut first_error: Option<PyErr> = None;
        let called = with_python_logging(py, || {
            // The change check may reload, which takes the load lock: not with the GIL.
            // Released only when a check is due (once per watch interval), as handing
            // the GIL over costs more than a small hook call.
            if engine.changes_due() {
                py.detach(|| engine.poll_changes());
            }
            // Known to the host's exit while plugin code runs on this thread (or its
            // timed call's thread does): see `crate::python::stop_hooks_for_exit`.
            let Some(_in_flight) = InFlight::enter(options.timeout.is_none()) else {
                return Err(HookError::HostExiting {
                    hook: hook.to_string(),
                });
            };
            engine.invoke_each(hook, only_plugin, &args, options, |plugin, result| {
                if first_error.is_some() {
                    return;
                }
                let outcome = match result {
                    Ok(value) => each(plugin, value.into_py().into_bound(py)),
                    Err(e) => Err(hook_error(py, e)),
                };
                if let Err(e) = outcome {
                    first_error = Some(e);
                }
            })
        });
        match (called, first_error) {
            (Err(HookError::NoSuchPlugin { plugin, .. }), _) => Err(new_error(
                py,
                Kind::NotFound,
                format!("no loaded plugin named {plugin}"),
            )),
            (Err(e), _) => Err(hook_error(py, e)),
            (Ok(()), Some(e)) => Err(e),
            (Ok(()), None) => Ok(()),
        }
    }
}
