//! Uploads' staging folders and the start-up clean-up of what interrupted or foreign
//! operations left in a plugins directory.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fs_err as fs;

use super::files::{file_name, remove_if_exists};
use super::PluginsDir;
use crate::archive;

const STAGING_PREFIX: &str = "upload-";

/// A staging folder before its owner lock is taken.
const PENDING_PREFIX: &str = ".pending-";

const OWNER_FILE: &str = ".owner";

/// A venv with no installed plugin is removed at start only when older than this: an
/// upload in another process builds a brand-new plugin's venv before its zip lands.
const ORPHAN_VENV_AGE: Duration = Duration::from_secs(3600);

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

    /// Removes what interrupted or foreign operations left behind, under the lock:
    /// staging folders of uploads whose process is gone, half-written extractions, and
    /// the extracted code, hash markers and install-order entries of plugins no longer
    /// installed (a zip deleted by hand or by Racetrack's own engine). Venvs of such
    /// plugins go too once an hour old. Configs are kept, as on delete.
    pub fn clean_up(&self) -> io::Result<CleanUp> {
        // Cheap check first: a warm start with nothing left behind takes no lock (taking
        // it rewrites the lock file). What appears after this look is found by the next
        // start, as it would be after a locked clean-up.
        if self.leftovers()?.is_empty() {
            return Ok(CleanUp::default());
        }
        let _lock = self.lock("clean up")?;
        let leftovers = self.leftovers()?;
        let mut report = CleanUp::default();
        for path in leftovers.paths {
            remove_if_exists(&path)?;
            report.removed.push(path);
        }
        if let Some(kept) = leftovers.order {
            self.write_order(&kept)?;
        }
        for path in &report.removed {
            tracing::info!(path = %path.display(), "removed what an interrupted or foreign operation left behind");
        }
        Ok(report)
    }

    /// What [`clean_up`](Self::clean_up) would remove now; changes nothing.
    fn leftovers(&self) -> io::Result<Leftovers> {
        let mut found = Leftovers::default();

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
                found.paths.push(dir);
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
                found.paths.push(dir);
            }
        }
        for marker in markers {
            if marker_id(&marker).is_some_and(|id| !live.contains(&id)) {
                found.paths.push(marker);
            }
        }
        for venv in venvs {
            let name = file_name(&venv);
            // Hidden names belong to the venv builder's own bookkeeping.
            if !name.starts_with('.') && !live.contains(&name) && older_than(&venv, ORPHAN_VENV_AGE)
            {
                found.paths.push(venv);
            }
        }
        if order.iter().any(|id| !live.contains(id)) {
            found.order = Some(order.into_iter().filter(|id| live.contains(id)).collect());
        }
        Ok(found)
    }
}

/// Leftovers found by one look at the directory: paths to remove, and the install
/// order without the ids of plugins no longer installed (when it has any).
#[derive(Debug, Default)]
struct Leftovers {
    paths: Vec<PathBuf>,
    order: Option<Vec<String>>,
}

impl Leftovers {
    fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.order.is_none()
    }
}

fn list_dir(dir: &Path) -> io::Result<Vec<PathBuf>> {
    match fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.map(|e| e.path())).collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
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
