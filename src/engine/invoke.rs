//! Calling a hook on every plugin that implements it, in order, through the
//! runtime's dispatcher; what a call's outcomes mean (results, [`HookError`]).

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use super::plugin::{LoadedPlugin, PluginRef};
use super::runtime::{CallFailure, CallTarget};
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
    /// The hook did not return within the call's time limit. The caller has moved on;
    /// the hook was interrupted where Python allows (between bytecodes), while one
    /// blocked in C code (a socket read, `time.sleep`) runs on until that returns.
    #[error("plugin {plugin}: hook {hook} timed out after {}", humanize(*timeout))]
    Timeout {
        plugin: PluginRef,
        hook: String,
        timeout: Duration,
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
    /// A Python host is exiting: hooks no longer start (the interpreter is about to
    /// finalize).
    #[error("hook {hook} not called: the Python host is exiting")]
    HostExiting { hook: String },
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
            HookError::Raised { plugin, .. }
            | HookError::BadResult { plugin, .. }
            | HookError::Timeout { plugin, .. } => Some(plugin),
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

fn humanize(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// Fail-fast (stop at the first raising plugin, as Racetrack does) or collect-all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallMode {
    #[default]
    FailFast,
    CollectAll,
}

/// How a hook call runs: [`CallMode`] and a time limit for each plugin's call.
///
/// ```
/// # use std::time::Duration;
/// # use racetrack_plugins::{CallMode, CallOptions};
/// let options = CallOptions::default()
///     .mode(CallMode::CollectAll)
///     .timeout(Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallOptions {
    pub mode: CallMode,
    /// Longest one plugin's hook may run; on expiry that plugin's outcome is
    /// [`HookError::Timeout`] and the call moves on. `None`: no limit (the hook runs on
    /// the caller's thread; with a limit it runs on a thread of its own).
    pub timeout: Option<Duration>,
}

impl CallOptions {
    pub fn mode(self, mode: CallMode) -> Self {
        Self { mode, ..self }
    }

    pub fn timeout(self, timeout: impl Into<Option<Duration>>) -> Self {
        Self {
            timeout: timeout.into(),
            ..self
        }
    }
}

impl From<CallMode> for CallOptions {
    fn from(mode: CallMode) -> Self {
        Self {
            mode,
            timeout: None,
        }
    }
}

impl PluginEngine {
    /// Calls `hook` on every loaded plugin that implements it, in order, and returns
    /// each result with its plugin. Stops at the first plugin that raises.
    pub fn invoke(&self, hook: &str, args: &HookArgs) -> Result<Vec<HookOutput>, HookError> {
        let set = self.current();
        let mut outputs = Vec::with_capacity(set.loaded().len());
        let mut failed = None;
        self.invoke_each_on(
            &set,
            hook,
            None,
            args,
            CallOptions::default(),
            |plugin, result| match result {
                Ok(value) => outputs.push(HookOutput {
                    plugin: plugin.origin.clone(),
                    value,
                }),
                // Fail-fast: this is the last outcome.
                Err(e) => failed = Some(e),
            },
        )?;
        match failed {
            Some(e) => Err(e),
            None => Ok(outputs),
        }
    }

    /// [`invoke`](Self::invoke) or [`invoke_collect`](Self::invoke_collect) with a time
    /// limit: each plugin's outcome in call order (with [`CallMode::FailFast`], up to
    /// the first failure).
    pub fn invoke_with(
        &self,
        hook: &str,
        args: &HookArgs,
        options: CallOptions,
    ) -> Vec<Result<HookOutput, HookError>> {
        self.invoke_with_mode(hook, args, options)
    }

    /// [`invoke_one`](Self::invoke_one) with [`CallOptions`] (a time limit).
    pub fn invoke_one_with(
        &self,
        plugin: &str,
        hook: &str,
        args: &HookArgs,
        options: CallOptions,
    ) -> Result<Option<HookOutput>, HookError> {
        let mut found = None;
        self.invoke_each_on(
            &self.current(),
            hook,
            Some((plugin, None)),
            args,
            options,
            |p, r| {
                found = Some(r.map(|value| HookOutput {
                    plugin: p.origin.clone(),
                    value,
                }))
            },
        )?;
        found.transpose()
    }

    /// Like [`invoke`](Self::invoke), but calls every plugin even when some raise.
    pub fn invoke_collect(
        &self,
        hook: &str,
        args: &HookArgs,
    ) -> Vec<Result<HookOutput, HookError>> {
        self.invoke_with_mode(hook, args, CallMode::CollectAll.into())
    }

    /// Calls `hook` on one plugin only (the newest loaded version of that name). `Ok(None)`
    /// when it does not implement the hook.
    pub fn invoke_one(
        &self,
        plugin: &str,
        hook: &str,
        args: &HookArgs,
    ) -> Result<Option<HookOutput>, HookError> {
        self.invoke_one_with(plugin, hook, args, CallOptions::default())
    }

    /// The lowest-level call, for front ends that keep the plugin of each outcome (the
    /// Python module): calls `hook` on the loaded plugins (or the first loaded one
    /// named `only_plugin`, of the given version or else the newest), handing each
    /// outcome to `each` in call order (for a call with keywords, the in-process runtime
    /// calls every plugin first, from one Python function, then hands the outcomes
    /// over). Runs on the
    /// current set without the change check: call [`poll_changes`](Self::poll_changes)
    /// first. `Err` when no plugin was called (no such plugin, unconvertible arguments).
    pub fn invoke_each(
        &self,
        hook: &str,
        only_plugin: Option<(&str, Option<&str>)>,
        args: &HookArgs,
        options: impl Into<CallOptions>,
        each: impl FnMut(&Arc<LoadedPlugin>, Result<PyValue, HookError>),
    ) -> Result<(), HookError> {
        self.invoke_each_on(&self.snapshot(), hook, only_plugin, args, options, each)
    }

    fn invoke_with_mode(
        &self,
        hook: &str,
        args: &HookArgs,
        options: CallOptions,
    ) -> Vec<Result<HookOutput, HookError>> {
        let set = self.current();
        let mut outputs = Vec::with_capacity(set.loaded().len());
        let called = self.invoke_each_on(&set, hook, None, args, options, |plugin, result| {
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
        options: impl Into<CallOptions>,
        mut each: impl FnMut(&Arc<LoadedPlugin>, Result<PyValue, HookError>),
    ) -> Result<(), HookError> {
        let options = options.into();
        let target = match only_plugin {
            None => CallTarget::All,
            Some((name, version)) => CallTarget::One(find_loaded(set, name, version, hook)?),
        };
        let debug = tracing::enabled!(tracing::Level::DEBUG);
        let mut sink = |plugin: &Arc<LoadedPlugin>, result: Result<PyValue, CallFailure>| {
            let result = result.map_err(|failure| match failure {
                CallFailure::Raised(failure) => HookError::raised_boxed(plugin, hook, failure),
                CallFailure::TimedOut => HookError::Timeout {
                    plugin: PluginRef::clone(&plugin.origin),
                    hook: hook.to_string(),
                    timeout: options.timeout.unwrap_or_default(),
                },
            });
            if debug {
                if let Err(e) = &result {
                    // The caller gets the error and decides how loud to be about it.
                    tracing::debug!("{e}");
                }
            }
            each(plugin, result)
        };
        set.dispatcher
            .call(
                hook,
                target,
                args,
                options.mode == CallMode::FailFast,
                options.timeout,
                &mut sink,
            )
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
