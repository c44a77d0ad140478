//! The seam between the engine and whatever runs plugin code. The engine decides
//! which plugins load, in what order, and what a call's results mean; a [`Runtime`]
//! imports one plugin's code, calls hooks on a set of loaded plugins, and forgets
//! them again. Today's runtime is the in-process interpreter (`crate::python`); one
//! that runs each plugin in a worker process implements these same traits.
//!
//! Hook results and arguments stay opaque here ([`PyValue`], [`HookArgs`]): the
//! engine hands them through, it never looks inside.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::plugin::LoadedPlugin;
use crate::manifest::PluginManifest;
use crate::python::{HookArgs, InterpreterInfo, PluginInstance, PyFailure, PyValue};

/// What a runtime needs to load one plugin.
#[derive(Debug, Clone)]
pub struct LoadRequest {
    /// Unique per load, so two versions (or a reload) never share code objects.
    pub module_name: String,
    pub plugin_dir: PathBuf,
    pub manifest: PluginManifest,
    pub config_path: PathBuf,
    /// site-packages of the plugin's venv, if it has one.
    pub site_dirs: Vec<PathBuf>,
}

/// A plugin's code, running: its `Plugin` instance and what the load warned about.
#[derive(Debug)]
pub struct LoadedCode {
    pub instance: PluginInstance,
    pub warnings: Vec<String>,
}

/// Which plugins of a set a call reaches.
#[derive(Debug, Clone, Copy)]
pub enum CallTarget<'a> {
    /// Every plugin implementing the hook, in call order.
    All,
    /// This plugin only (compared by identity: one loaded plugin of the set).
    One(&'a LoadedPlugin),
}

/// Why one plugin's hook gave no result. One word (a box, or the niche beside it), so
/// the common outcome moves as two.
#[derive(Debug)]
pub enum CallFailure {
    /// The hook raised.
    Raised(Box<PyFailure>),
    /// The hook did not return within the call's time limit; the runtime asked it to
    /// stop and moved on.
    TimedOut,
}

/// One outcome of a hook call, handed to the caller in call order (a runtime may call
/// every plugin first and hand the outcomes over afterwards).
pub type OutcomeSink<'a> = dyn FnMut(&Arc<LoadedPlugin>, Result<PyValue, CallFailure>) + 'a;

/// Runs plugin code.
pub trait Runtime: Send + Sync + Debug {
    /// The interpreter plugins run in (venvs are built for it).
    fn interpreter(&self) -> &InterpreterInfo;

    /// Imports a plugin and instantiates its `Plugin` class.
    fn load(&self, request: &LoadRequest) -> Result<LoadedCode, PyFailure>;

    /// A dispatcher for one loaded set, in call order. It may cache per-hook lookups
    /// for as long as the set lives.
    fn dispatcher(&self, plugins: &[Arc<LoadedPlugin>]) -> Box<dyn Dispatcher>;

    /// Forgets plugins that leave (their code stays alive while calls still use it).
    fn unload(&self, plugins: &[Arc<LoadedPlugin>]);

    /// Forgets everything imported from below `root`, a staging folder about to be
    /// moved or deleted.
    fn forget_under(&self, root: &Path);
}

/// Calls hooks on one loaded set.
pub trait Dispatcher: Send + Sync + Debug {
    /// Calls `hook` on `target` in call order with `args`, converted once for every
    /// plugin, handing each outcome to `each`; with `fail_fast`, stops after the first
    /// failure. With a `timeout`, each plugin's call that takes longer is abandoned
    /// ([`CallFailure::TimedOut`]) and interrupted where the runtime can. `Err` when the
    /// arguments cannot be converted (no plugin was called).
    fn call(
        &self,
        hook: &str,
        target: CallTarget<'_>,
        args: &HookArgs,
        fail_fast: bool,
        timeout: Option<std::time::Duration>,
        each: &mut OutcomeSink<'_>,
    ) -> Result<(), PyFailure>;
}
