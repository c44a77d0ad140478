//! Building a [`PluginSet`] from the plugins directory: read manifests, order, extract,
//! install requirements, import. A failure at any step marks that plugin failed and
//! the others go on.
//!
//! Discovery and order live in `load/candidates.rs`, importing one plugin in
//! `load/import.rs`, venv conflict warnings in `load/conflicts.rs`.

mod candidates;
mod conflicts;
mod import;

pub(crate) use candidates::name_version_from_file;
pub(crate) use import::{import_staged, Imported, StagedPlugin};

use candidates::{order_candidates, read_candidates, Candidate};
use conflicts::report_conflicts;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::deps::Distribution;
use crate::engine::plugin::{LoadedPlugin, PluginInfo, PluginStatus};
use crate::engine::runtime::Runtime;
use crate::engine::set::PluginSet;
use crate::engine::EngineOptions;
use crate::error::LoadError;
use crate::manifest::{plugin_id, PluginManifest};
use crate::store::PluginsDir;

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
