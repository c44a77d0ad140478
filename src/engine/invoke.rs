//! Calling a hook on every plugin that implements it, in order, through the
//! runtime's dispatcher; what a call's outcomes mean (results, [`HookError`]).

use std::sync::Arc;

use thiserror::Error;

use super::plugin::{LoadedPlugin, PluginRef};
use super::runtime::CallTarget;
use super::set::PluginSet;
use super::PluginEngine;
use crate::python::{HookArgs, PyFailure, PyValue};

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

    /// The error for `failure`, raised by `plugin`'s implementation of `hook`.
    pub fn raised(plugin: &LoadedPlugin, hook: &str, failure: PyFailure) -> Self {
        Self::raised_boxed(plugin, hook, Box::new(failure))
    }

    fn raised_boxed(plugin: &LoadedPlugin, hook: &str, failure: Box<PyFailure>) -> Self {
        HookError::Raised {
            plugin: PluginRef::clone(&plugin.origin),
            hook: hook.to_string(),
            failure,
        }
    }
}

/// Fail-fast (stop at the first raising plugin, as Racetrack does) or collect-all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallMode {
    FailFast,
    CollectAll,
}

impl PluginEngine {
    /// Calls `hook` on every loaded plugin that implements it, in order, and returns
    /// each result with its plugin. Stops at the first plugin that raises.
    pub fn invoke(&self, hook: &str, args: &HookArgs) -> Result<Vec<HookOutput>, HookError> {
        self.invoke_with_mode(hook, args, CallMode::FailFast)
            .into_iter()
            .collect()
    }

    /// Like [`invoke`](Self::invoke), but calls every plugin even when some raise.
    pub fn invoke_collect(
        &self,
        hook: &str,
        args: &HookArgs,
    ) -> Vec<Result<HookOutput, HookError>> {
        self.invoke_with_mode(hook, args, CallMode::CollectAll)
    }

    /// Calls `hook` on one plugin only (the newest loaded version of that name). `Ok(None)`
    /// when it does not implement the hook.
    pub fn invoke_one(
        &self,
        plugin: &str,
        hook: &str,
        args: &HookArgs,
    ) -> Result<Option<HookOutput>, HookError> {
        let mut found = None;
        self.invoke_each_on(
            &self.current(),
            hook,
            Some((plugin, None)),
            args,
            CallMode::FailFast,
            |p, r| {
                found = Some(r.map(|value| HookOutput {
                    plugin: p.origin.clone(),
                    value,
                }))
            },
        )?;
        found.transpose()
    }

    /// The lowest-level call, for front ends that keep the plugin of each outcome (the
    /// Python module): calls `hook` on the loaded plugins (or the first loaded one
    /// named `only_plugin`, of the given version or else the newest), handing each outcome to `each` as it comes. Runs on the
    /// current set without the change check: call [`poll_changes`](Self::poll_changes)
    /// first. `Err` when no plugin was called (no such plugin, unconvertible arguments).
    pub fn invoke_each(
        &self,
        hook: &str,
        only_plugin: Option<(&str, Option<&str>)>,
        args: &HookArgs,
        mode: CallMode,
        each: impl FnMut(&Arc<LoadedPlugin>, Result<PyValue, HookError>),
    ) -> Result<(), HookError> {
        self.invoke_each_on(&self.snapshot(), hook, only_plugin, args, mode, each)
    }

    fn invoke_with_mode(
        &self,
        hook: &str,
        args: &HookArgs,
        mode: CallMode,
    ) -> Vec<Result<HookOutput, HookError>> {
        let set = self.current();
        let mut outputs = Vec::with_capacity(set.loaded().len());
        let called = self.invoke_each_on(&set, hook, None, args, mode, |plugin, result| {
            outputs.push(result.map(|value| HookOutput {
                plugin: plugin.origin.clone(),
                value,
            }))
        });
        match called {
            Ok(()) => outputs,
            Err(e) => vec![Err(e)],
        }
    }

    pub(crate) fn invoke_each_on(
        &self,
        set: &PluginSet,
        hook: &str,
        only_plugin: Option<(&str, Option<&str>)>,
        args: &HookArgs,
        mode: CallMode,
        mut each: impl FnMut(&Arc<LoadedPlugin>, Result<PyValue, HookError>),
    ) -> Result<(), HookError> {
        let target = match only_plugin {
            None => CallTarget::All,
            Some((name, version)) => CallTarget::One(find_loaded(set, name, version, hook)?),
        };
        let debug = tracing::enabled!(tracing::Level::DEBUG);
        let mut sink = |plugin: &Arc<LoadedPlugin>, result: Result<PyValue, Box<PyFailure>>| {
            let result = result.map_err(|failure| HookError::raised_boxed(plugin, hook, failure));
            if debug {
                if let Err(e) = &result {
                    // The caller gets the error and decides how loud to be about it.
                    tracing::debug!("{e}");
                }
            }
            each(plugin, result)
        };
        set.dispatcher
            .call(hook, target, args, mode == CallMode::FailFast, &mut sink)
            .map_err(|failure| HookError::Arguments {
                hook: hook.to_string(),
                failure: Box::new(failure),
            })
    }
}

/// The loaded plugin `name` (of `version`; else the newest), or why there is none.
fn find_loaded<'s>(
    set: &'s PluginSet,
    name: &str,
    version: Option<&str>,
    hook: &str,
) -> Result<&'s LoadedPlugin, HookError> {
    if let Some(plugin) = super::find_in(set, name, version) {
        return Ok(plugin);
    }
    let detail = set
        .infos()
        .iter()
        .find(|p| p.name == name)
        .map(|p| match &p.error {
            Some(error) => format!("it is installed but {}: {}", p.status, error.report()),
            None => format!("it is installed but {}", p.status),
        })
        .unwrap_or_default();
    Err(HookError::NoSuchPlugin {
        plugin: name.to_string(),
        hook: hook.to_string(),
        detail,
    })
}
