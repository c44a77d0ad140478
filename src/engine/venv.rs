//! A plugin's venv as the installer sees it: waiting for its builders before moving or
//! removing it, and rebuilding it on request. Building a venv is `deps`'s job.

use std::path::Path;
use std::time::Instant;

use super::PluginEngine;
use crate::error::EngineError;
use crate::store::remove_if_exists;

impl PluginEngine {
    /// Removes a venv under its builders' lock; a failure is only logged (the next
    /// start's clean-up removes orphaned venvs).
    pub(super) fn remove_venv_quietly(&self, id: &str, venv: &Path, whose: &str) {
        match self.lock_venv(id, venv) {
            Ok(_held) => {
                if let Err(err) = remove_if_exists(venv) {
                    tracing::warn!(venv = %venv.display(), "cannot remove {whose} venv: {err}");
                }
            }
            Err(err) => {
                tracing::warn!(venv = %venv.display(), "left {whose} venv for the next start's clean-up: {}", err.report());
            }
        }
    }

    /// Waits (within the deps timeout) until no thread or process builds the venv at
    /// `venv`, then holds it.
    pub(super) fn lock_venv(
        &self,
        id: &str,
        venv: &Path,
    ) -> Result<crate::deps::VenvLock, EngineError> {
        let timeout = self.inner.options.deps.timeout;
        Ok(crate::deps::lock_venv(
            id,
            venv,
            Instant::now().checked_add(timeout),
            timeout,
        )?)
    }

    /// Throws away the venv of a plugin (all versions, or one) and reloads, so its
    /// requirements are installed afresh. Returns the plugins concerned, as reloaded.
    pub fn rebuild_venv(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<Vec<super::PluginInfo>, EngineError> {
        let _guard = super::lock_loads().ok_or(EngineError::Reentrant)?;
        let targets = self.installed_ids(name, version)?;
        if targets.is_empty() {
            return Err(EngineError::NotFound {
                name: name.to_string(),
                version: version.map(String::from),
            });
        }
        let dir = &self.inner.dir;
        for (plugin, _) in &targets {
            let venv = dir.venvs_root().join(plugin.id());
            let _held = self.lock_venv(&plugin.id(), &venv)?;
            remove_if_exists(&venv).map_err(EngineError::io(&venv))?;
        }
        dir.bump_change_marker()
            .map_err(EngineError::io(dir.root()))?;
        self.reload_locked();
        Ok(self
            .snapshot()
            .infos()
            .iter()
            .filter(|p| {
                targets
                    .iter()
                    .any(|(t, _)| t.name == p.name && t.version == p.version)
            })
            .cloned()
            .collect())
    }
}
