//! The in-process runtime: plugins run in this process's interpreter (embedded, or a
//! Python host's own). Implements the engine's [`Runtime`] and [`Dispatcher`].

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use super::deadline::{call_with_timeout, Timed};
use super::hook::SharedKwargs;
use super::hook_tables::HookTables;
use super::loader::{self, unload_plugin};
use super::release::while_attached;
use super::{support_module, InterpreterInfo, PluginInstance, PyFailure, PyValue};
use crate::engine::{
    CallFailure, CallTarget, Dispatcher, LoadRequest, LoadedCode, LoadedPlugin, OutcomeSink,
    Runtime,
};
use crate::python::HookArgs;

/// Plugins in this process's interpreter.
#[derive(Debug)]
pub struct PythonRuntime {
    interpreter: InterpreterInfo,
}

impl PythonRuntime {
    /// Starts the interpreter if the process has none yet.
    pub fn new() -> Result<Self, PyFailure> {
        super::ensure_initialized();
        Ok(Self {
            interpreter: InterpreterInfo::current()?,
        })
    }

    /// Like [`PythonRuntime::new`], with host-provided package folders added to
    /// `sys.path` (as site dirs, so their `.pth` files apply).
    pub fn with_python_path(dirs: &[std::path::PathBuf]) -> Result<Self, PyFailure> {
        let runtime = Self::new()?;
        super::add_python_path(dirs)?;
        Ok(runtime)
    }
}

impl Runtime for PythonRuntime {
    fn interpreter(&self) -> &InterpreterInfo {
        &self.interpreter
    }

    fn load(&self, request: &LoadRequest) -> Result<LoadedCode, PyFailure> {
        let (instance, warnings) = while_attached(|py| loader::load_plugin(py, request))?;
        Ok(LoadedCode {
            instance: PluginInstance::new(instance),
            warnings,
        })
    }

    fn dispatcher(&self, plugins: &[Arc<LoadedPlugin>]) -> Box<dyn Dispatcher> {
        Box::new(PythonDispatcher {
            tables: HookTables::new(plugins),
        })
    }

    fn unload(&self, plugins: &[Arc<LoadedPlugin>]) {
        if plugins.is_empty() {
            return;
        }
        while_attached(|py| {
            for plugin in plugins {
                unload_plugin(py, plugin);
            }
        });
    }

    fn forget_under(&self, root: &Path) {
        while_attached(|py| {
            let forgotten = support_module(py, "_loading")
                .and_then(|m| m.call_method1("forget_under", (root,)));
            if let Err(e) = forgotten {
                tracing::warn!(
                    root = %root.display(),
                    "cannot forget modules imported from the staging area: {}",
                    PyFailure::from_err(py, &e).summary()
                );
            }
        });
    }
}

/// Calls hooks on one loaded set, with the bound methods of each hook looked up (and
/// their signatures read) once per set, not per call.
#[derive(Debug)]
struct PythonDispatcher {
    tables: HookTables,
}

impl Dispatcher for PythonDispatcher {
    fn call(
        &self,
        hook: &str,
        target: CallTarget<'_>,
        args: &HookArgs,
        fail_fast: bool,
        timeout: Option<Duration>,
        each: &mut OutcomeSink<'_>,
    ) -> Result<(), PyFailure> {
        while_attached(|py| {
            let call = args.to_call(py)?;
            let table = self.tables.get(py, hook);
            // Spans only when someone listens: building one costs more than a small
            // hook's whole call when tracing also feeds `log` (axum turns that on).
            let debug = tracing::enabled!(tracing::Level::DEBUG);
            // A call with keywords enters the interpreter once for the whole set:
            // pruning them per plugin from here costs more than the generated
            // function's own calls (measured: the one-by-one path is the faster one
            // without keywords). Unless the call needs what only the one-by-one path
            // has: a thread per call for its time limit, a span per plugin, or a
            // single target.
            if !call.names.is_empty()
                && timeout.is_none()
                && !debug
                && matches!(target, CallTarget::All)
            {
                if let Some(done) =
                    table
                        .batches
                        .call(py, hook, &table.bound, &call, fail_fast, each)
                {
                    return done;
                }
            }
            let kwargs = call.kwargs(py).map_err(|e| PyFailure::from_err(py, &e))?;
            let args = call.args;
            let mut shared_kwargs = SharedKwargs::new(kwargs.as_ref());
            for bound in table.bound.iter() {
                let plugin = &bound.plugin;
                if let CallTarget::One(only) = target {
                    if !std::ptr::eq(Arc::as_ptr(plugin), only) {
                        continue;
                    }
                }
                let _entered = debug.then(|| {
                    tracing::debug_span!(
                        "hook",
                        hook,
                        plugin = plugin.name(),
                        version = plugin.version()
                    )
                    .entered()
                });
                let started = debug.then(Instant::now);
                let outcome = match timeout {
                    None => bound
                        .method
                        .call_shared(py, &args, &mut shared_kwargs, plugin.name(), hook)
                        .map(|value| PyValue::new(value.unbind()))
                        .map_err(|err| {
                            CallFailure::Raised(Box::new(PyFailure::from_err(py, &err)))
                        }),
                    Some(limit) => match call_with_timeout(
                        py,
                        bound.method.clone(),
                        &args,
                        kwargs.as_ref(),
                        plugin.name(),
                        hook,
                        limit,
                    ) {
                        Timed::Done(result) => {
                            result.map(PyValue::new).map_err(CallFailure::Raised)
                        }
                        Timed::TimedOut => Err(CallFailure::TimedOut),
                    },
                };
                if let Some(started) = started {
                    tracing::debug!(
                        elapsed_us = started.elapsed().as_secs_f64() * 1e6,
                        ok = outcome.is_ok(),
                        "hook called"
                    );
                }
                let failed = outcome.is_err();
                each(plugin, outcome);
                if failed && fail_fast {
                    break;
                }
            }
            Ok(())
        })
    }
}
