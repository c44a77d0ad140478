//! A loaded plugin set: every installed plugin with its status, in call order, plus
//! the per-hook table of bound methods. Immutable once built, so it can be swapped
//! atomically and shared by concurrent calls.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use pyo3::prelude::*;
use pyo3::types::PyString;
use serde::Serialize;

use super::invoke::PluginRef;
use crate::manifest::PluginManifest;
use crate::python::{self, HookMethod, PyFailure};

/// Whether a plugin is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginStatus {
    Loaded,
    Failed,
    /// Not meant for this host component (manifest `components`).
    Skipped,
}

impl std::fmt::Display for PluginStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PluginStatus::Loaded => "loaded",
            PluginStatus::Failed => "failed",
            PluginStatus::Skipped => "skipped",
        })
    }
}

/// What an operator sees of one installed plugin.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub priority: i64,
    pub url: Option<String>,
    pub category: Option<String>,
    pub components: Vec<String>,
    pub status: PluginStatus,
    pub error: Option<String>,
    pub zip_path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_path: Option<PathBuf>,
    pub venv: Option<PathBuf>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub manifest: Option<PluginManifest>,
}

/// A plugin whose `Plugin` instance is alive.
#[derive(Debug)]
pub struct LoadedPlugin {
    pub manifest: PluginManifest,
    pub plugin_dir: PathBuf,
    pub config_path: PathBuf,
    pub zip_path: PathBuf,
    pub module_name: String,
    pub instance: Py<PyAny>,
    /// Shared by every result of this plugin, so a call allocates no names.
    pub(crate) origin: Arc<PluginRef>,
}

impl LoadedPlugin {
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    pub fn version(&self) -> &str {
        &self.manifest.version
    }

    /// Name and version, as results carry them.
    pub fn origin(&self) -> &Arc<PluginRef> {
        &self.origin
    }
}

/// One plugin's implementation of one hook.
#[derive(Debug)]
pub(crate) struct BoundHook {
    pub plugin: Arc<LoadedPlugin>,
    pub method: HookMethod,
}

#[derive(Debug, Default)]
pub struct PluginSet {
    pub(crate) infos: Vec<PluginInfo>,
    pub(crate) loaded: Vec<Arc<LoadedPlugin>>,
    /// Hook name → implementations in call order; filled on first use of each hook so
    /// signatures are inspected once per set, not per call.
    hooks: RwLock<HashMap<String, Arc<[BoundHook]>>>,
    /// `last-change.txt` as it was when this set was loaded.
    pub(crate) change_marker: Option<String>,
}

impl PluginSet {
    pub(crate) fn new(
        infos: Vec<PluginInfo>,
        loaded: Vec<Arc<LoadedPlugin>>,
        change_marker: Option<String>,
    ) -> Self {
        Self {
            infos,
            loaded,
            hooks: RwLock::default(),
            change_marker,
        }
    }

    pub fn infos(&self) -> &[PluginInfo] {
        &self.infos
    }

    pub fn loaded(&self) -> &[Arc<LoadedPlugin>] {
        &self.loaded
    }

    /// Implementations of `hook`, in call order. An attribute lookup that raises marks
    /// nothing: the plugin simply does not take part (and the failure is logged).
    pub(crate) fn hook_table(&self, py: Python<'_>, hook: &str) -> Arc<[BoundHook]> {
        if let Ok(map) = self.hooks.read() {
            if let Some(table) = map.get(hook) {
                return table.clone();
            }
        }
        let name = PyString::intern(py, hook);
        let mut table = Vec::new();
        for plugin in &self.loaded {
            match HookMethod::resolve(py, &plugin.instance, &name) {
                Ok(Some(method)) => table.push(BoundHook {
                    plugin: plugin.clone(),
                    method,
                }),
                Ok(None) => {}
                Err(failure) => log_lookup_failure(plugin, hook, &failure),
            }
        }
        let table: Arc<[BoundHook]> = table.into();
        if let Ok(mut map) = self.hooks.write() {
            map.entry(hook.to_string()).or_insert_with(|| table.clone());
        }
        table
    }

    /// Drops the Python side of every plugin of this set (module objects).
    pub(crate) fn unload(&self, py: Python<'_>) {
        for plugin in &self.loaded {
            python::unload_module(py, &plugin.module_name);
        }
    }
}

fn log_lookup_failure(plugin: &LoadedPlugin, hook: &str, failure: &PyFailure) {
    tracing::warn!(
        plugin = plugin.name(),
        version = plugin.version(),
        hook,
        "looking up the hook raised {}",
        failure.summary()
    );
}
