//! Building a [`PluginSet`] from the plugins directory: read manifests, order, extract,
//! install requirements, import. A failure at any step marks that plugin failed and
//! the others go on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::plugin::{LoadedPlugin, PluginInfo, PluginRef, PluginStatus};
use super::runtime::{LoadRequest, LoadedCode, Runtime};
use super::set::PluginSet;
use super::EngineOptions;
use crate::archive;
use crate::deps::{self, Distribution, RunningPython};
use crate::error::LoadError;
use crate::manifest::{plugin_id, PluginManifest};
use crate::python::PyFailure;
use crate::store::PluginsDir;

static LOAD_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A plugin zip with its manifest read (or the reason it could not be).
struct Candidate {
    zip_path: PathBuf,
    manifest: Result<PluginManifest, LoadError>,
}

/// Loads every plugin of the directory. Never fails as a whole: per-plugin problems
/// become `failed` entries.
pub(crate) fn load_set(
    dir: &PluginsDir,
    opts: &EngineOptions,
    runtime: &Arc<dyn Runtime>,
) -> PluginSet {
    let change_marker = dir.change_marker();
    let candidates = read_candidates(dir);
    let ordered = order_candidates(dir, candidates);

    let mut infos = Vec::with_capacity(ordered.len());
    let mut loaded = Vec::new();
    let mut venv_dists: Vec<(String, Vec<Distribution>)> = Vec::new();
    for candidate in ordered {
        let (info, plugin, dists) = load_one(dir, opts, runtime, candidate);
        if plugin.is_none() && !info.zip_path.exists() {
            // Deleted by another process while this one loaded it: gone, not failed.
            continue;
        }
        if let Some(dists) = dists {
            venv_dists.push((plugin_id(&info.name, &info.version), dists));
        }
        if let Some(plugin) = plugin {
            loaded.push(plugin);
        }
        infos.push(info);
    }
    report_conflicts(&mut infos, &venv_dists);
    PluginSet::new(&**runtime, infos, loaded, change_marker)
}

fn read_candidates(dir: &PluginsDir) -> Vec<Candidate> {
    let zips = match dir.zip_files() {
        Ok(zips) => zips,
        Err(e) => {
            tracing::error!(dir = %dir.root().display(), "cannot list the plugins directory: {e}");
            return Vec::new();
        }
    };
    let read: Vec<(PathBuf, Result<PluginManifest, LoadError>)> = zips
        .into_iter()
        .map(|zip_path| {
            let manifest = archive::read_manifest(&zip_path).map_err(LoadError::reading_manifest);
            (zip_path, manifest)
        })
        .collect();
    // Two zips holding one name and version: `<name>-<version>.zip` wins (it is the
    // one uploads write), else the first by file name.
    let mut winner: HashMap<String, (PathBuf, PluginManifest)> = HashMap::new();
    for (zip_path, manifest) in &read {
        if let Ok(m) = manifest {
            let canonical = zip_path
                .file_name()
                .is_some_and(|f| *f == *m.zip_file_name());
            let entry = winner
                .entry(m.id())
                .or_insert_with(|| (zip_path.clone(), m.clone()));
            if canonical {
                *entry = (zip_path.clone(), m.clone());
            }
        }
    }
    read.into_iter()
        .map(|(zip_path, manifest)| {
            let manifest = manifest.and_then(|m| match winner.get(&m.id()) {
                // `a` `b-c` and `a-b` `c` would share files and config: one id each.
                Some((first, other))
                    if *first != zip_path
                        && (other.name != m.name || other.version != m.version) =>
                {
                    Err(LoadError::IdClash {
                        zip: zip_path.clone(),
                        name: m.name,
                        version: m.version,
                        other: format!("{} {}", other.name, other.version),
                        first: first.clone(),
                    })
                }
                Some((first, _)) if *first != zip_path => Err(LoadError::Duplicate {
                    zip: zip_path.clone(),
                    name: m.name,
                    version: m.version,
                    first: first.clone(),
                }),
                _ => Ok(m),
            });
            Candidate { zip_path, manifest }
        })
        .collect()
}

/// Call order: priority ascending, then install order (persisted), then name.
fn order_candidates(dir: &PluginsDir, candidates: Vec<Candidate>) -> Vec<Candidate> {
    let new_ids: Vec<String> = candidates
        .iter()
        .filter_map(|c| c.manifest.as_ref().ok().map(PluginManifest::id))
        .collect();
    if let Err(e) = dir.record_installed(&new_ids) {
        tracing::warn!("cannot record the install order: {e}");
    }
    let order: HashMap<String, usize> = dir
        .install_order()
        .unwrap_or_else(|e| {
            tracing::error!("cannot read the install order, ties of priority go by name: {e}");
            Vec::new()
        })
        .into_iter()
        .enumerate()
        .map(|(i, id)| (id, i))
        .collect();
    let mut keyed: Vec<((i64, usize, String), Candidate)> = candidates
        .into_iter()
        .map(|c| {
            let key = match &c.manifest {
                Ok(m) => (
                    m.priority,
                    order.get(&m.id()).copied().unwrap_or(usize::MAX),
                    m.name.clone(),
                ),
                Err(_) => (i64::MAX, usize::MAX, c.zip_path.display().to_string()),
            };
            (key, c)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, c)| c).collect()
}

/// Name and version of a zip whose manifest cannot be read, from its file name
/// (`<name>-<version>.zip`; a name without `-` is all name).
pub(crate) fn name_version_from_file(zip_path: &Path) -> (String, String) {
    let stem = zip_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match stem.rsplit_once('-') {
        Some((n, v)) => (n.to_string(), v.to_string()),
        None => (stem, String::new()),
    }
}

fn failed_info(zip_path: &Path, error: LoadError) -> PluginInfo {
    let (name, version) = name_version_from_file(zip_path);
    PluginInfo {
        name,
        version,
        priority: 0,
        url: None,
        category: None,
        components: Vec::new(),
        status: PluginStatus::Failed,
        error: Some(error),
        zip_path: zip_path.to_path_buf(),
        plugin_dir: None,
        config_path: None,
        venv: None,
        warnings: Vec::new(),
        manifest: None,
    }
}

fn info_for(manifest: &PluginManifest, zip_path: &Path) -> PluginInfo {
    PluginInfo {
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        priority: manifest.priority,
        url: manifest.url.clone(),
        category: manifest.category.clone(),
        components: manifest.components.clone(),
        status: PluginStatus::Loaded,
        error: None,
        zip_path: zip_path.to_path_buf(),
        plugin_dir: None,
        config_path: None,
        venv: None,
        warnings: Vec::new(),
        manifest: Some(manifest.clone()),
    }
}

type LoadOutcome = (
    PluginInfo,
    Option<Arc<LoadedPlugin>>,
    Option<Vec<Distribution>>,
);

fn load_one(
    dir: &PluginsDir,
    opts: &EngineOptions,
    runtime: &Arc<dyn Runtime>,
    candidate: Candidate,
) -> LoadOutcome {
    let manifest = match candidate.manifest {
        Ok(m) => m,
        Err(error) => {
            tracing::error!(zip = %candidate.zip_path.display(), "plugin failed: {}", error.report());
            return (failed_info(&candidate.zip_path, error), None, None);
        }
    };
    let span =
        tracing::info_span!("load_plugin", plugin = %manifest.name, version = %manifest.version);
    let _entered = span.enter();
    let started = Instant::now();
    let mut info = info_for(&manifest, &candidate.zip_path);

    if let Some(component) = &opts.component {
        if !manifest.runs_in(component) {
            info.status = PluginStatus::Skipped;
            tracing::info!(
                component,
                "skipped: the plugin is not meant for this component"
            );
            return (info, None, None);
        }
    }

    let staged = StagedPlugin {
        id: manifest.id(),
        plugin_dir: dir.extracted_dir(&manifest.id()),
        venvs_root: dir.venvs_root(),
        shown_as: dir.extracted_dir(&manifest.id()),
    };
    let result = prepare_and_import(dir, opts, runtime, &manifest, &candidate.zip_path, &staged);
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok((plugin, venv, warnings)) => {
            info.warnings.extend(warnings);
            info.plugin_dir = Some(plugin.plugin_dir.clone());
            info.config_path = Some(plugin.config_path.clone());
            let dists = venv.as_ref().map(|v| v.distributions.clone());
            info.venv = venv.map(|v| v.dir);
            tracing::info!(elapsed_ms, "plugin loaded");
            (info, Some(Arc::new(plugin)), dists)
        }
        Err(error) => {
            tracing::error!(elapsed_ms, "plugin failed: {}", error.report());
            info.status = PluginStatus::Failed;
            info.error = Some(error);
            (info, None, None)
        }
    }
}

/// Where a plugin's code and venv live for one load: the installed locations, or a
/// staging area when an upload is tried before it is committed.
pub(crate) struct StagedPlugin {
    pub id: String,
    pub plugin_dir: PathBuf,
    pub venvs_root: PathBuf,
    /// The plugin's folder as errors name it: where it lives, or for an upload the
    /// uploaded file (its staging folder is gone by the time anyone reads the error).
    pub shown_as: PathBuf,
}

/// Extracts (when the zip changed), prepares config and venv, and imports the plugin.
fn prepare_and_import(
    dir: &PluginsDir,
    opts: &EngineOptions,
    runtime: &Arc<dyn Runtime>,
    manifest: &PluginManifest,
    zip_path: &Path,
    staged: &StagedPlugin,
) -> Result<Imported, LoadError> {
    let extracted = dir
        .ensure_extracted(&staged.id, zip_path, &opts.limits)
        .map_err(|e| LoadError::Archive(Arc::new(e)))?;
    if extracted {
        tracing::debug!(dir = %staged.plugin_dir.display(), "extracted");
    }
    let config_path = dir
        .ensure_config(&staged.id)
        .map_err(|e| LoadError::Config {
            path: dir.config_path(&staged.id),
            source: Arc::new(e),
        })?;
    import_staged(opts, runtime, manifest, zip_path, staged, config_path)
}

/// A plugin imported, with its venv and load-time warnings.
pub(crate) type Imported = (LoadedPlugin, Option<deps::Venv>, Vec<String>);

/// Installs requirements (if any) and imports the plugin from `staged.plugin_dir`.
pub(crate) fn import_staged(
    opts: &EngineOptions,
    runtime: &Arc<dyn Runtime>,
    manifest: &PluginManifest,
    zip_path: &Path,
    staged: &StagedPlugin,
    config_path: PathBuf,
) -> Result<Imported, LoadError> {
    let requirements = staged.plugin_dir.join("requirements.txt");
    let venv = if requirements.is_file() {
        let running: RunningPython = runtime.interpreter().running_python();
        let venv = deps::ensure_venv(
            &staged.venvs_root,
            &staged.id,
            &staged.plugin_dir,
            &requirements,
            &running,
            &opts.deps,
        )
        .map_err(LoadError::deps)?;
        Some(venv)
    } else {
        None
    };
    let request = LoadRequest {
        module_name: unique_module_name(manifest),
        plugin_dir: staged.plugin_dir.clone(),
        manifest: manifest.clone(),
        config_path: config_path.clone(),
        site_dirs: venv
            .as_ref()
            .map(|v| v.site_packages.clone())
            .unwrap_or_default(),
    };
    let plugin_py = staged.shown_as.join("plugin.py");
    let code = match load_bounded(runtime, &request, zip_path, opts.load_timeout) {
        Some(Ok(code)) => code,
        Some(Err(failure)) => {
            return Err(LoadError::Import {
                plugin_py,
                failure: Box::new(failure),
            })
        }
        None => {
            return Err(LoadError::ImportTimedOut {
                plugin_py,
                timeout: opts.load_timeout.unwrap_or_default(),
            })
        }
    };
    let warnings = code.warnings;
    for warning in &warnings {
        tracing::warn!(plugin = %manifest.name, version = %manifest.version, "{warning}");
    }
    Ok((
        LoadedPlugin {
            manifest: manifest.clone(),
            plugin_dir: request.plugin_dir,
            config_path,
            zip_path: zip_path.to_path_buf(),
            module_name: request.module_name,
            instance: code.instance,
            origin: Arc::new(PluginRef {
                name: manifest.name.clone(),
                version: manifest.version.clone(),
            }),
        },
        venv,
        warnings,
    ))
}

/// Runs the runtime's load, waiting at most `timeout` for it; `None` when it did not
/// finish in time. Python cannot stop a thread, so a stuck import is left running on
/// its own thread: the engine only stops waiting. Should it finish later, its plugin
/// is unloaded at once (it is in no set, so nothing calls it).
fn load_bounded(
    runtime: &Arc<dyn Runtime>,
    request: &LoadRequest,
    zip_path: &Path,
    timeout: Option<Duration>,
) -> Option<Result<LoadedCode, PyFailure>> {
    let Some(timeout) = timeout else {
        return Some(runtime.load(request));
    };
    let (sender, receiver) = mpsc::sync_channel(1);
    let job = {
        let runtime = runtime.clone();
        let request = request.clone();
        let zip_path = zip_path.to_path_buf();
        let span = tracing::Span::current();
        move || {
            let _entered = span.enter();
            // The plugin's `__init__` runs here, on behalf of the thread holding the
            // load lock: calling back into an engine must be refused, as on that thread.
            super::mark_loading_thread();
            let result = runtime.load(&request);
            if let Err(mpsc::SendError(Ok(code))) = sender.send(result) {
                tracing::warn!(
                    "the import finished after the engine stopped waiting for it; unloading it"
                );
                let late = LoadedPlugin {
                    origin: Arc::new(PluginRef {
                        name: request.manifest.name.clone(),
                        version: request.manifest.version.clone(),
                    }),
                    manifest: request.manifest,
                    plugin_dir: request.plugin_dir,
                    config_path: request.config_path,
                    zip_path,
                    module_name: request.module_name,
                    instance: code.instance,
                };
                runtime.unload(&[Arc::new(late)]);
            }
        }
    };
    let thread = std::thread::Builder::new()
        .name(format!("load {}", request.manifest.name))
        .spawn(job);
    let thread = match thread {
        Ok(thread) => thread,
        Err(e) => {
            tracing::warn!(
                "cannot start a thread to bound the import ({e}); importing without a time limit"
            );
            return Some(runtime.load(request));
        }
    };
    // The loader makes the plugin's folder the working directory and puts it first on
    // `sys.path` while it imports; a stuck import would leave both so for every later
    // load and for the host.
    let cwd = std::env::current_dir();
    match receiver.recv_timeout(timeout) {
        Ok(result) => Some(result),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            if let Ok(cwd) = cwd {
                if let Err(e) = std::env::set_current_dir(&cwd) {
                    tracing::warn!(cwd = %cwd.display(), "cannot restore the working directory after a stuck import: {e}");
                }
            }
            runtime.forget_under(&request.plugin_dir);
            None
        }
        // The thread ended without answering: the runtime panicked. Hand the panic on,
        // as an unbounded load would have.
        Err(mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            // Cannot happen: the thread sends before it ends without a panic.
            Ok(()) => None,
        },
    }
}

fn unique_module_name(manifest: &PluginManifest) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    };
    format!(
        "racetrack_plugin_{}_{}_{}",
        clean(&manifest.name),
        clean(&manifest.version),
        LOAD_COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// All plugins share one interpreter, so two venvs holding one package at different
/// versions means one plugin runs with the other's version. Say so, on both plugins.
fn report_conflicts(infos: &mut [PluginInfo], venvs: &[(String, Vec<Distribution>)]) {
    for conflict in deps::find_conflicts(venvs) {
        let text = format!(
            "package {} is {} in plugin {} but {} in plugin {}; all plugins share one interpreter, so only one version is imported",
            conflict.package, conflict.first.1, conflict.first.0, conflict.second.1, conflict.second.0
        );
        tracing::warn!("{text}");
        for info in infos.iter_mut() {
            let id = plugin_id(&info.name, &info.version);
            if id == conflict.first.0 || id == conflict.second.0 {
                info.warnings.push(text.clone());
            }
        }
    }
}
