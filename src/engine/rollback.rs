//! Rolling back a committed upload that does not load: what the commit changed
//! ([`Undo`]), putting the previous version's files back, and the outcome of an upload
//! that stays ("installed, but …"). Deciding when to roll back is `install.rs`'s job.

use fs_err as fs;
use std::path::{Path, PathBuf};

use super::PluginEngine;
use crate::error::EngineError;
use crate::manifest::PluginManifest;
use crate::store::remove_if_exists;

impl PluginEngine {
    /// Puts back the zips kept aside by a commit (best effort; used when it failed).
    pub(super) fn restore_zips(&self, undo: &Undo) {
        for (kept, original) in &undo.restore {
            if let Err(e) = fs::rename(kept, original) {
                tracing::error!("cannot restore {}: {e}", original.display());
            }
        }
    }

    /// Undoes a committed upload that does not load: its files go, the previous
    /// version's (zip, venv; its code is extracted again from its zip) come back.
    pub(super) fn roll_back(&self, undo: &Undo, final_venv: &Path) -> Result<(), EngineError> {
        let dir = &self.inner.dir;
        let _commit = dir
            .lock(&format!("roll back {}", undo.id))
            .map_err(EngineError::io(dir.root()))?;
        if !undo.replaced {
            dir.remove_plugin(&undo.id, !undo.had_config)
                .map_err(EngineError::io(dir.root()))?;
        } else {
            remove_if_exists(&undo.zip_path).map_err(EngineError::io(&undo.zip_path))?;
            remove_if_exists(final_venv).map_err(EngineError::io(final_venv))?;
        }
        if let Some(old) = &undo.old_venv {
            fs::rename(old, final_venv).map_err(EngineError::File)?;
        }
        for (kept, original) in &undo.restore {
            fs::rename(kept, original).map_err(EngineError::File)?;
        }
        dir.bump_change_marker()
            .map(|_| ())
            .map_err(EngineError::io(dir.root()))
    }
}

/// What a committed upload changed, to roll it back, and what went wrong after its
/// commit point.
pub(super) struct Undo {
    pub(super) id: String,
    pub(super) zip_path: PathBuf,
    /// Zips kept aside (kept copy, original path): the previous zip of this id, the
    /// same plugin under another file name, other versions removed by `replace`.
    pub(super) restore: Vec<(PathBuf, PathBuf)>,
    /// The previous venv of this id, kept aside.
    pub(super) old_venv: Option<PathBuf>,
    pub(super) had_config: bool,
    /// Whether a zip of this id was installed before.
    pub(super) replaced: bool,
    /// Failures after the commit point (the plugin is installed regardless).
    pub(super) problems: Vec<String>,
}

impl Undo {
    /// The upload's outcome once it stays: installed, or "installed, but …".
    pub(super) fn finish(
        self,
        filename: &str,
        manifest: &PluginManifest,
    ) -> Result<PluginManifest, EngineError> {
        if self.problems.is_empty() {
            return Ok(manifest.clone());
        }
        for problem in &self.problems {
            tracing::error!(plugin = %manifest.name, version = %manifest.version, "installed, but: {problem}");
        }
        Err(EngineError::InstalledBut {
            filename: filename.to_string(),
            problem: self.problems.join("; "),
        })
    }
}
