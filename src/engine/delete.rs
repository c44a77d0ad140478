//! Uninstalling: finding a plugin's installed zips (by their manifests, so failed
//! plugins can be deleted too) and removing its files and bookkeeping. Runs no
//! plugin code.

use std::path::{Path, PathBuf};

use super::{PluginEngine, PluginRef};
use crate::archive;
use crate::error::EngineError;
use crate::store::remove_if_exists;

impl PluginEngine {
    /// Uninstalls a plugin: every version of `name`, or just `version`. Removes its zip,
    /// extracted code, venv and bookkeeping; its config too when `remove_config`.
    pub fn delete_plugin(
        &self,
        name: &str,
        version: Option<&str>,
        remove_config: bool,
    ) -> Result<Vec<PluginRef>, EngineError> {
        let _guard = super::lock_loads().ok_or(EngineError::Reentrant)?;
        let commit = self
            .inner
            .dir
            .lock(&format!("delete {name}"))
            .map_err(EngineError::io(self.inner.dir.root()))?;
        let targets = self.installed_ids(name, version)?;
        if targets.is_empty() {
            return Err(EngineError::NotFound {
                name: name.to_string(),
                version: version.map(String::from),
            });
        }
        for (target, zip) in &targets {
            self.remove_files(target, zip, remove_config)?;
            tracing::info!(plugin = %target.name, version = %target.version, "plugin deleted");
        }
        let dir = &self.inner.dir;
        dir.bump_change_marker()
            .map_err(EngineError::io(dir.root()))?;
        drop(commit);
        self.reload_locked();
        Ok(targets.into_iter().map(|(plugin, _)| plugin).collect())
    }

    /// Installed plugins matching name (and version), read from the zips on disk, so
    /// plugins that failed to load can be deleted too.
    pub(super) fn installed_ids(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<Vec<(PluginRef, PathBuf)>, EngineError> {
        let dir = &self.inner.dir;
        let zips = dir.zip_files().map_err(EngineError::io(dir.root()))?;
        let mut found = Vec::new();
        for zip in zips {
            let (zip_name, zip_version) = match archive::read_manifest(&zip) {
                Ok(m) => (m.name, m.version),
                Err(_) => super::load::name_version_from_file(&zip),
            };
            if zip_name == name && version.is_none_or(|v| v == zip_version) {
                let plugin = PluginRef {
                    name: zip_name,
                    version: zip_version,
                };
                found.push((plugin, zip));
            }
        }
        Ok(found)
    }

    pub(super) fn remove_files(
        &self,
        plugin: &PluginRef,
        zip: &Path,
        remove_config: bool,
    ) -> Result<(), EngineError> {
        let dir = &self.inner.dir;
        // A zip copied in under another name than <name>-<version>.zip goes too.
        remove_if_exists(zip).map_err(EngineError::io(zip))?;
        let id = plugin.id();
        dir.remove_plugin(&id, remove_config)
            .map_err(EngineError::io(dir.root()))
    }
}
