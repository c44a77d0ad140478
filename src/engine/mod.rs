//! The engine: the active plugin set, reloading, and calling hooks. It knows plugins,
//! not Python: plugin code runs behind the [`Runtime`] interface (`runtime.rs`), and
//! nothing here may name the interpreter's types.
//!
//! [`PluginEngine`] is `Send + Sync` and cheap to clone. The active [`PluginSet`] sits
//! behind an `RwLock<Arc<_>>`: a call clones the `Arc` and runs on that set, a reload
//! builds a whole new set and swaps it in, so running calls finish on the old set and
//! no call sees a half-loaded one. Loads are serialised by one mutex: importing mutates
//! process-wide interpreter state (`sys.path`, `sys.modules`). Changes made by other
//! processes are reloaded on a background thread, so calls never wait for that work.

mod builder;
mod config;
mod delete;
mod hooks;
mod install;
mod invoke;
mod load;
mod load_lock;
mod plugin;
mod poll_timer;
mod reload;
mod rollback;
mod runtime;
mod set;
mod venv;
mod versions;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

pub use builder::{
    EngineBuilder, EngineOptions, DEFAULT_PLUGINS_DIR, DEFAULT_WATCH_INTERVAL, PLUGINS_DIR_ENV,
};
pub use hooks::{JobType, PluginObject};
pub use invoke::{CallMode, CallOptions, HookError, HookOutput};
pub(crate) use load_lock::{lock_loads, mark_loading_thread};
pub use plugin::{LoadedPlugin, PluginInfo, PluginRef, PluginStatus};
pub use runtime::{
    CallFailure, CallTarget, Dispatcher, LoadRequest, LoadedCode, OutcomeSink, Runtime,
};
pub use set::PluginSet;
pub use versions::{compare_versions, find_in};

use crate::error::EngineError;
use crate::python::InterpreterInfo;
use crate::store::PluginsDir;
use poll_timer::PollTimer;

struct Inner {
    dir: PluginsDir,
    options: EngineOptions,
    runtime: Arc<dyn Runtime>,
    current: RwLock<Arc<PluginSet>>,
    /// When the next look at `last-change.txt` is due (`None`: never).
    poll: Option<PollTimer>,
    /// Bumped after every swap of `current`; see [`PluginEngine::generation`].
    generation: AtomicU64,
    /// Whether this engine runs plugin code (`false`: [`EngineBuilder::build_unloaded`]).
    loads: bool,
    /// Whether a background reload is running (at most one at a time).
    reloading: AtomicBool,
}

/// Racetrack's plugin engine. See the module docs for its concurrency model.
#[derive(Clone)]
pub struct PluginEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine")
            .field("plugins_dir", &self.inner.dir.root())
            .finish_non_exhaustive()
    }
}

impl PluginEngine {
    /// Opens `plugins_dir` with default options.
    pub fn open(plugins_dir: impl Into<PathBuf>) -> Result<Self, EngineError> {
        EngineBuilder::new(plugins_dir).build()
    }

    pub fn builder(plugins_dir: impl Into<PathBuf>) -> EngineBuilder {
        EngineBuilder::new(plugins_dir)
    }

    pub fn plugins_dir(&self) -> &Path {
        self.inner.dir.root()
    }

    pub fn options(&self) -> &EngineOptions {
        &self.inner.options
    }

    /// The interpreter actually running the plugins.
    pub fn interpreter(&self) -> &InterpreterInfo {
        self.inner.runtime.interpreter()
    }

    /// The active plugin set, without checking for changes.
    pub fn snapshot(&self) -> Arc<PluginSet> {
        self.inner
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Every installed plugin, in call order, with its status.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.current().infos().to_vec()
    }

    /// Loaded plugins, in call order.
    pub fn loaded_plugins(&self) -> Vec<Arc<LoadedPlugin>> {
        self.current().loaded().to_vec()
    }

    /// How many plugin sets have been swapped in so far: hosts compare it to learn
    /// that a reload happened (Racetrack's `on_reload`), whoever triggered it.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// A loaded plugin by name and version; without a version, the newest one in
    /// Racetrack's semantic-version order.
    pub fn find_plugin(&self, name: &str, version: Option<&str>) -> Option<Arc<LoadedPlugin>> {
        find_in(&self.current(), name, version).cloned()
    }
}
