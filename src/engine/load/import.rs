//! Importing one plugin whose code is in place (installed or staged): its venv,
//! the runtime's load, bounded by the load timeout, under a module name of its own.
//! Finding, extracting and ordering plugins is the caller's job.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use crate::deps::{self, RunningPython};
use crate::engine::plugin::{LoadedPlugin, PluginRef};
use crate::engine::runtime::{LoadRequest, LoadedCode, Runtime};
use crate::engine::EngineOptions;
use crate::error::LoadError;
use crate::manifest::PluginManifest;
use crate::python::PyFailure;

static LOAD_COUNTER: AtomicU64 = AtomicU64::new(0);

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
            crate::engine::mark_loading_thread();
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
    // The loader makes the plugin's folder the working directory and puts it first on
    // `sys.path` while it imports; a stuck import would leave both so for every later
    // load and for the host. Read before the thread starts: once started, it may have
    // changed directory already.
    let cwd = std::env::current_dir();
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
