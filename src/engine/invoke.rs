//! Calling a hook on every plugin that implements it, in order.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use serde::Serialize;
use thiserror::Error;

use super::set::{LoadedPlugin, PluginSet};
use super::PluginEngine;
use crate::python::{HookArgs, PyFailure, PyValue, SharedKwargs};

/// Which plugin a result or error came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct PluginRef {
    pub name: String,
    pub version: String,
}

impl PluginRef {
    /// `<name>-<version>`, the key of the plugin's files.
    pub fn id(&self) -> String {
        crate::manifest::plugin_id(&self.name, &self.version)
    }
}

impl fmt::Display for PluginRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.version)
    }
}

/// One plugin's answer to a hook call.
#[derive(Debug, Clone)]
pub struct HookOutput {
    /// Shared with the loaded plugin (read it as `output.plugin.name`).
    pub plugin: Arc<PluginRef>,
    pub value: PyValue,
}

/// A hook call that went wrong, with the context an operator needs.
#[derive(Debug, Clone, Error)]
pub enum HookError {
    #[error("plugin {plugin}: hook {hook} raised {}\n{}", failure.summary(), failure.traceback.trim_end())]
    Raised {
        plugin: PluginRef,
        hook: String,
        failure: Box<PyFailure>,
    },
    #[error("plugin {plugin}: hook {hook} returned an unusable value: {problem}")]
    BadResult {
        plugin: PluginRef,
        hook: String,
        problem: String,
    },
    #[error("hook {hook}: its arguments could not be converted to Python: {}", failure.summary())]
    Arguments {
        hook: String,
        failure: Box<PyFailure>,
    },
    #[error("hook {hook}: no loaded plugin named {plugin}{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
    NoSuchPlugin {
        plugin: String,
        hook: String,
        /// Why, when it is installed: its status and error.
        detail: String,
    },
}

impl HookError {
    /// The plugin at fault, when there is one.
    pub fn plugin(&self) -> Option<&PluginRef> {
        match self {
            HookError::Raised { plugin, .. } | HookError::BadResult { plugin, .. } => Some(plugin),
            _ => None,
        }
    }
}

/// Fail-fast (stop at the first raising plugin, as Racetrack does) or collect-all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallMode {
    FailFast,
    CollectAll,
}

/// One plugin's outcome, still as Python objects (for Python hosts, which chain the
/// original exception); [`HookError::raised`] turns an error into the Rust type.
pub type PyOutcome<'py> = (Arc<LoadedPlugin>, Result<Bound<'py, PyAny>, PyErr>);

impl HookError {
    /// The error for `err`, raised by `plugin`'s implementation of `hook`.
    pub fn raised(py: Python<'_>, plugin: &LoadedPlugin, hook: &str, err: &PyErr) -> Self {
        HookError::Raised {
            plugin: PluginRef::clone(&plugin.origin),
            hook: hook.to_string(),
            failure: Box::new(PyFailure::from_err(py, err)),
        }
    }
}

pub(crate) fn call_on_set<'py>(
    py: Python<'py>,
    set: &PluginSet,
    hook: &str,
    only_plugin: Option<&str>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
    mode: CallMode,
) -> Vec<PyOutcome<'py>> {
    let mut outcomes = Vec::with_capacity(set.loaded().len());
    for_each_outcome(
        py,
        set,
        hook,
        only_plugin,
        args,
        kwargs,
        mode,
        |plugin, result| outcomes.push((plugin.clone(), result)),
    );
    outcomes
}

/// Calls `hook` on every implementation in order, handing each outcome to `each`
/// (borrowing the plugin, so callers that do not keep it pay no reference count).
#[allow(clippy::too_many_arguments)]
pub(crate) fn for_each_outcome<'py>(
    py: Python<'py>,
    set: &PluginSet,
    hook: &str,
    only_plugin: Option<&str>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
    mode: CallMode,
    mut each: impl FnMut(&Arc<LoadedPlugin>, PyResult<Bound<'py, PyAny>>),
) {
    let table = set.hook_table(py, hook);
    let mut shared_kwargs = SharedKwargs::new(kwargs);
    for bound in table.iter() {
        let plugin = &bound.plugin;
        if only_plugin.is_some_and(|name| plugin.name() != name) {
            continue;
        }
        let span = tracing::debug_span!(
            "hook",
            hook,
            plugin = plugin.name(),
            version = plugin.version()
        );
        let _entered = span.enter();
        let started = tracing::enabled!(tracing::Level::DEBUG).then(Instant::now);
        let result = bound
            .method
            .call_shared(py, args, &mut shared_kwargs, plugin.name(), hook);
        if let Some(started) = started {
            tracing::debug!(
                elapsed_us = started.elapsed().as_secs_f64() * 1e6,
                ok = result.is_ok(),
                "hook called"
            );
        }
        let failed = result.is_err();
        // The caller gets the error and decides how loud to be about it.
        if let Err(err) = &result {
            if tracing::enabled!(tracing::Level::DEBUG) {
                tracing::debug!("{}", HookError::raised(py, plugin, hook, err));
            }
        }
        each(plugin, result);
        if failed && mode == CallMode::FailFast {
            break;
        }
    }
}

impl PluginEngine {
    /// Calls `hook` on every loaded plugin that implements it, in order, and returns
    /// each result with its plugin. Stops at the first plugin that raises.
    pub fn invoke(&self, hook: &str, args: &HookArgs) -> Result<Vec<HookOutput>, HookError> {
        self.invoke_with_mode(hook, None, args, CallMode::FailFast)
            .into_iter()
            .collect()
    }

    /// Like [`invoke`](Self::invoke), but calls every plugin even when some raise.
    pub fn invoke_collect(
        &self,
        hook: &str,
        args: &HookArgs,
    ) -> Vec<Result<HookOutput, HookError>> {
        self.invoke_with_mode(hook, None, args, CallMode::CollectAll)
    }

    /// Calls `hook` on one plugin only. `Ok(None)` when it does not implement the hook.
    pub fn invoke_one(
        &self,
        plugin: &str,
        hook: &str,
        args: &HookArgs,
    ) -> Result<Option<HookOutput>, HookError> {
        let set = self.current();
        if !set.loaded().iter().any(|p| p.name() == plugin) {
            let detail = set
                .infos()
                .iter()
                .find(|p| p.name == plugin)
                .map(|p| match &p.error {
                    Some(error) => format!("it is installed but {}: {error}", p.status),
                    None => format!("it is installed but {}", p.status),
                })
                .unwrap_or_default();
            return Err(HookError::NoSuchPlugin {
                plugin: plugin.to_string(),
                hook: hook.to_string(),
                detail,
            });
        }
        let mut results = invoke_on(&set, hook, Some(plugin), args, CallMode::FailFast);
        match results.pop() {
            Some(result) => result.map(Some),
            None => Ok(None),
        }
    }

    fn invoke_with_mode(
        &self,
        hook: &str,
        only_plugin: Option<&str>,
        args: &HookArgs,
        mode: CallMode,
    ) -> Vec<Result<HookOutput, HookError>> {
        invoke_on(&self.current(), hook, only_plugin, args, mode)
    }
}

/// Calls `hook` on `set` with Rust arguments, converted once for every plugin.
fn invoke_on(
    set: &PluginSet,
    hook: &str,
    only_plugin: Option<&str>,
    args: &HookArgs,
    mode: CallMode,
) -> Vec<Result<HookOutput, HookError>> {
    Python::attach(|py| {
        let (a, k) = match args.to_python(py) {
            Ok(converted) => converted,
            Err(failure) => {
                return vec![Err(HookError::Arguments {
                    hook: hook.to_string(),
                    failure: Box::new(failure),
                })]
            }
        };
        let mut outputs = Vec::with_capacity(set.loaded().len());
        for_each_outcome(
            py,
            set,
            hook,
            only_plugin,
            &a,
            k.as_ref(),
            mode,
            |plugin, result| {
                outputs.push(match result {
                    Ok(value) => Ok(HookOutput {
                        plugin: plugin.origin.clone(),
                        value: PyValue::new(value.unbind()),
                    }),
                    Err(err) => Err(HookError::raised(py, plugin, hook, &err)),
                })
            },
        );
        outputs
    })
}

impl PluginEngine {
    /// For Python hosts: calls with Python arguments as given (no conversion, no copy).
    /// The caller holds the GIL; the change check is the caller's to make beforehand.
    pub fn invoke_py<'py>(
        &self,
        py: Python<'py>,
        hook: &str,
        only_plugin: Option<&str>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
        mode: CallMode,
    ) -> Vec<PyOutcome<'py>> {
        let set = self.snapshot();
        call_on_set(py, &set, hook, only_plugin, args, kwargs, mode)
    }
}
