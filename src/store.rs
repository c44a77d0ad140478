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

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fs_err as fs;
use thiserror::Error;

use crate::archive::{self, ArchiveError, ExtractLimits};
use crate::manifest::{self, ManifestProblem};

pub const CHANGE_MARKER: &str = "last-change.txt";
const ORDER_FILE: &str = "install-order.txt";
const PRECISE_MARKER: &str = "change-marker";
const LOCK_FILE: &str = "dir.lock";
const STAGING_PREFIX: &str = "upload-";
/// A staging folder before its owner lock is taken.
const PENDING_PREFIX: &str = ".pending-";
const OWNER_FILE: &str = ".owner";

/// How long [`PluginsDir::lock`] waits by default. Work done under the lock is file
/// renames and the extraction of one zip, so a longer wait means a stuck holder.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(120);

/// A venv with no installed plugin is removed at start only when older than this: an
/// upload in another process builds a brand-new plugin's venv before its zip lands.
const ORPHAN_VENV_AGE: Duration = Duration::from_secs(3600);

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

thread_local! {
    /// Directory locks this thread holds, with their depth: a store method called
    /// under a caller's lock must not wait for itself.
    static HELD: RefCell<HashMap<PathBuf, usize>> = RefCell::new(HashMap::new());
}

/// The directory lock; released on drop. See [`PluginsDir::lock`].
#[derive(Debug)]
pub struct DirLock {
    root: PathBuf,
    /// `None` for a nested guard of a thread that already holds the lock.
    file: Option<File>,
}

impl Drop for DirLock {
    fn drop(&mut self) {
        HELD.with(|held| {
            let mut held = held.borrow_mut();
            if let Some(depth) = held.get_mut(&self.root) {
                *depth -= 1;
                if *depth == 0 {
                    held.remove(&self.root);
                }
            }
        });
        if let Some(file) = self.file.take() {
            // Closing the file releases the lock too; unlocking first makes the
            // release independent of other handles to the same open file.
            let _ = file.unlock();
        }
    }
}

/// A private scratch folder for one upload, inside the plugins dir (same file system,
/// so renames out of it are atomic); removed on drop. Its owner holds a lock on a file
/// inside it, so a start-up clean-up in another process can tell a live upload from an
/// abandoned one. The folder gets its `upload-` name only once that lock is held.
#[derive(Debug)]
pub struct Staging {
    path: PathBuf,
    owner: Option<File>,
}

impl Staging {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Removed while the owner lock is still held, so no clean-up races with it.
        if let Err(e) = remove_if_exists(&self.path) {
            tracing::warn!("cannot remove the staging folder: {e}");
        }
        drop(self.owner.take());
    }
}

/// What [`PluginsDir::clean_up`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CleanUp {
    pub removed: Vec<PathBuf>,
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

    fn lock_path(&self) -> PathBuf {
        self.state_dir().join(LOCK_FILE)
    }

    /// Takes the cross-process lock of the directory (an advisory lock on
    /// `state/dir.lock`), waiting at most the configured time. Every change to the
    /// directory (zips, extracted code, order, markers, deletions) is made under it.
    /// The holder writes who it is (pid, host, command) into the lock file, so a
    /// waiting process can log whom it waits for. A thread that already holds the lock
    /// gets a nested guard at once.
    pub fn lock(&self, purpose: &str) -> io::Result<DirLock> {
        let nested = HELD.with(|held| {
            let mut held = held.borrow_mut();
            match held.get_mut(&self.root) {
                Some(depth) => {
                    *depth += 1;
                    true
                }
                None => false,
            }
        });
        if nested {
            return Ok(DirLock {
                root: self.root.clone(),
                file: None,
            });
        }
        let path = self.lock_path();
        fs::create_dir_all(self.state_dir())?;
        let file = match fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
        {
            Ok(file) => file,
            // Created by another user without group write: a read-only handle locks
            // as well, it just cannot say who holds it.
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => fs::File::open(&path)?,
            Err(e) => return Err(e),
        }
        .into_parts()
        .0;
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("{}: cannot lock: {e}", path.display()),
                    ))
                }
            }
            let waited = started.elapsed();
            if waited >= self.lock_wait {
                return Err(StoreError::LockTimeout {
                    path,
                    waited,
                    holder: read_holder(&self.lock_path()),
                }
                .into());
            }
            if !told && waited >= Duration::from_secs(1) {
                told = true;
                tracing::warn!(
                    lock = %path.display(),
                    purpose,
                    holder = %read_holder(&path),
                    "waiting for the plugins directory lock"
                );
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
        if told {
            tracing::info!(
                purpose,
                waited_ms = started.elapsed().as_secs_f64() * 1000.0,
                "plugins directory lock taken"
            );
        }
        // Who holds it, for those who wait; best effort, the lock itself is what counts.
        let holder = format!(
            "pid {} on {} since {}: {} ({purpose})",
            std::process::id(),
            gethostname::gethostname().to_string_lossy(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
            command_line(),
        );
        let _ = file.set_len(0);
        let _ = (&file).write_all(holder.as_bytes());
        HELD.with(|held| held.borrow_mut().insert(self.root.clone(), 1));
        Ok(DirLock {
            root: self.root.clone(),
            file: Some(file),
        })
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

    /// A scratch folder for one upload; see [`Staging`].
    pub fn staging_dir(&self) -> io::Result<Staging> {
        let parent = self.state_dir().join("staging");
        fs::create_dir_all(&parent)?;
        let pending = tempfile::Builder::new()
            .prefix(PENDING_PREFIX)
            .tempdir_in(&parent)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", parent.display())))?;
        let owner_path = pending.path().join(OWNER_FILE);
        let owner = fs::File::create(&owner_path)?.into_parts().0;
        owner.lock().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{}: cannot lock: {e}", owner_path.display()),
            )
        })?;
        let suffix = file_name(pending.path());
        let suffix = suffix.strip_prefix(PENDING_PREFIX).unwrap_or(&suffix);
        let path = parent.join(format!("{STAGING_PREFIX}{suffix}"));
        fs::rename(pending.path(), &path)?;
        // Renamed away: the TempDir guard has nothing left to remove.
        let _ = pending.keep();
        Ok(Staging {
            path,
            owner: Some(owner),
        })
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

    /// Removes what interrupted or foreign operations left behind, under the lock:
    /// staging folders of uploads whose process is gone, half-written extractions, and
    /// the extracted code, hash markers and install-order entries of plugins no longer
    /// installed (a zip deleted by hand or by Racetrack's own engine). Venvs of such
    /// plugins go too once [`ORPHAN_VENV_AGE`] old. Configs are kept, as on delete.
    pub fn clean_up(&self) -> io::Result<CleanUp> {
        let _lock = self.lock("clean up")?;
        let mut report = CleanUp::default();

        let staging = self.state_dir().join("staging");
        for dir in list_dir(&staging)? {
            let name = file_name(&dir);
            let abandoned = if name.starts_with(STAGING_PREFIX) {
                owner_gone(&dir)
            } else {
                // Pending for a few microseconds normally; for minutes only if cut short.
                name.starts_with(PENDING_PREFIX) && older_than(&dir, Duration::from_secs(600))
            };
            if abandoned {
                remove_if_exists(&dir)?;
                report.removed.push(dir);
            }
        }

        let zips = self.zip_files()?;
        let mut live: HashSet<String> = zips
            .iter()
            .filter_map(|z| z.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        let extracted = list_dir(&self.root.join("extracted"))?;
        let markers = list_dir(&self.state_dir().join("extracted"))?;
        let venvs = list_dir(&self.venvs_root())?;
        let order = self.install_order()?;
        let marker_id = |p: &Path| file_name(p).strip_suffix(".sha256").map(String::from);
        let unknown = extracted
            .iter()
            .map(|p| file_name(p))
            .chain(markers.iter().filter_map(|p| marker_id(p)))
            .chain(venvs.iter().map(|p| file_name(p)))
            .chain(order.iter().cloned())
            .any(|id| !id.starts_with('.') && !live.contains(&id));
        if unknown {
            // A zip copied in under another file name is live under its manifest's id.
            live.extend(
                zips.iter()
                    .filter_map(|z| archive::read_manifest(z).ok())
                    .map(|m| m.id()),
            );
        }

        for dir in extracted {
            let name = file_name(&dir);
            // `.extracting-*`: an extraction cut short (they only happen under the lock).
            if name.starts_with(".extracting-") || !live.contains(&name) {
                remove_if_exists(&dir)?;
                report.removed.push(dir);
            }
        }
        for marker in markers {
            if marker_id(&marker).is_some_and(|id| !live.contains(&id)) {
                remove_if_exists(&marker)?;
                report.removed.push(marker);
            }
        }
        for venv in venvs {
            let name = file_name(&venv);
            // Hidden names belong to the venv builder's own bookkeeping.
            if !name.starts_with('.') && !live.contains(&name) && older_than(&venv, ORPHAN_VENV_AGE)
            {
                remove_if_exists(&venv)?;
                report.removed.push(venv);
            }
        }
        if order.iter().any(|id| !live.contains(id)) {
            let kept: Vec<String> = order.into_iter().filter(|id| live.contains(id)).collect();
            self.write_order(&kept)?;
        }
        for path in &report.removed {
            tracing::info!(path = %path.display(), "removed what an interrupted or foreign operation left behind");
        }
        Ok(report)
    }

    /// A fingerprint of the change markers: changes whenever any engine sharing the
    /// directory (ours or Racetrack's) recorded a change. `None` when neither exists.
    pub fn change_marker(&self) -> Option<String> {
        let racetrack = self.root.join(CHANGE_MARKER);
        let precise = self.state_dir().join(PRECISE_MARKER);
        // Racetrack's engine writes whole seconds, possibly the value already there:
        // the file's inode and ctime tell that write apart too.
        let stamp = file_stamp(&racetrack).ok();
        let text = std::fs::read_to_string(&racetrack).ok();
        let ours = std::fs::read_to_string(&precise).ok();
        if stamp.is_none() && ours.is_none() {
            return None;
        }
        Some(format!(
            "{}|{}|{}",
            text.unwrap_or_default().trim(),
            stamp.unwrap_or_default(),
            ours.unwrap_or_default().trim()
        ))
    }

    /// Records a change, so every process sharing the directory reloads: our precise
    /// marker under `state/`, and `last-change.txt` in Racetrack's format (whole
    /// seconds, read with `int(text)`). Its value always grows, so Racetrack's engine
    /// sees two changes within one second as two. It is rewritten in place, not
    /// renamed onto: Racetrack's watcher reacts to writes to that file, and sees a
    /// rename onto it only at its 60 s poll.
    pub fn bump_change_marker(&self) -> io::Result<String> {
        let _lock = self.lock("record a change")?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let precise = format!("{} {}\n", now.as_nanos(), std::process::id());
        write_atomic(&self.state_dir().join(PRECISE_MARKER), precise.as_bytes())?;
        let path = self.root.join(CHANGE_MARKER);
        let previous = read_optional(&path)?.trim().parse::<u64>().ok();
        let seconds = match previous {
            Some(p) if p >= now.as_secs() => p.saturating_add(1),
            _ => now.as_secs(),
        };
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        file.write_all(seconds.to_string().as_bytes())?;
        Ok(precise)
    }
}

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
fn read_optional(path: &Path) -> io::Result<String> {
    match fs::read_to_string(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        other => other,
    }
}

fn list_dir(dir: &Path) -> io::Result<Vec<PathBuf>> {
    match fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.map(|e| e.path())).collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// An `upload-*` folder is abandoned when nobody holds its owner lock (it is renamed
/// to that name only after its owner took the lock).
fn owner_gone(dir: &Path) -> bool {
    match std::fs::File::open(dir.join(OWNER_FILE)) {
        Ok(file) => file.try_lock().is_ok(),
        Err(e) => e.kind() == io::ErrorKind::NotFound,
    }
}

fn older_than(path: &Path, age: Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().is_ok_and(|elapsed| elapsed >= age))
}

fn read_holder(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
        _ => "another process (unknown)".to_string(),
    }
}

fn command_line() -> String {
    let mut line: String = std::env::args().collect::<Vec<_>>().join(" ");
    if line.len() > 200 {
        let mut cut = 200;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push('…');
    }
    line
}

/// What identifies one version of a file: size, mtime, and where possible the inode
/// and ctime, which no copy can carry over.
fn file_stamp(path: &Path) -> io::Result<String> {
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
