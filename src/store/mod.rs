//! The plugins directory, in Racetrack's layout, and the cross-process lock over it:
//!
//! ```text
//! <plugins_dir>/
//!   <name>-<version>.zip                 installed bundles (the source of truth)
//!   extracted/<name>-<version>/          extracted code, rebuilt when the zip changes
//!   config/<name>-<version>/config.yaml  per-plugin config, kept on upgrade
//!   venvs/<name>-<version>/              per-plugin virtualenv (requirements.txt)
//!   state/install-order.txt              plugin ids in install order (tie-break of priority)
//!   state/extracted/<id>.sha256          hash of the zip the extracted folder came from
//!   state/change-marker                  precise change marker (ours)
//!   state/dir.lock                       the directory lock, naming its holder
//!   state/staging/upload-*/              uploads in progress, each locked by its owner
//!   last-change.txt                      Racetrack's change marker: whole seconds
//! ```
//!
//! Several processes (and users) share one directory, so every change is made under
//! [`PluginsDir::lock`], and files are written whole (write, then rename) with the
//! permissions the process umask gives. Plain file operations only; no Python here.

mod clean;
mod files;
mod lock;
mod markers;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fs_err as fs;
use thiserror::Error;

pub use clean::{CleanUp, Staging};
use files::{file_stamp, read_optional};
pub(crate) use files::{remove_if_exists, write_atomic};
pub use lock::{DirLock, DEFAULT_LOCK_WAIT};

use crate::archive::{self, ArchiveError, ExtractLimits};
use crate::manifest::{self, ManifestProblem};

pub const CHANGE_MARKER: &str = "last-change.txt";
const ORDER_FILE: &str = "install-order.txt";

/// Problems with the directory itself, beyond plain I/O.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{}: gave up after {} s waiting for the plugins directory lock, held by {holder}", path.display(), waited.as_secs())]
    LockTimeout {
        path: PathBuf,
        waited: Duration,
        holder: String,
    },
    #[error("plugin {name} {version} would be stored as `{name}-{version}`, which is already plugin {other_name} {other_version} ({}); change the name or version of one of them", other_zip.display())]
    IdClash {
        name: String,
        version: String,
        other_name: String,
        other_version: String,
        other_zip: PathBuf,
    },
    #[error("no plugin can be named {name:?} with version {version:?}: {problem}")]
    BadId {
        name: String,
        version: String,
        problem: ManifestProblem,
    },
}

impl From<StoreError> for io::Error {
    fn from(e: StoreError) -> Self {
        let kind = match e {
            StoreError::LockTimeout { .. } => io::ErrorKind::TimedOut,
            StoreError::IdClash { .. } => io::ErrorKind::AlreadyExists,
            StoreError::BadId { .. } => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, e)
    }
}

/// Handle on a plugins directory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PluginsDir {
    root: PathBuf,
    lock_wait: Duration,
}

impl PluginsDir {
    /// Opens (and creates, if missing) a plugins directory.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        if root.exists() && !root.is_dir() {
            return Err(io::Error::other(format!(
                "{}: not a directory; a plugins directory is expected",
                root.display()
            )));
        }
        fs::create_dir_all(&root)?;
        // Absolute paths: plugins see them as plugin_dir/config_path, and the host's
        // working directory may change later.
        let root = fs::canonicalize(&root)?;
        Ok(Self {
            root,
            lock_wait: DEFAULT_LOCK_WAIT,
        })
    }

    /// How long [`lock`](Self::lock) waits before giving up.
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
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

    /// The config file of plugin `name` `version`, for names that come from a caller
    /// rather than a validated manifest: a name or version that is not a plain file
    /// name part (`../../other`) is refused, so no path outside the directory forms.
    pub fn config_file(&self, name: &str, version: &str) -> Result<PathBuf, StoreError> {
        let bad = |problem| StoreError::BadId {
            name: name.to_string(),
            version: version.to_string(),
            problem,
        };
        manifest::check_component("name", name).map_err(bad)?;
        manifest::check_component("version", version).map_err(bad)?;
        Ok(self.config_path(&manifest::plugin_id(name, version)))
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
            // `create_new`: two processes creating it at once must not empty the file
            // the first one may already have written.
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Ok(path)
    }

    /// Extracts the zip unless `extracted/<id>` already holds this exact content.
    /// Returns whether an extraction happened. Runs under the directory lock, so
    /// processes starting together extract each plugin once and never read a folder
    /// another one is replacing.
    ///
    /// The marker records the zip's sha256 with a stamp of the file: size, mtime,
    /// inode and ctime. While the stamp matches, the zip is not hashed again (a warm
    /// restart reads no zip data). A copy cannot keep the inode and ctime of the file
    /// it replaces (`cp -p` and rsync keep only size and mtime), so a replaced zip is
    /// always hashed.
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
        let current = || -> io::Result<(bool, String, String)> {
            let stamp = file_stamp(zip_path)?;
            let recorded = read_optional(&marker)?;
            let mut recorded = recorded.split_whitespace();
            let recorded_hash = recorded.next().unwrap_or_default().to_string();
            let recorded_stamp = recorded.collect::<Vec<_>>().join(" ");
            let fresh = target.is_dir() && !recorded_hash.is_empty() && recorded_stamp == stamp;
            Ok((fresh, recorded_hash, stamp))
        };
        // A warm start finds every extraction current: no lock, no zip data read. The
        // marker is replaced whole, so reading it unlocked is safe.
        if current().map_err(io_err)?.0 {
            return Ok(false);
        }
        let _lock = self.lock(&format!("extract {id}")).map_err(io_err)?;
        let (fresh, recorded_hash, stamp) = current().map_err(io_err)?;
        if fresh {
            return Ok(false);
        }
        let hash = archive::sha256_file(zip_path).map_err(io_err)?;
        if target.is_dir() && recorded_hash == hash {
            // Same content, touched file: refresh the stamp only.
            write_atomic(&marker, format!("{hash} {stamp}").as_bytes()).map_err(io_err)?;
            return Ok(false);
        }
        // Drop the marker first: a crash mid-extraction must not leave a stale "current".
        remove_if_exists(&marker).map_err(io_err)?;
        archive::extract(zip_path, &target, limits)?;
        write_atomic(&marker, format!("{hash} {stamp}").as_bytes()).map_err(io_err)?;
        Ok(true)
    }

    /// Moves an extraction made elsewhere (an upload's staging area) into place and
    /// records which zip content it came from. When the folder in place already holds
    /// that content (another process installed the same zip), it is left alone: a
    /// process may be importing from it.
    pub fn adopt_extracted(&self, id: &str, staged: &Path, zip_hash: &str) -> io::Result<()> {
        let _lock = self.lock(&format!("install {id}"))?;
        let marker = self.hash_marker(id);
        let target = self.extracted_dir(id);
        let recorded = read_optional(&marker)?;
        if target.is_dir() && recorded.split_whitespace().next() == Some(zip_hash) {
            return Ok(());
        }
        remove_if_exists(&marker)?;
        remove_if_exists(&target)?;
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::rename(staged, &target)?;
        // Without a stamp, the next start hashes the zip once and records one.
        write_atomic(&marker, zip_hash.as_bytes())
    }

    /// Plugin ids in the order they were first installed. A missing file is an empty
    /// order; an unreadable one is an error naming it (two users must not silently see
    /// two different orders).
    pub fn install_order(&self) -> io::Result<Vec<String>> {
        Ok(read_optional(&self.state_dir().join(ORDER_FILE))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }

    /// Appends `ids` that are not yet recorded; a reinstall keeps its first position.
    pub fn record_installed(&self, ids: &[String]) -> io::Result<()> {
        // Cheap check first: a warm start with nothing new takes no lock.
        let order = self.install_order()?;
        if ids.iter().all(|id| order.contains(id)) {
            return Ok(());
        }
        let _lock = self.lock("record install order")?;
        let mut order = self.install_order()?;
        for id in ids {
            if !order.contains(id) {
                order.push(id.clone());
            }
        }
        self.write_order(&order)
    }

    /// Records `id` as installed next to `siblings` (other versions of the same
    /// plugin), so an upgrade keeps the plugin's place among equal priorities; without
    /// recorded siblings it goes last. A recorded id keeps its place.
    pub fn record_installed_beside(&self, id: &str, siblings: &[String]) -> io::Result<()> {
        let _lock = self.lock(&format!("record install order of {id}"))?;
        let mut order = self.install_order()?;
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
        let mut text = order.join("\n");
        text.push('\n');
        write_atomic(&self.state_dir().join(ORDER_FILE), text.as_bytes())
    }

    /// Refuses to store plugin `name` `version` when another installed plugin (other
    /// name and version) maps to the same id: `a` `b-c` and `a-b` `c` are both `a-b-c`.
    pub fn check_identity(&self, name: &str, version: &str) -> Result<(), StoreError> {
        let id = manifest::plugin_id(name, version);
        for zip in self.zip_files().unwrap_or_default() {
            let Ok(other) = archive::read_manifest(&zip) else {
                continue;
            };
            if other.id() == id && (other.name != name || other.version != version) {
                return Err(StoreError::IdClash {
                    name: name.to_string(),
                    version: version.to_string(),
                    other_name: other.name,
                    other_version: other.version,
                    other_zip: zip,
                });
            }
        }
        Ok(())
    }

    /// Removes everything a plugin brought: zip, extracted code, venv, bookkeeping, and
    /// (when asked) its config.
    pub fn remove_plugin(&self, id: &str, remove_config: bool) -> io::Result<()> {
        let _lock = self.lock(&format!("delete {id}"))?;
        remove_if_exists(&self.zip_path(id))?;
        remove_if_exists(&self.extracted_dir(id))?;
        remove_if_exists(&self.venvs_root().join(id))?;
        remove_if_exists(&self.hash_marker(id))?;
        if remove_config {
            remove_if_exists(&self.config_dir(id))?;
        }
        let order: Vec<String> = self
            .install_order()?
            .into_iter()
            .filter(|x| x != id)
            .collect();
        self.write_order(&order)
    }
}
