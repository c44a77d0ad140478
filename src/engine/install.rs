//! Installing and deleting plugins. An upload is extracted and imported in a staging
//! area first; only a plugin that loads there is moved into place, so a broken upload
//! never replaces a working plugin.

use fs_err as fs;
use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::Instant;

use super::load::{import_staged, StagedPlugin};
use super::{PluginEngine, PluginRef};
use crate::archive;
use crate::error::{EngineError, LoadError};
use crate::manifest::PluginManifest;
use crate::store::remove_if_exists;

impl PluginEngine {
    /// Installs a plugin bundle. `filename` is the uploaded file's name (for messages
    /// and the `.zip` check). The bundle is validated and fully loaded before it becomes
    /// active; on any error nothing changes. An installed plugin with the same name and
    /// version is replaced; with `replace`, every other version of that name is removed.
    pub fn upload_plugin(
        &self,
        filename: &str,
        data: &[u8],
        replace: bool,
    ) -> Result<PluginManifest, EngineError> {
        if !filename.to_ascii_lowercase().ends_with(".zip") {
            return Err(EngineError::NotAZip {
                filename: filename.to_string(),
            });
        }
        let span = tracing::info_span!("upload_plugin", filename);
        let _entered = span.enter();
        let dir = &self.inner.dir;
        let staging = dir.staging_dir().map_err(EngineError::io(dir.root()))?;
        let zip_tmp = staging.path().join("bundle.zip");
        fs::write(&zip_tmp, data).map_err(EngineError::File)?;
        let manifest = archive::read_manifest_as(&zip_tmp, filename)?;
        let id = manifest.id();
        let clash = |source| EngineError::Refused {
            filename: filename.to_string(),
            source: Box::new(source),
        };
        dir.check_identity(&manifest.name, &manifest.version)
            .map_err(clash)?;
        let plugin_dir = staging.path().join("extracted").join(&id);
        archive::extract_as(&zip_tmp, filename, &plugin_dir, &self.inner.options.limits)?;

        let _guard = super::lock_loads().ok_or(EngineError::Reentrant)?;
        // A venv records its own path (scripts, some .pth files), so it is built where
        // it will stay when nothing is there yet; replacing a live one of the same id
        // happens in staging, so a failed upload leaves it intact.
        let final_venv = dir.venvs_root().join(&id);
        let venv_in_place = !final_venv.exists();
        let staged = StagedPlugin {
            id: id.clone(),
            plugin_dir,
            shown_as: PathBuf::from(filename),
            venvs_root: if venv_in_place {
                dir.venvs_root()
            } else {
                staging.path().join("venvs")
            },
        };
        let meant_here = self
            .inner
            .options
            .component
            .as_deref()
            .is_none_or(|c| manifest.runs_in(c));
        if meant_here {
            if let Err(e) = self.try_load(filename, &manifest, &zip_tmp, &staged, staging.path()) {
                if venv_in_place {
                    // Under the builders' lock: another process may be building or
                    // checking this same venv for its own upload of this plugin.
                    match self.lock_venv(&id, &final_venv) {
                        Ok(_held) => {
                            if let Err(err) = remove_if_exists(&final_venv) {
                                tracing::warn!(venv = %final_venv.display(), "cannot remove the failed upload's venv: {err}");
                            }
                        }
                        Err(err) => {
                            tracing::warn!(venv = %final_venv.display(), "left the failed upload's venv for the next start's clean-up: {}", crate::error::report(&err));
                        }
                    }
                }
                return Err(e);
            }
        }

        // Replacing a live venv waits for whoever builds or checks it (its builders'
        // lock, taken before the directory lock: a build can take minutes, and other
        // processes' commits should not wait for it).
        let _venv_lock = if venv_in_place {
            None
        } else {
            Some(self.lock_venv(&id, &final_venv)?)
        };
        // Commit: code, venv, zip, then bookkeeping and the change marker, all under
        // the directory lock so other processes see all of it or none.
        let commit = dir
            .lock(&format!("install {id}"))
            .map_err(EngineError::io(dir.root()))?;
        dir.check_identity(&manifest.name, &manifest.version)
            .map_err(clash)?;
        let hash = archive::sha256_file(&zip_tmp).map_err(EngineError::io(&zip_tmp))?;
        dir.adopt_extracted(&id, &staged.plugin_dir, &hash)
            .map_err(EngineError::io(dir.extracted_dir(&id)))?;
        let staged_venv = staged.venvs_root.join(&id);
        if !venv_in_place {
            remove_if_exists(&final_venv).map_err(EngineError::io(&final_venv))?;
        }
        if !venv_in_place && staged_venv.is_dir() {
            fs::create_dir_all(dir.venvs_root()).map_err(EngineError::File)?;
            fs::rename(&staged_venv, &final_venv).map_err(EngineError::File)?;
        }
        let zip_path = dir.zip_path(&id);
        fs::rename(&zip_tmp, &zip_path).map_err(EngineError::File)?;
        let installed = self.installed_ids(&manifest.name, None)?;
        // The same plugin copied in earlier under another file name goes: one zip per id.
        for (other, other_zip) in &installed {
            if other.version == manifest.version && *other_zip != zip_path {
                remove_if_exists(other_zip).map_err(EngineError::io(other_zip))?;
            }
        }
        dir.ensure_config(&id)
            .map_err(EngineError::io(dir.config_path(&id)))?;
        let siblings: Vec<String> = installed.iter().map(|(p, _)| p.id()).collect();
        dir.record_installed_beside(&id, &siblings)
            .map_err(EngineError::io(dir.root()))?;
        if replace {
            for (other, other_zip) in &installed {
                if other.version != manifest.version {
                    self.remove_files(other, other_zip, false)?;
                }
            }
        }
        dir.bump_change_marker()
            .map_err(EngineError::io(dir.root()))?;
        drop(commit);
        tracing::info!(plugin = %manifest.name, version = %manifest.version, "plugin installed");
        self.reload_locked();
        Ok(manifest)
    }

    /// Imports the staged plugin once to prove it loads, then forgets it.
    fn try_load(
        &self,
        filename: &str,
        manifest: &PluginManifest,
        zip_tmp: &Path,
        staged: &StagedPlugin,
        staging_root: &Path,
    ) -> Result<(), EngineError> {
        let existing_config = self.inner.dir.config_path(&staged.id);
        let config_path = if existing_config.is_file() {
            existing_config
        } else {
            let scratch = staging_root.join("config.yaml");
            fs::write(&scratch, "").map_err(EngineError::File)?;
            scratch
        };
        let rejected = |error: LoadError| EngineError::UploadRejected {
            filename: filename.to_string(),
            plugin: format!("{} {}", manifest.name, manifest.version),
            error: Box::new(error),
        };
        let runtime = &self.inner.runtime;
        let (plugin, _venv, _warnings) = import_staged(
            &self.inner.options,
            runtime,
            manifest,
            zip_tmp,
            staged,
            config_path,
        )
        .map_err(rejected)?;
        runtime.unload(&[Arc::new(plugin)]);
        // The staged venv is moved into place (and the staging folder deleted) once the
        // trial load succeeded, so packages the plugin imported from it, and its site
        // dir on `sys.path`, would keep pointing at a folder that is gone: the real load
        // would reuse those stale modules and their lazy submodule imports would fail.
        runtime.forget_under(staging_root);
        Ok(())
    }

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
    fn installed_ids(
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

    /// Waits (within the deps timeout) until no thread or process builds the venv at
    /// `venv`, then holds it.
    fn lock_venv(&self, id: &str, venv: &Path) -> Result<crate::deps::VenvLock, EngineError> {
        let timeout = self.inner.options.deps.timeout;
        Ok(crate::deps::lock_venv(
            id,
            venv,
            Instant::now().checked_add(timeout),
            timeout,
        )?)
    }

    fn remove_files(
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

impl PluginEngine {
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
