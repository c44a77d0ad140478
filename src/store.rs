//! The plugins directory, in Racetrack's layout:
//!
//! ```text
//! <plugins_dir>/
//!   <name>-<version>.zip                 installed bundles (the source of truth)
//!   extracted/<name>-<version>/          extracted code, rebuilt when the zip changes
//!   config/<name>-<version>/config.yaml  per-plugin config, kept on upgrade
//!   venvs/<name>-<version>/              per-plugin virtualenv (requirements.txt)
//!   state/install-order.txt              plugin ids in install order (tie-break of priority)
//!   state/extracted/<id>.sha256          hash of the zip the extracted folder came from
//!   last-change.txt                      bumped after every install/delete
//! ```
//!
//! Plain file operations only; no Python here.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::archive::{self, ArchiveError, ExtractLimits};

pub const CHANGE_MARKER: &str = "last-change.txt";
const ORDER_FILE: &str = "install-order.txt";

/// Handle on a plugins directory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PluginsDir {
    root: PathBuf,
}

impl PluginsDir {
    /// Opens (and creates, if missing) a plugins directory.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        if root.exists() && !root.is_dir() {
            return Err(io::Error::other(
                "not a directory; a plugins directory is expected",
            ));
        }
        fs::create_dir_all(&root)?;
        // Absolute paths: plugins see them as plugin_dir/config_path, and the host's
        // working directory may change later.
        let root = fs::canonicalize(&root)?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Installed bundles: every `*.zip` directly in the root, sorted by file name.
    pub fn zip_files(&self) -> io::Result<Vec<PathBuf>> {
        let mut zips = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let path = entry?.path();
            if path.is_file() && path.extension().is_some_and(|e| e == "zip") {
                zips.push(path);
            }
        }
        zips.sort();
        Ok(zips)
    }

    pub fn zip_path(&self, id: &str) -> PathBuf {
        self.root.join(format!("{id}.zip"))
    }

    pub fn extracted_dir(&self, id: &str) -> PathBuf {
        self.root.join("extracted").join(id)
    }

    pub fn config_dir(&self, id: &str) -> PathBuf {
        self.root.join("config").join(id)
    }

    pub fn config_path(&self, id: &str) -> PathBuf {
        self.config_dir(id).join("config.yaml")
    }

    pub fn venvs_root(&self) -> PathBuf {
        self.root.join("venvs")
    }

    fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }

    fn hash_marker(&self, id: &str) -> PathBuf {
        self.state_dir()
            .join("extracted")
            .join(format!("{id}.sha256"))
    }

    /// Creates `config/<id>/config.yaml` (empty) unless it exists.
    pub fn ensure_config(&self, id: &str) -> io::Result<PathBuf> {
        let path = self.config_path(id);
        if !path.exists() {
            fs::create_dir_all(self.config_dir(id))?;
            fs::write(&path, "")?;
        }
        Ok(path)
    }

    /// Extracts the zip unless `extracted/<id>` already holds this exact content.
    /// Returns whether an extraction happened.
    ///
    /// The marker records the zip's sha256 with its size and modification time; while
    /// those two match, the zip is not hashed again (a warm restart reads no zip data).
    pub fn ensure_extracted(
        &self,
        id: &str,
        zip_path: &Path,
        limits: &ExtractLimits,
    ) -> Result<bool, ArchiveError> {
        let io_err = |source| ArchiveError::Io {
            zip: zip_path.display().to_string(),
            source,
        };
        let marker = self.hash_marker(id);
        let target = self.extracted_dir(id);
        let stamp = file_stamp(zip_path).map_err(io_err)?;
        let recorded = fs::read_to_string(&marker).unwrap_or_default();
        let mut recorded = recorded.split_whitespace();
        let recorded_hash = recorded.next().unwrap_or_default().to_string();
        let recorded_stamp = recorded.collect::<Vec<_>>().join(" ");
        if target.is_dir() && !recorded_hash.is_empty() && recorded_stamp == stamp {
            return Ok(false);
        }
        let hash = archive::sha256_file(zip_path).map_err(io_err)?;
        if target.is_dir() && recorded_hash == hash {
            // Same content, touched file: refresh the stamp only.
            write_atomic(&marker, format!("{hash} {stamp}").as_bytes()).map_err(io_err)?;
            return Ok(false);
        }
        // Drop the marker first: a crash mid-extraction must not leave a stale "current".
        let _ = fs::remove_file(&marker);
        archive::extract(zip_path, &target, limits)?;
        if let Some(dir) = marker.parent() {
            fs::create_dir_all(dir).map_err(io_err)?;
        }
        write_atomic(&marker, format!("{hash} {stamp}").as_bytes()).map_err(io_err)?;
        Ok(true)
    }

    /// Moves an extraction made elsewhere (an upload's staging area) into place and
    /// records which zip content it came from.
    pub fn adopt_extracted(&self, id: &str, staged: &Path, zip_hash: &str) -> io::Result<()> {
        // Without a stamp, the next start hashes the zip once and records one.
        let marker = self.hash_marker(id);
        let target = self.extracted_dir(id);
        let _ = fs::remove_file(&marker);
        remove_if_exists(&target)?;
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::rename(staged, &target)?;
        if let Some(dir) = marker.parent() {
            fs::create_dir_all(dir)?;
        }
        write_atomic(&marker, zip_hash.as_bytes())
    }

    /// A scratch folder inside the plugins dir (same filesystem, so renames are atomic).
    pub fn staging_dir(&self) -> io::Result<tempfile::TempDir> {
        let parent = self.state_dir().join("staging");
        fs::create_dir_all(&parent)?;
        tempfile::Builder::new()
            .prefix("upload-")
            .tempdir_in(parent)
    }

    /// Plugin ids in the order they were first installed.
    pub fn install_order(&self) -> Vec<String> {
        fs::read_to_string(self.state_dir().join(ORDER_FILE))
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }

    /// Appends `ids` that are not yet recorded; a reinstall keeps its first position.
    pub fn record_installed(&self, ids: &[String]) -> io::Result<()> {
        let mut order = self.install_order();
        let before = order.len();
        for id in ids {
            if !order.contains(id) {
                order.push(id.clone());
            }
        }
        if order.len() != before {
            self.write_order(&order)?;
        }
        Ok(())
    }

    /// Records `id` as installed next to `siblings` (other versions of the same
    /// plugin), so an upgrade keeps the plugin's place among equal priorities; without
    /// recorded siblings it goes last. A recorded id keeps its place.
    pub fn record_installed_beside(&self, id: &str, siblings: &[String]) -> io::Result<()> {
        let mut order = self.install_order();
        if order.iter().any(|x| x == id) {
            return Ok(());
        }
        match order.iter().rposition(|x| siblings.contains(x)) {
            Some(last) => order.insert(last + 1, id.to_string()),
            None => order.push(id.to_string()),
        }
        self.write_order(&order)
    }

    fn write_order(&self, order: &[String]) -> io::Result<()> {
        fs::create_dir_all(self.state_dir())?;
        let mut text = order.join("\n");
        text.push('\n');
        write_atomic(&self.state_dir().join(ORDER_FILE), text.as_bytes())
    }

    /// Removes everything a plugin brought: zip, extracted code, venv, bookkeeping, and
    /// (when asked) its config.
    pub fn remove_plugin(&self, id: &str, remove_config: bool) -> io::Result<()> {
        remove_if_exists(&self.zip_path(id))?;
        remove_if_exists(&self.extracted_dir(id))?;
        remove_if_exists(&self.venvs_root().join(id))?;
        remove_if_exists(&self.hash_marker(id))?;
        if remove_config {
            remove_if_exists(&self.config_dir(id))?;
        }
        let order: Vec<String> = self
            .install_order()
            .into_iter()
            .filter(|x| x != id)
            .collect();
        self.write_order(&order)
    }

    /// Current content of `last-change.txt`, if any.
    pub fn change_marker(&self) -> Option<String> {
        fs::read_to_string(self.root.join(CHANGE_MARKER)).ok()
    }

    /// Writes a new value to `last-change.txt` so other processes sharing the directory
    /// see that the plugin set changed.
    pub fn bump_change_marker(&self) -> io::Result<String> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let value = format!("{nanos} {}\n", std::process::id());
        write_atomic(&self.root.join(CHANGE_MARKER), value.as_bytes())?;
        Ok(value)
    }
}

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

/// Write-then-rename, so readers in other processes never see a partial file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Size and modification time of a file, as recorded beside its hash.
fn file_stamp(path: &Path) -> io::Result<String> {
    let meta = fs::metadata(path)?;
    let mtime = meta
        .modified()?
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    Ok(format!("{} {mtime}", meta.len()))
}
