//! Engine options and [`EngineBuilder`]: what a host configures before the engine
//! opens, and opening it (the directory, its clean-up, the runtime). Loading and
//! reloading belong to `reload.rs`; this module only builds the handle.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::poll_timer::PollTimer;
use super::{Inner, PluginEngine, PluginSet, Runtime};
use crate::archive::ExtractLimits;
use crate::deps::{DepsOptions, Installer};
use crate::error::EngineError;
use crate::python::PythonRuntime;
use crate::store::PluginsDir;

/// Environment variable naming the plugins directory when a front end is given none.
pub const PLUGINS_DIR_ENV: &str = "RACETRACK_PLUGINS_DIR";
/// The plugins directory when neither an argument nor [`PLUGINS_DIR_ENV`] names one.
pub const DEFAULT_PLUGINS_DIR: &str = "plugins";
/// How often calls look for changes made by other processes, unless told otherwise.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_secs(1);

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
    /// Folders of host-provided packages every plugin may import, added to `sys.path`
    /// (with their `.pth` files) when the engine starts.
    pub python_path: Vec<PathBuf>,
    /// How long one plugin's import (`plugin.py` and `Plugin()`) may take before the
    /// plugin is `failed` and the others load; `None` waits for ever. A stuck import
    /// keeps running on its own thread: Python cannot stop it, the engine stops waiting.
    pub load_timeout: Option<Duration>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            component: None,
            deps: DepsOptions::default(),
            limits: ExtractLimits::default(),
            watch_interval: Some(DEFAULT_WATCH_INTERVAL),
            python_path: Vec::new(),
            load_timeout: None,
        }
    }
}

/// Configures and opens a [`PluginEngine`].
#[derive(Debug, Clone)]
pub struct EngineBuilder {
    plugins_dir: PathBuf,
    options: EngineOptions,
    runtime: Option<Arc<dyn Runtime>>,
}

impl EngineBuilder {
    pub fn new(plugins_dir: impl Into<PathBuf>) -> Self {
        Self {
            plugins_dir: plugins_dir.into(),
            options: EngineOptions::default(),
            runtime: None,
        }
    }

    /// Runs plugin code with `runtime` instead of this process's interpreter.
    pub fn runtime(mut self, runtime: Arc<dyn Runtime>) -> Self {
        self.runtime = Some(runtime);
        self
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

    /// Adds folders of host-provided packages (a Rust host's own `lifecycle`,
    /// `racetrack_client`…) to `sys.path`, so every plugin can import them.
    pub fn python_path<I, P>(mut self, dirs: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.options
            .python_path
            .extend(dirs.into_iter().map(Into::into));
        self
    }

    /// Time limit for one plugin's import; see [`EngineOptions::load_timeout`].
    pub fn load_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.options.load_timeout = timeout;
        self
    }

    /// The options as configured so far.
    pub fn current_options(&self) -> &EngineOptions {
        &self.options
    }

    pub fn options(mut self, options: EngineOptions) -> Self {
        self.options = options;
        self
    }

    /// Opens the directory and loads every plugin in it.
    pub fn build(self) -> Result<PluginEngine, EngineError> {
        let engine = self.open(true)?;
        engine.reload();
        Ok(engine)
    }

    /// Opens the directory without running any plugin code: for work on the directory
    /// itself (delete, install, listing what is installed), which a plugin whose import
    /// hangs or crashes the process must not block. Its plugin set stays empty; an
    /// install imports only the uploaded plugin; nothing reloads after a change.
    pub fn build_unloaded(self) -> Result<PluginEngine, EngineError> {
        self.open(false)
    }

    fn open(self, loads: bool) -> Result<PluginEngine, EngineError> {
        let dir =
            PluginsDir::open(&self.plugins_dir).map_err(EngineError::io(&self.plugins_dir))?;
        if let Err(e) = dir.clean_up() {
            tracing::warn!("cannot clean up the plugins directory: {e}");
        }
        let runtime = match self.runtime {
            Some(runtime) => runtime,
            None => Arc::new(
                PythonRuntime::with_python_path(&self.options.python_path)
                    .map_err(EngineError::Interpreter)?,
            ),
        };
        let interpreter = runtime.interpreter();
        tracing::info!(
            version = %interpreter.version_text,
            prefix = %interpreter.prefix,
            "embedded Python interpreter"
        );
        let engine = PluginEngine {
            inner: Arc::new(Inner {
                dir,
                poll: self.options.watch_interval.map(PollTimer::new),
                options: self.options,
                current: RwLock::new(Arc::new(PluginSet::empty(&*runtime))),
                runtime,
                generation: AtomicU64::new(0),
                loads,
                reloading: AtomicBool::new(false),
            }),
        };
        Ok(engine)
    }
}
