//! The engine: the active plugin set, reloading, and calling hooks.
//!
//! [`PluginEngine`] is `Send + Sync` and cheap to clone. The active [`PluginSet`] sits
//! behind an `RwLock<Arc<_>>`: a call clones the `Arc` and runs on that set, a reload
//! builds a whole new set and swaps it in, so running calls finish on the old set and
//! no call sees a half-loaded one. Loads are serialised by one mutex: importing mutates
//! process-wide interpreter state (`sys.path`, `sys.modules`).

mod hooks;
mod install;
mod invoke;
mod load;
mod set;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

pub use hooks::{JobType, PluginObject};
pub(crate) use invoke::call_on_set;
pub use invoke::{CallMode, HookError, HookOutput, PluginRef, PyOutcome};
pub use set::{LoadedPlugin, PluginInfo, PluginSet, PluginStatus};

use crate::archive::ExtractLimits;
use crate::deps::{DepsOptions, Installer, RunningPython};
use crate::error::EngineError;
use crate::manifest::plugin_id;
use crate::python::{self, InterpreterInfo};
use crate::store::PluginsDir;

/// How the engine loads plugins.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Host component (e.g. `lifecycle`); plugins whose manifest lists other
    /// components are skipped. `None` loads every plugin.
    pub component: Option<String>,
    pub deps: DepsOptions,
    pub limits: ExtractLimits,
    /// How often calls look at `last-change.txt` for changes made by other processes;
    /// `None` never (call [`PluginEngine::reload`] yourself).
    pub watch_interval: Option<Duration>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            component: None,
            deps: DepsOptions::default(),
            limits: ExtractLimits::default(),
            watch_interval: Some(Duration::from_secs(1)),
        }
    }
}

/// Configures and opens a [`PluginEngine`].
#[derive(Debug, Clone)]
pub struct EngineBuilder {
    plugins_dir: PathBuf,
    options: EngineOptions,
}

impl EngineBuilder {
    pub fn new(plugins_dir: impl Into<PathBuf>) -> Self {
        Self {
            plugins_dir: plugins_dir.into(),
            options: EngineOptions::default(),
        }
    }

    pub fn component(mut self, component: impl Into<String>) -> Self {
        self.options.component = Some(component.into());
        self
    }

    pub fn installer(mut self, installer: Installer) -> Self {
        self.options.deps.installer = installer;
        self
    }

    /// Time limit for building one plugin's venv.
    pub fn installer_timeout(mut self, timeout: Duration) -> Self {
        self.options.deps.timeout = timeout;
        self
    }

    /// Installs requirements from this wheelhouse only (`--find-links DIR --no-index`).
    pub fn offline_wheelhouse(mut self, dir: impl Into<PathBuf>) -> Self {
        self.options.deps.find_links.push(dir.into());
        self.options.deps.no_index = true;
        self
    }

    pub fn deps_options(mut self, deps: DepsOptions) -> Self {
        self.options.deps = deps;
        self
    }

    pub fn extract_limits(mut self, limits: ExtractLimits) -> Self {
        self.options.limits = limits;
        self
    }

    pub fn watch_interval(mut self, interval: Option<Duration>) -> Self {
        self.options.watch_interval = interval;
        self
    }

    pub fn options(mut self, options: EngineOptions) -> Self {
        self.options = options;
        self
    }

    /// Opens the directory and loads every plugin in it.
    pub fn build(self) -> Result<PluginEngine, EngineError> {
        python::ensure_initialized();
        let dir =
            PluginsDir::open(&self.plugins_dir).map_err(EngineError::io(&self.plugins_dir))?;
        if let Err(e) = dir.clean_up() {
            tracing::warn!("cannot clean up the plugins directory: {e}");
        }
        let interpreter = InterpreterInfo::current().map_err(EngineError::Interpreter)?;
        tracing::info!(
            version = %interpreter.version_text,
            prefix = %interpreter.prefix,
            "embedded Python interpreter"
        );
        let running = interpreter.running_python();
        let engine = PluginEngine {
            inner: Arc::new(Inner {
                dir,
                options: self.options,
                running,
                interpreter,
                current: RwLock::new(Arc::new(PluginSet::default())),
                last_check: Mutex::new(Instant::now()),
            }),
        };
        engine.reload();
        Ok(engine)
    }
}

/// Loading mutates process-wide interpreter state (`sys.path`, `sys.modules`), so one
/// lock serialises the loads of every engine in the process, not just of one.
static LOAD_LOCK: Mutex<()> = Mutex::new(());

thread_local! {
    /// Whether this thread holds [`LOAD_LOCK`]: a plugin's `__init__` that calls back
    /// into an engine (reload, install) must get an error, not a deadlock.
    static LOADING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Held while plugins load; see [`lock_loads`].
pub(crate) struct LoadGuard {
    _guard: std::sync::MutexGuard<'static, ()>,
}

impl Drop for LoadGuard {
    fn drop(&mut self) {
        LOADING.with(|loading| loading.set(false));
    }
}

/// Takes the process-wide load lock; `None` when this thread already holds it.
pub(crate) fn lock_loads() -> Option<LoadGuard> {
    if LOADING.with(|loading| loading.get()) {
        return None;
    }
    let guard = LOAD_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    LOADING.with(|loading| loading.set(true));
    Some(LoadGuard { _guard: guard })
}

struct Inner {
    dir: PluginsDir,
    options: EngineOptions,
    running: RunningPython,
    interpreter: InterpreterInfo,
    current: RwLock<Arc<PluginSet>>,
    last_check: Mutex<Instant>,
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
        &self.inner.interpreter
    }

    /// Re-reads the plugins directory and swaps the new plugin set in.
    pub fn reload(&self) {
        let Some(_guard) = lock_loads() else {
            tracing::error!("reload() called while this thread is loading plugins (from a plugin's __init__?); ignored");
            return;
        };
        self.reload_locked();
    }

    fn reload_locked(&self) {
        let span = tracing::info_span!("reload", dir = %self.inner.dir.root().display());
        let _entered = span.enter();
        let started = Instant::now();
        let set = Arc::new(load::load_set(
            &self.inner.dir,
            &self.inner.options,
            &self.inner.running,
        ));
        let old = {
            let mut current = self
                .inner
                .current
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            std::mem::replace(&mut *current, set.clone())
        };
        // The old modules stay alive as long as calls still run on the old set; only
        // their sys.modules entries go, so the next import does not find them.
        pyo3::Python::attach(|py| old.unload(py));
        tracing::info!(
            loaded = set.loaded().len(),
            total = set.infos().len(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "plugins loaded"
        );
    }

    /// Reloads when another process changed `last-change.txt` since the current set
    /// was loaded. Returns whether it reloaded.
    pub fn reload_if_changed(&self) -> bool {
        let marker = self.inner.dir.change_marker();
        if marker == self.snapshot().change_marker {
            return false;
        }
        let Some(_guard) = lock_loads() else {
            return false;
        };
        // Another thread may have reloaded while this one waited.
        if self.inner.dir.change_marker() == self.snapshot().change_marker {
            return false;
        }
        self.reload_locked();
        true
    }

    /// The active plugin set, after the periodic change check.
    pub(crate) fn current(&self) -> Arc<PluginSet> {
        if let Some(interval) = self.inner.options.watch_interval {
            let due = match self.inner.last_check.try_lock() {
                Ok(mut last) if last.elapsed() >= interval => {
                    *last = Instant::now();
                    true
                }
                _ => false,
            };
            if due {
                self.reload_if_changed();
            }
        }
        self.snapshot()
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

    /// A loaded plugin by name (and version; without one, the highest-priority match).
    pub fn find_plugin(&self, name: &str, version: Option<&str>) -> Option<Arc<LoadedPlugin>> {
        self.current()
            .loaded()
            .iter()
            .find(|p| p.name() == name && version.is_none_or(|v| p.version() == v))
            .cloned()
    }

    /// Path of a plugin's config file (`config/<name>-<version>/config.yaml`).
    pub fn config_path(&self, name: &str, version: &str) -> PathBuf {
        self.inner.dir.config_path(&plugin_id(name, version))
    }

    /// Reads a plugin's config file.
    pub fn read_plugin_config(&self, name: &str, version: &str) -> Result<String, EngineError> {
        let path = self
            .inner
            .dir
            .config_file(name, version)
            .map_err(|e| EngineError::io(self.plugins_dir())(e.into()))?;
        std::fs::read_to_string(&path).map_err(EngineError::io(path))
    }

    /// Replaces a plugin's config file, then lets every engine sharing the directory
    /// reload (plugins read their config in `__init__`).
    pub fn write_plugin_config(
        &self,
        name: &str,
        version: &str,
        text: &str,
    ) -> Result<(), EngineError> {
        self.inner
            .dir
            .config_file(name, version)
            .map_err(|e| EngineError::io(self.plugins_dir())(e.into()))?;
        let installed = self
            .current()
            .infos()
            .iter()
            .any(|p| p.name == name && p.version == version);
        if !installed {
            return Err(EngineError::NotFound {
                name: name.to_string(),
                version: Some(version.to_string()),
            });
        }
        let path = self
            .inner
            .dir
            .ensure_config(&plugin_id(name, version))
            .map_err(EngineError::io(self.config_path(name, version)))?;
        crate::store::write_atomic(&path, text.as_bytes()).map_err(EngineError::io(&path))?;
        self.inner
            .dir
            .bump_change_marker()
            .map_err(EngineError::io(self.plugins_dir()))?;
        self.reload();
        Ok(())
    }
}
