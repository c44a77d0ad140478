//! Which files of the plugin folder go into the bundle: a walk applying the ignore
//! rules, following symlinked files only within the folder. Writes nothing.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::{io_err, BundleError};
use super::IgnoreRules;

/// A file to store: its entry name and where to read it.
pub(super) struct SourceFile {
    pub(super) rel: String,
    pub(super) path: PathBuf,
    pub(super) executable: bool,
}

/// Collects the kept regular files under `dir` (whose path relative to the plugin root
/// is `rel_dir`). Directories are descended even when ignored, since a later rule may
/// re-include something below them; they are skipped only when nothing can be.
/// A symlinked file is stored with its target's content, as Racetrack's bundler does,
/// when the target is inside `root` (the canonical plugin folder); one pointing outside
/// is refused. Symlinked folders are not followed.
pub(super) fn walk(
    root: &Path,
    dir: &Path,
    rel_dir: &str,
    rules: &IgnoreRules,
    out: &mut Vec<SourceFile>,
) -> Result<(), BundleError> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir, "cannot list directory"))? {
        let entry = entry.map_err(io_err(dir, "cannot list directory"))?;
        entries.push(entry.path());
    }
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| BundleError::NonUtf8Path(path.clone()))?;
        let rel = if rel_dir.is_empty() {
            name.to_string()
        } else {
            format!("{rel_dir}/{name}")
        };
        let meta = fs::symlink_metadata(&path).map_err(io_err(&path, "cannot read metadata"))?;
        let kind = meta.file_type();
        if kind.is_dir() {
            if !rules.excludes_whole_dir(&rel) {
                walk(root, &path, &rel, rules, out)?;
            }
        } else if kind.is_file() {
            if !rules.is_ignored(&rel) {
                out.push(SourceFile {
                    rel,
                    executable: is_executable(&meta),
                    path,
                });
            }
        } else if kind.is_symlink() {
            if rules.is_ignored(&rel) {
                continue;
            }
            let target = fs::canonicalize(&path).map_err(|source| BundleError::BrokenSymlink {
                path: path.clone(),
                source,
            })?;
            if !target.starts_with(root) {
                return Err(BundleError::SymlinkOutside { path, target });
            }
            let target_meta =
                fs::metadata(&target).map_err(io_err(&target, "cannot read metadata"))?;
            if target_meta.is_file() {
                out.push(SourceFile {
                    rel,
                    executable: is_executable(&target_meta),
                    path: target,
                });
            } else {
                tracing::warn!(path = %path.display(), "skipping symlinked folder: bundles do not follow links to folders");
            }
        } else if !rules.is_ignored(&rel) {
            tracing::warn!(path = %path.display(), "skipping special file: bundles hold regular files only");
        }
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}

pub(super) fn is_zip(rel: &str) -> bool {
    rel.rsplit('/')
        .next()
        .is_some_and(|name| name.to_ascii_lowercase().ends_with(".zip"))
}
