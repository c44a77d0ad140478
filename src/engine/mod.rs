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

mod hooks;
mod install;
mod invoke;
mod load;
mod plugin;
mod runtime;
mod set;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

pub use hooks::{JobType, PluginObject};
pub use invoke::{CallMode, CallOptions, HookError, HookOutput};
pub use plugin::{LoadedPlugin, PluginInfo, PluginRef, PluginStatus};
pub use runtime::{
    CallFailure, CallTarget, Dispatcher, LoadRequest, LoadedCode, OutcomeSink, Runtime,
};
pub use set::PluginSet;

use crate::archive::ExtractLimits;
use crate::deps::{DepsOptions, Installer};
use crate::error::EngineError;
use crate::manifest::plugin_id;
use crate::python::{InterpreterInfo, PythonRuntime};
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
                options: self.options,
                current: RwLock::new(Arc::new(PluginSet::empty(&*runtime))),
                runtime,
                last_check: Mutex::new(Instant::now()),
                generation: AtomicU64::new(0),
                loads,
                reloading: std::sync::atomic::AtomicBool::new(false),
            }),
        };
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

/// Marks this thread as loading for good: it runs an import on behalf of the thread
/// holding [`LOAD_LOCK`] (a bounded load), so a plugin calling back into an engine from
/// it gets an error instead of waiting for a lock that its own loader holds.
pub(crate) fn mark_loading_thread() {
    LOADING.with(|loading| loading.set(true));
}

struct Inner {
    dir: PluginsDir,
    options: EngineOptions,
    runtime: Arc<dyn Runtime>,
    current: RwLock<Arc<PluginSet>>,
    last_check: Mutex<Instant>,
    /// Bumped after every swap of `current`; see [`PluginEngine::generation`].
    generation: AtomicU64,
    /// Whether this engine runs plugin code (`false`: [`EngineBuilder::build_unloaded`]).
    loads: bool,
    /// Whether a background reload is running (at most one at a time).
    reloading: std::sync::atomic::AtomicBool,
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

    /// Re-reads the plugins directory and swaps the new plugin set in.
    pub fn reload(&self) {
        let Some(_guard) = lock_loads() else {
            tracing::error!("reload() called while this thread is loading plugins (from a plugin's __init__?); ignored");
            return;
        };
        self.reload_locked();
    }

    fn reload_locked(&self) {
        if !self.inner.loads {
            return;
        }
        let span = tracing::info_span!("reload", dir = %self.inner.dir.root().display());
        let _entered = span.enter();
        let started = Instant::now();
        let set = Arc::new(load::load_set(
            &self.inner.dir,
            &self.inner.options,
            &self.inner.runtime,
        ));
        self.swap_in(set.clone());
        tracing::info!(
            loaded = set.loaded().len(),
            total = set.infos().len(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "plugins loaded"
        );
    }

    /// Makes `set` the active one; calls still running on the old set finish there.
    fn swap_in(&self, set: Arc<PluginSet>) {
        let old = {
            let mut current = self
                .inner
                .current
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            std::mem::replace(&mut *current, set)
        };
        self.inner.generation.fetch_add(1, Ordering::Release);
        // The old plugins stay alive as long as calls still run on the old set; the
        // runtime only forgets them, so the next load does not find them.
        self.inner.runtime.unload(old.loaded());
    }

    /// Reloads when another process changed `last-change.txt` since the current set
    /// was loaded. Returns whether it reloaded.
    pub fn reload_if_changed(&self) -> bool {
        if !self.inner.loads {
            return false;
        }
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
        self.poll_changes();
        self.snapshot()
    }

    /// Looks for changes made by other processes, at most once per `watch_interval`,
    /// and reloads in the background when there are some: the caller goes on with the
    /// current set at once, and calls switch to the new set when it is complete (a
    /// reload may wait for another process's install, a venv build, slow imports).
    /// Every call does this itself, except [`invoke_each`](Self::invoke_each), whose
    /// caller calls this beforehand.
    pub fn poll_changes(&self) {
        let Some(interval) = self.inner.options.watch_interval else {
            return;
        };
        let due = match self.inner.last_check.try_lock() {
            Ok(mut last) if last.elapsed() >= interval => {
                *last = Instant::now();
                true
            }
            _ => false,
        };
        if due
            && self.inner.loads
            && self.inner.dir.change_marker() != self.snapshot().change_marker
        {
            self.reload_in_background();
        }
    }

    /// Starts a reload thread unless one runs already (it looks at the marker again
    /// once it has the load lock, so a change made meanwhile is not missed by it, and
    /// one made after it read the directory is found by the next poll).
    fn reload_in_background(&self) {
        if self.inner.reloading.swap(true, Ordering::AcqRel) {
            return;
        }
        /// Clears the flag however the reload ends.
        struct Done(PluginEngine);
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.inner.reloading.store(false, Ordering::Release);
            }
        }
        let done = Done(self.clone());
        let spawned = std::thread::Builder::new()
            .name("plugins reload".into())
            .spawn(move || {
                done.0.reload_if_changed();
            });
        if let Err(e) = spawned {
            // `done` was dropped with the closure, clearing the flag: the next poll
            // tries again.
            tracing::error!("cannot start the reload thread: {e}");
        }
    }

    /// Whether a reload started by [`poll_changes`](Self::poll_changes) is running.
    pub fn reloading(&self) -> bool {
        self.inner.reloading.load(Ordering::Acquire)
    }

    /// Whether [`poll_changes`](Self::poll_changes) would look at the directory now.
    /// Lets a front end holding the interpreter release it only when a check (and
    /// maybe a reload) is due, not on every call.
    pub fn changes_due(&self) -> bool {
        self.inner.options.watch_interval.is_some_and(|interval| {
            self.inner
                .last_check
                .try_lock()
                .is_ok_and(|last| last.elapsed() >= interval)
        })
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

    /// Path of a plugin's config file (`config/<name>-<version>/config.yaml`).
    pub fn config_path(&self, name: &str, version: &str) -> PathBuf {
        self.inner.dir.config_path(&plugin_id(name, version))
    }

    /// Reads a plugin's config file (empty when it has none yet).
    pub fn read_plugin_config(&self, name: &str, version: &str) -> Result<String, EngineError> {
        let path = self.config_file(name, version)?;
        self.require_installed(name, version)?;
        match fs_err::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            read => read.map_err(EngineError::File),
        }
    }

    /// A plugin's config path, refusing a name or version that could lead outside
    /// the plugins directory.
    fn config_file(&self, name: &str, version: &str) -> Result<PathBuf, EngineError> {
        Ok(self.inner.dir.config_file(name, version)?)
    }

    fn require_installed(&self, name: &str, version: &str) -> Result<(), EngineError> {
        let installed = self
            .current()
            .infos()
            .iter()
            .any(|p| p.name == name && p.version == version);
        if installed {
            Ok(())
        } else {
            Err(EngineError::NotFound {
                name: name.to_string(),
                version: Some(version.to_string()),
            })
        }
    }

    /// Replaces a plugin's config file, then lets every engine sharing the directory
    /// reload (plugins read their config in `__init__`).
    pub fn write_plugin_config(
        &self,
        name: &str,
        version: &str,
        text: &str,
    ) -> Result<(), EngineError> {
        self.config_file(name, version)?;
        self.require_installed(name, version)?;
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

/// A loaded plugin of `set` by name and version; without a version, the newest.
pub fn find_in<'a>(
    set: &'a PluginSet,
    name: &str,
    version: Option<&str>,
) -> Option<&'a Arc<LoadedPlugin>> {
    let mut matching = set.loaded().iter().filter(|p| p.name() == name);
    match version {
        Some(v) => matching.find(|p| p.version() == v),
        // max_by keeps the last of equals: the one later in call order, like Racetrack.
        None => matching.max_by(|a, b| compare_versions(a.version(), b.version())),
    }
}

/// Racetrack's `SemanticVersion` order: `MAJOR.MINOR.PATCH` numerically, then a
/// version without a label above any with one, labels as text. Versions that are not
/// `X.Y.Z[label]` (Racetrack refuses them) rank below all others, as text.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    fn parse(v: &str) -> Option<([u64; 3], &str)> {
        let mut numbers = [0u64; 3];
        let mut rest = v;
        for (i, n) in numbers.iter_mut().enumerate() {
            if i > 0 {
                rest = rest.strip_prefix('.')?;
            }
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            *n = rest.get(..digits)?.parse().ok()?;
            rest = &rest[digits..];
        }
        Some((numbers, rest))
    }
    match (parse(a), parse(b)) {
        (Some((na, la)), Some((nb, lb))) => {
            na.cmp(&nb)
                .then_with(|| match (la.is_empty(), lb.is_empty()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    (false, false) => la.cmp(lb),
                })
        }
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::compare_versions;
    use std::cmp::Ordering::*;

    #[test]
    fn racetrack_version_order() {
        assert_eq!(compare_versions("1.10.0", "1.9.0"), Greater);
        assert_eq!(compare_versions("2.0.0", "2.0.0-dev"), Greater);
        assert_eq!(compare_versions("2.0.0-alpha", "2.0.0-beta"), Less);
        assert_eq!(compare_versions("1.0.0", "1.0.0"), Equal);
        assert_eq!(compare_versions("0.0.1", "latest"), Greater);
    }
}
