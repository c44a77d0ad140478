//! Which plugins the directory holds and in what order they load and are called:
//! every zip with its manifest read (or why it cannot be), ordered by priority,
//! install order and name. Reads the directory only; loading is `load.rs`'s job.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::archive;
use crate::error::LoadError;
use crate::manifest::PluginManifest;
use crate::store::PluginsDir;

/// A plugin zip with its manifest read (or the reason it could not be).
pub(super) struct Candidate {
    pub(super) zip_path: PathBuf,
    pub(super) manifest: Result<PluginManifest, LoadError>,
}

pub(super) fn read_candidates(dir: &PluginsDir) -> Vec<Candidate> {
    let zips = match dir.zip_files() {
        Ok(zips) => zips,
        Err(e) => {
            tracing::error!(dir = %dir.root().display(), "cannot list the plugins directory: {e}");
            return Vec::new();
        }
    };
    let read: Vec<(PathBuf, Result<PluginManifest, LoadError>)> = zips
        .into_iter()
        .map(|zip_path| {
            let manifest = archive::read_manifest(&zip_path).map_err(LoadError::reading_manifest);
            (zip_path, manifest)
        })
        .collect();
    // Two zips holding one name and version: `<name>-<version>.zip` wins (it is the
    // one uploads write), else the first by file name.
    let mut winner: HashMap<String, (PathBuf, PluginManifest)> = HashMap::new();
    for (zip_path, manifest) in &read {
        if let Ok(m) = manifest {
            let canonical = zip_path
                .file_name()
                .is_some_and(|f| *f == *m.zip_file_name());
            let entry = winner
                .entry(m.id())
                .or_insert_with(|| (zip_path.clone(), m.clone()));
            if canonical {
                *entry = (zip_path.clone(), m.clone());
            }
        }
    }
    read.into_iter()
        .map(|(zip_path, manifest)| {
            let manifest = manifest.and_then(|m| match winner.get(&m.id()) {
                // `a` `b-c` and `a-b` `c` would share files and config: one id each.
                Some((first, other))
                    if *first != zip_path
                        && (other.name != m.name || other.version != m.version) =>
                {
                    Err(LoadError::IdClash {
                        zip: zip_path.clone(),
                        name: m.name,
                        version: m.version,
                        other: format!("{} {}", other.name, other.version),
                        first: first.clone(),
                    })
                }
                Some((first, _)) if *first != zip_path => Err(LoadError::Duplicate {
                    zip: zip_path.clone(),
                    name: m.name,
                    version: m.version,
                    first: first.clone(),
                }),
                _ => Ok(m),
            });
            Candidate { zip_path, manifest }
        })
        .collect()
}

/// Call order: priority ascending, then install order (persisted), then name.
pub(super) fn order_candidates(dir: &PluginsDir, candidates: Vec<Candidate>) -> Vec<Candidate> {
    let new_ids: Vec<String> = candidates
        .iter()
        .filter_map(|c| c.manifest.as_ref().ok().map(PluginManifest::id))
        .collect();
    if let Err(e) = dir.record_installed(&new_ids) {
        tracing::warn!("cannot record the install order: {e}");
    }
    let order: HashMap<String, usize> = dir
        .install_order()
        .unwrap_or_else(|e| {
            tracing::error!("cannot read the install order, ties of priority go by name: {e}");
            Vec::new()
        })
        .into_iter()
        .enumerate()
        .map(|(i, id)| (id, i))
        .collect();
    let mut keyed: Vec<((i64, usize, String), Candidate)> = candidates
        .into_iter()
        .map(|c| {
            let key = match &c.manifest {
                Ok(m) => (
                    m.priority,
                    order.get(&m.id()).copied().unwrap_or(usize::MAX),
                    m.name.clone(),
                ),
                Err(_) => (i64::MAX, usize::MAX, c.zip_path.display().to_string()),
            };
            (key, c)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, c)| c).collect()
}

/// Name and version of a zip whose manifest cannot be read, from its file name
/// (`<name>-<version>.zip`; a name without `-` is all name).
pub(crate) fn name_version_from_file(zip_path: &Path) -> (String, String) {
    let stem = zip_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match stem.rsplit_once('-') {
        Some((n, v)) => (n.to_string(), v.to_string()),
        None => (stem, String::new()),
    }
}
