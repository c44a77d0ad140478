//! What the engine knows of one plugin: its identity ([`PluginRef`]), what an operator
//! sees of it ([`PluginInfo`]) and, once its code runs, the live plugin
//! ([`LoadedPlugin`]). Plain data; the runtime that runs the code is elsewhere.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::error::{LoadError, LoadErrorKind};
use crate::manifest::PluginManifest;
use crate::python::PluginInstance;

/// Which plugin a result or error came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct PluginRef {
    pub name: String,
    pub version: String,
}

impl PluginRef {
    /// `<name>-<version>`, the key of the plugin's files.
    pub fn id(&self) -> String {
        crate::manifest::plugin_id(&self.name, &self.version)
    }
}

impl fmt::Display for PluginRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.version)
    }
}

/// Whether a plugin is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginStatus {
    Loaded,
    Failed,
    /// Not meant for this host component (manifest `components`).
    Skipped,
}

impl fmt::Display for PluginStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PluginStatus::Loaded => "loaded",
            PluginStatus::Failed => "failed",
            PluginStatus::Skipped => "skipped",
        })
    }
}

/// What an operator sees of one installed plugin.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub priority: i64,
    pub url: Option<String>,
    pub category: Option<String>,
    pub components: Vec<String>,
    pub status: PluginStatus,
    /// Why it failed (`status` is `Failed`).
    pub error: Option<LoadError>,
    pub zip_path: PathBuf,
    pub plugin_dir: Option<PathBuf>,
    pub config_path: Option<PathBuf>,
    pub venv: Option<PathBuf>,
    pub warnings: Vec<String>,
    pub manifest: Option<PluginManifest>,
}

/// The one shape of a plugin's status, for `list --json` and the Python
/// `plugins_status()`: every key always present, the error as its full report
/// with its `error_kind` beside it.
impl Serialize for PluginInfo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Row<'a> {
            name: &'a str,
            version: &'a str,
            priority: i64,
            url: &'a Option<String>,
            category: &'a Option<String>,
            components: &'a [String],
            status: PluginStatus,
            error: &'a Option<LoadError>,
            error_kind: Option<LoadErrorKind>,
            venv: &'a Option<PathBuf>,
            warnings: &'a [String],
            zip_path: &'a Path,
            plugin_dir: &'a Option<PathBuf>,
            config_path: &'a Option<PathBuf>,
        }
        Row {
            name: &self.name,
            version: &self.version,
            priority: self.priority,
            url: &self.url,
            category: &self.category,
            components: &self.components,
            status: self.status,
            error: &self.error,
            error_kind: self.error.as_ref().map(LoadError::kind),
            venv: &self.venv,
            warnings: &self.warnings,
            zip_path: &self.zip_path,
            plugin_dir: &self.plugin_dir,
            config_path: &self.config_path,
        }
        .serialize(serializer)
    }
}

/// A plugin whose `Plugin` instance is alive.
#[derive(Debug)]
pub struct LoadedPlugin {
    pub manifest: PluginManifest,
    pub plugin_dir: PathBuf,
    pub config_path: PathBuf,
    pub zip_path: PathBuf,
    /// The runtime's name for the plugin's code (the unique module name in Python).
    pub module_name: String,
    /// The `Plugin` instance, opaque to the engine.
    pub instance: PluginInstance,
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
