//! Uploading a plugin. An upload is extracted and its requirements are
//! installed in a staging area; then it is committed and imported once, where it
//! stays, and rolled back if it does not load there, so a broken upload never replaces
//! a working plugin. What a commit changed is kept aside until the plugin loads
//! (`Undo`, in `rollback.rs`); failures after the commit point are reported as
//! "installed, but …". Deleting is `delete.rs`'s job, venv locking and rebuilds `venv.rs`'s.

use fs_err as fs;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use super::load::{import_staged, StagedPlugin};
use super::rollback::Undo;
use super::PluginEngine;
use crate::archive;
use crate::error::{EngineError, LoadError};
use crate::manifest::PluginManifest;
use crate::store::remove_if_exists;

impl PluginEngine {
    /// Installs a plugin bundle. `filename` is the uploaded file's name (for messages
    /// and the `.zip` check). The bundle is validated and its requirements installed
    /// in a staging area; then it is committed and imported once, where it stays. If
    /// it does not load, the commit is rolled back (the previous version, if any, is
    /// restored) and the upload is rejected: a broken upload never replaces a working
    /// plugin. An installed plugin with the same name and version is replaced; with
    /// `replace`, every other version of that name is removed.
    ///
    /// An engine opened with [`build_unloaded`](super::EngineBuilder::build_unloaded)
    /// imports the upload once in the staging area instead, and nothing else.
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
        let rejected = |error: LoadError| EngineError::UploadRejected {
            filename: filename.to_string(),
            plugin: format!("{} {}", manifest.name, manifest.version),
            error: Box::new(error),
        };
        if meant_here {
            let prepared = if self.inner.loads {
                // Requirements are refused or installed before anything is committed;
                // the import itself happens once, where the plugin stays.
                self.prepare_venv(&manifest, &staged).map_err(rejected)
            } else {
                self.try_load(filename, &manifest, &zip_tmp, &staged, staging.path())
            };
            if let Err(e) = prepared {
                if venv_in_place {
                    self.remove_venv_quietly(&id, &final_venv, "the failed upload's");
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
        let backup = staging.path().join("previous");
        fs::create_dir_all(&backup).map_err(EngineError::File)?;
        let commit = dir
            .lock(&format!("install {id}"))
            .map_err(EngineError::io(dir.root()))?;
        let undo = self.commit_upload(
            &manifest,
            &zip_tmp,
            &staged,
            &final_venv,
            venv_in_place,
            &backup,
            replace,
        )?;
        drop(commit);
        tracing::info!(plugin = %manifest.name, version = %manifest.version, "plugin installed");
        if !self.inner.loads || !meant_here {
            // Nothing of the upload to import here (`skipped` in this component), but
            // the set lists it (a no-op for an engine that loads nothing).
            self.reload_locked();
            return undo.finish(filename, &manifest);
        }

        let set = super::load::load_set(dir, &self.inner.options, &self.inner.runtime);
        let failure = set
            .infos()
            .iter()
            .find(|p| p.name == manifest.name && p.version == manifest.version)
            .and_then(|p| p.error.clone());
        let Some(error) = failure else {
            self.swap_in(Arc::new(set));
            return undo.finish(filename, &manifest);
        };
        // It does not load where it was committed: put back what was there. Nobody in
        // this process saw the failed set; other processes may have, briefly.
        tracing::error!(plugin = %manifest.name, version = %manifest.version, "the committed plugin does not load; rolling back: {}", error.report());
        self.inner.runtime.unload(set.loaded());
        let rolled_back = self.roll_back(&undo, &final_venv);
        self.reload_locked();
        match rolled_back {
            Ok(()) => Err(rejected(as_uploaded(error, filename))),
            Err(problem) => Err(EngineError::InstalledBut {
                filename: filename.to_string(),
                problem: format!(
                    "it does not load ({}) and rolling it back failed: {}",
                    error.report(),
                    problem.report()
                ),
            }),
        }
    }

    /// Installs the staged plugin's requirements (if any) without importing it.
    fn prepare_venv(
        &self,
        manifest: &PluginManifest,
        staged: &StagedPlugin,
    ) -> Result<(), LoadError> {
        let requirements = staged.plugin_dir.join("requirements.txt");
        if !requirements.is_file() {
            return Ok(());
        }
        let running = self.inner.runtime.interpreter().running_python();
        crate::deps::ensure_venv(
            &staged.venvs_root,
            &manifest.id(),
            &staged.plugin_dir,
            &requirements,
            &running,
            &self.inner.options.deps,
        )
        .map(|_| ())
        .map_err(LoadError::deps)
    }

    /// Moves the upload into place under the directory lock. Until the zip is in place
    /// an error means nothing changed; after it, the plugin is installed and later
    /// problems (bookkeeping, the change marker) are collected in the returned
    /// [`Undo`], to be reported as "installed, but …".
    #[allow(clippy::too_many_arguments)]
    fn commit_upload(
        &self,
        manifest: &PluginManifest,
        zip_tmp: &Path,
        staged: &StagedPlugin,
        final_venv: &Path,
        venv_in_place: bool,
        backup: &Path,
        replace: bool,
    ) -> Result<Undo, EngineError> {
        let dir = &self.inner.dir;
        let id = manifest.id();
        dir.check_identity(&manifest.name, &manifest.version)
            .map_err(|source| EngineError::Refused {
                filename: staged.shown_as.display().to_string(),
                source: Box::new(source),
            })?;
        let hash = archive::sha256_file(zip_tmp).map_err(EngineError::io(zip_tmp))?;
        let zip_path = dir.zip_path(&id);
        let mut undo = Undo {
            id: id.clone(),
            zip_path: zip_path.clone(),
            restore: Vec::new(),
            old_venv: None,
            had_config: dir.config_path(&id).is_file(),
            replaced: zip_path.is_file(),
            problems: Vec::new(),
        };
        let installed = self.installed_ids(&manifest.name, None)?;
        // The previous zip of this id is kept aside until the new one is known to load.
        if undo.replaced {
            let kept = backup.join("same.zip");
            fs::rename(&zip_path, &kept).map_err(EngineError::File)?;
            undo.restore.push((kept, zip_path.clone()));
        }
        let staged_venv = staged.venvs_root.join(&id);
        if !venv_in_place && final_venv.exists() {
            let kept = backup.join("venv");
            if let Err(e) = fs::rename(final_venv, &kept) {
                self.restore_zips(&undo);
                return Err(EngineError::File(e));
            }
            undo.old_venv = Some(kept);
        }
        let moved = (|| -> Result<(), EngineError> {
            dir.adopt_extracted(&id, &staged.plugin_dir, &hash)
                .map_err(EngineError::io(dir.extracted_dir(&id)))?;
            if !venv_in_place && staged_venv.is_dir() {
                fs::create_dir_all(dir.venvs_root()).map_err(EngineError::File)?;
                fs::rename(&staged_venv, final_venv).map_err(EngineError::File)?;
            }
            // The commit point: from here on the new plugin is what is installed.
            fs::rename(zip_tmp, &zip_path).map_err(EngineError::File)
        })();
        if let Err(e) = moved {
            // Nothing committed yet: put the previous version's files back.
            if let Some(old) = &undo.old_venv {
                let _ = remove_if_exists(final_venv);
                let _ = fs::rename(old, final_venv);
            }
            self.restore_zips(&undo);
            return Err(e);
        }

        let mut after = |result: Result<(), EngineError>| {
            if let Err(e) = result {
                undo.problems.push(e.report());
            }
        };
        // The same plugin copied in earlier under another file name goes: one zip per id.
        for (other, other_zip) in &installed {
            if other.version == manifest.version && *other_zip != zip_path {
                let kept = backup.join(format!("other-{}.zip", undo.restore.len()));
                after(fs::rename(other_zip, &kept).map_err(EngineError::File));
                undo.restore.push((kept, other_zip.clone()));
            }
        }
        after(
            dir.ensure_config(&id)
                .map(|_| ())
                .map_err(EngineError::io(dir.config_path(&id))),
        );
        let siblings: Vec<String> = installed.iter().map(|(p, _)| p.id()).collect();
        after(
            dir.record_installed_beside(&id, &siblings)
                .map_err(EngineError::io(dir.root())),
        );
        if replace {
            for (other, other_zip) in &installed {
                if other.version != manifest.version {
                    // Kept aside too, so a rollback brings the other versions back.
                    let kept = backup.join(format!("other-{}.zip", undo.restore.len()));
                    after(
                        fs::copy(other_zip, &kept)
                            .map(|_| ())
                            .map_err(EngineError::File),
                    );
                    undo.restore.push((kept, other_zip.clone()));
                    after(self.remove_files(other, other_zip, false));
                }
            }
        }
        after(
            dir.bump_change_marker()
                .map(|_| ())
                .map_err(EngineError::io(dir.root())),
        );
        Ok(undo)
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
}

/// An upload's load error, naming the uploaded file rather than where it was put and
/// rolled back from.
fn as_uploaded(error: LoadError, filename: &str) -> LoadError {
    let plugin_py = Path::new(filename).join("plugin.py");
    match error {
        LoadError::Import { failure, .. } => LoadError::Import { plugin_py, failure },
        LoadError::ImportTimedOut { timeout, .. } => {
            LoadError::ImportTimedOut { plugin_py, timeout }
        }
        other => other,
    }
}
