//! Plugin config files: where they are, reading and replacing them (followed by a
//! reload, as plugins read their config in `__init__`). Never touches plugin code.

use std::path::PathBuf;

use super::PluginEngine;
use crate::error::EngineError;
use crate::manifest::plugin_id;

impl PluginEngine {
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
