//! File primitives of the store: whole-file writes that follow the umask, removals,
//! optional reads, and the stamp that tells one version of a file from another.

use std::io::{self, Write};
use std::path::Path;
use std::time::UNIX_EPOCH;

use fs_err as fs;

/// Removes a file or a folder; a missing one is fine.
pub(crate) fn remove_if_exists(path: &Path) -> io::Result<()> {
    let result = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Write-then-rename, so readers in other processes never see a partial file. A new
/// file gets the permissions the umask gives (as `open` would); a replaced file keeps
/// its own, so a group-shared `config.yaml` stays group-readable.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let with_path = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-");
    #[cfg(unix)]
    let existing = std::fs::metadata(path).ok().map(|m| m.permissions());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(with_path)?;
    #[cfg(unix)]
    if let Some(perms) = existing {
        tmp.as_file().set_permissions(perms).map_err(with_path)?;
    }
    tmp.write_all(bytes).map_err(with_path)?;
    tmp.persist(path).map_err(|e| with_path(e.error))?;
    Ok(())
}

/// A file's text; an empty text when it does not exist, an error naming it otherwise.
pub(super) fn read_optional(path: &Path) -> io::Result<String> {
    match fs::read_to_string(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        other => other,
    }
}

pub(super) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What identifies one version of a file: size, mtime, and where possible the inode
/// and ctime, which no copy can carry over.
pub(super) fn file_stamp(path: &Path) -> io::Result<String> {
    let meta = fs::metadata(path)?;
    let mtime = meta
        .modified()?
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok(format!(
            "{} {mtime} {}:{} {}.{}",
            meta.len(),
            meta.dev(),
            meta.ino(),
            meta.ctime(),
            meta.ctime_nsec()
        ))
    }
    #[cfg(not(unix))]
    Ok(format!("{} {mtime}", meta.len()))
}
