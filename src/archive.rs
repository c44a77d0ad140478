//! Safe extraction of plugin zips.
//!
//! A plugin zip comes from an upload, so every entry is distrusted: paths must stay
//! inside the target, links are refused, two entries may not land on one path, and
//! sizes are bounded before and during decompression (declared sizes can lie).
//! Compiled bytecode (`*.pyc`, `__pycache__/`) is never extracted: the code that runs
//! must be the source that ships. Owns the zip format; knows nothing of the plugins dir.

use fs_err as fs;
use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::manifest::{ManifestError, PluginManifest, MANIFEST_FILE};

/// Bounds on what one plugin zip may expand to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Sum of uncompressed entry sizes.
    pub max_total_bytes: u64,
    /// Number of entries, folders included.
    pub max_entries: usize,
    /// Uncompressed / compressed size of the whole archive (zip bombs reach thousands).
    pub max_ratio: u64,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        Self {
            max_total_bytes: 512 * 1024 * 1024,
            max_entries: 20_000,
            max_ratio: 250,
        }
    }
}

#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error("{zip}: cannot read: {source}")]
    Io {
        zip: String,
        #[source]
        source: io::Error,
    },
    #[error("{zip}: not a valid zip file: {source}")]
    Zip {
        zip: String,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{zip}: cannot extract entry {entry:?}: {source}")]
    Extract {
        zip: String,
        entry: String,
        #[source]
        source: io::Error,
    },
    #[error("{zip}: entry {entry:?} would be written outside the plugin folder")]
    PathEscape { zip: String, entry: String },
    #[error("{zip}: entries {first:?} and {second:?} both name {path:?}; a plugin zip may hold each path once")]
    DuplicatePath {
        zip: String,
        first: String,
        second: String,
        path: String,
    },
    #[error("{zip}: entry {entry:?} is a symbolic link; links are not allowed in plugins")]
    Symlink { zip: String, entry: String },
    #[error("{zip}: too large: {what}")]
    TooLarge { zip: String, what: String },
    #[error("{zip}: has no {MANIFEST_FILE} at its root")]
    NoManifest { zip: String },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

fn name_of(path: &Path) -> String {
    path.display().to_string()
}

/// Hex sha256 of a file: decides whether an extracted folder is still current.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn open_as(
    zip_path: &Path,
    zip_name: &str,
) -> Result<zip::ZipArchive<io::BufReader<fs::File>>, ArchiveError> {
    let file = fs::File::open(zip_path).map_err(|source| ArchiveError::Io {
        zip: zip_name.to_string(),
        source,
    })?;
    zip::ZipArchive::new(io::BufReader::new(file)).map_err(|source| ArchiveError::Zip {
        zip: zip_name.to_string(),
        source,
    })
}

/// Reads and validates the manifest of a zip without extracting anything.
pub fn read_manifest(zip_path: &Path) -> Result<PluginManifest, ArchiveError> {
    read_manifest_as(zip_path, &name_of(zip_path))
}

/// [`read_manifest`] for a zip stored under a temporary name: errors say `zip_name`.
pub fn read_manifest_as(zip_path: &Path, zip_name: &str) -> Result<PluginManifest, ArchiveError> {
    let zip_name = zip_name.to_string();
    let mut archive = open_as(zip_path, &zip_name)?;
    let mut entry = match archive.by_name(MANIFEST_FILE) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => {
            return Err(ArchiveError::NoManifest { zip: zip_name })
        }
        Err(source) => {
            return Err(ArchiveError::Zip {
                zip: zip_name,
                source,
            })
        }
    };
    let mut text = String::new();
    // A manifest is a few lines; anything beyond 1 MiB is not a manifest.
    (&mut entry)
        .take(1024 * 1024)
        .read_to_string(&mut text)
        .map_err(|source| ArchiveError::Io {
            zip: zip_name.clone(),
            source,
        })?;
    Ok(PluginManifest::parse(&text, &zip_name)?)
}

/// Extracts `zip_path` into `target`, replacing it. Everything is written to a sibling
/// temporary folder first and renamed into place, so a refused or broken zip leaves the
/// previous extraction untouched.
pub fn extract(zip_path: &Path, target: &Path, limits: &ExtractLimits) -> Result<(), ArchiveError> {
    extract_as(zip_path, &name_of(zip_path), target, limits)
}

/// [`extract`] for a zip stored under a temporary name: errors say `zip_name`.
pub fn extract_as(
    zip_path: &Path,
    zip_name: &str,
    target: &Path,
    limits: &ExtractLimits,
) -> Result<(), ArchiveError> {
    let zip_name = zip_name.to_string();
    let io_err = |source| ArchiveError::Io {
        zip: zip_name.clone(),
        source,
    };
    let mut archive = open_as(zip_path, &zip_name)?;
    let plan = plan_entries(&mut archive, &zip_name, limits)?;

    let parent = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io_err)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".extracting-");
    // The extracted folder is shared with other users of the directory: the umask
    // decides its permissions, not tempfile's private 0700.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o777));
    }
    let staging = builder.tempdir_in(parent).map_err(io_err)?;

    let mut written: u64 = 0;
    for (index, relative) in plan {
        let dest = staging.path().join(&relative);
        let mut entry = archive
            .by_index(index)
            .map_err(|source| ArchiveError::Zip {
                zip: zip_name.clone(),
                source,
            })?;
        let entry_err = |source| ArchiveError::Extract {
            zip: zip_name.clone(),
            entry: relative.display().to_string(),
            source,
        };
        if entry.is_dir() {
            fs::create_dir_all(&dest).map_err(entry_err)?;
            continue;
        }
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).map_err(entry_err)?;
        }
        let mut out = fs::File::create(&dest).map_err(entry_err)?;
        // One byte over the budget is read so an overflow is seen, not silently cut;
        // with a budget of u64::MAX that byte must not wrap the limit to zero.
        let budget = limits.max_total_bytes.saturating_sub(written);
        let copied = io::copy(&mut (&mut entry).take(budget.saturating_add(1)), &mut out).map_err(
            |source| ArchiveError::Extract {
                zip: zip_name.clone(),
                entry: relative.display().to_string(),
                source,
            },
        )?;
        written = written.saturating_add(copied);
        if written > limits.max_total_bytes {
            return Err(ArchiveError::TooLarge {
                zip: zip_name,
                what: format!(
                    "content exceeds {} bytes once decompressed",
                    limits.max_total_bytes
                ),
            });
        }
    }

    if target.exists() {
        fs::remove_dir_all(target).map_err(io_err)?;
    }
    let staged = staging.keep();
    fs::rename(&staged, target).map_err(|e| {
        let _ = fs::remove_dir_all(&staged);
        io_err(e)
    })?;
    Ok(())
}

/// Validates every entry before anything touches the disk; returns (index, safe path).
fn plan_entries<R: Read + io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    zip_name: &str,
    limits: &ExtractLimits,
) -> Result<Vec<(usize, PathBuf)>, ArchiveError> {
    if archive.len() > limits.max_entries {
        return Err(ArchiveError::TooLarge {
            zip: zip_name.to_string(),
            what: format!(
                "{} entries (at most {} allowed)",
                archive.len(),
                limits.max_entries
            ),
        });
    }
    let mut declared: u64 = 0;
    let mut compressed: u64 = 0;
    let mut plan = Vec::with_capacity(archive.len());
    // Normalised path -> raw name of the entry that claimed it.
    let mut claimed: HashMap<String, String> = HashMap::new();
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|source| ArchiveError::Zip {
                zip: zip_name.to_string(),
                source,
            })?;
        let raw_name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        if entry.is_symlink() {
            return Err(ArchiveError::Symlink {
                zip: zip_name.to_string(),
                entry: raw_name,
            });
        }
        let Some(parts) = normalise_entry(&raw_name) else {
            return Err(ArchiveError::PathEscape {
                zip: zip_name.to_string(),
                entry: raw_name,
            });
        };
        let parts: Vec<String> = parts.into_iter().map(String::from).collect();
        if parts.is_empty() {
            // `./` or `/`-only names: the root itself, nothing to write.
            continue;
        }
        if is_bytecode(&parts) {
            tracing::debug!(zip = zip_name, entry = raw_name, "bytecode left out");
            continue;
        }
        let key = parts.join("/");
        if let Some(first) = claimed.get(&key) {
            // A folder entry repeated (`a/` and `a/./`) is harmless; a file is not.
            if !(entry.is_dir() && first.ends_with('/')) {
                return Err(ArchiveError::DuplicatePath {
                    zip: zip_name.to_string(),
                    first: first.clone(),
                    second: raw_name,
                    path: key,
                });
            }
            continue;
        }
        claimed.insert(key, raw_name);
        declared = declared.saturating_add(entry.size());
        compressed = compressed.saturating_add(entry.compressed_size());
        plan.push((index, parts.iter().collect::<PathBuf>()));
    }
    if declared > limits.max_total_bytes {
        return Err(ArchiveError::TooLarge {
            zip: zip_name.to_string(),
            what: format!(
                "declares {declared} bytes uncompressed (at most {} allowed)",
                limits.max_total_bytes
            ),
        });
    }
    // Small archives compress text well; judge the ratio only where it can hurt.
    if declared > 1024 * 1024 && declared / compressed.max(1) > limits.max_ratio {
        return Err(ArchiveError::TooLarge {
            zip: zip_name.to_string(),
            what: format!(
                "compression ratio {}:1 exceeds {}:1 (a zip bomb?)",
                declared / compressed.max(1),
                limits.max_ratio
            ),
        });
    }
    Ok(plan)
}

/// The components of an entry's path once `.` and `..` are resolved, or `None` when it
/// is absolute, leaves the plugin folder, or holds characters that split differently on
/// other systems (`\\`, NUL, a drive prefix).
fn normalise_entry(raw: &str) -> Option<Vec<&str>> {
    if raw.starts_with('/') || raw.contains('\\') || raw.contains('\0') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            _ if part.contains(':') && parts.is_empty() && part.len() == 2 => return None,
            _ => parts.push(part),
        }
    }
    Some(parts)
}

/// Compiled Python: CPython would run it in place of (or beside) the shipped source.
fn is_bytecode(parts: &[String]) -> bool {
    parts.iter().any(|p| *p == "__pycache__")
        || parts
            .last()
            .is_some_and(|f| f.ends_with(".pyc") || f.ends_with(".pyo"))
}
