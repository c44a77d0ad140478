//! Why a bundle could not be built ([`BundleError`]); each variant names the file or
//! folder at fault. Builds nothing itself.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::{IGNORE_FILE, PLUGIN_FILE, SOURCE_DATE_EPOCH};
use crate::manifest::ManifestError;

/// Why a bundle could not be built. Each variant names the file or folder at fault.
#[derive(Debug, Error)]
pub enum BundleError {
    #[error("{}: plugin folder does not exist or is not a directory", .0.display())]
    NotAPluginDir(PathBuf),
    #[error("{}: missing {file}", dir.display())]
    MissingFile { dir: PathBuf, file: &'static str },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{}: output directory does not exist", .0.display())]
    OutDirMissing(PathBuf),
    #[error("{}: output path is not a directory", .0.display())]
    OutDirNotADir(PathBuf),
    #[error("invalid output file name {name:?}: {reason}")]
    BadOutFilename { name: String, reason: &'static str },
    #[error("{}: {PLUGIN_FILE} would not be in the bundle: {IGNORE_FILE} or the default ignores exclude it", .0.display())]
    PluginFileExcluded(PathBuf),
    #[error("{}: symbolic link to {}, outside the plugin folder; bundles hold the plugin's own files only", path.display(), target.display())]
    SymlinkOutside { path: PathBuf, target: PathBuf },
    #[error("{}: symbolic link whose target cannot be read: {source}", path.display())]
    BrokenSymlink {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: file name is not valid UTF-8 and cannot be stored in a zip", .0.display())]
    NonUtf8Path(PathBuf),
    #[error("{SOURCE_DATE_EPOCH}={value:?}: {problem}")]
    BadSourceDateEpoch {
        value: String,
        problem: &'static str,
    },
    #[error("{}: {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{}: cannot write zip: {source}", path.display())]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
}

pub(super) fn io_err(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> BundleError {
    let path = path.to_path_buf();
    move |source| BundleError::Io {
        path,
        action,
        source,
    }
}
