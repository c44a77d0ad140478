//! Errors of engine operations (loading, installing, deleting). Hook failures have their
//! own type, [`crate::engine::HookError`], since they carry per-plugin context.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::archive::ArchiveError;
use crate::deps::DepsError;
use crate::manifest::ManifestError;
use crate::python::PyFailure;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Deps(#[from] DepsError),
    #[error("{filename}: only .zip plugin bundles can be installed")]
    NotAZip { filename: String },
    #[error("{filename}: plugin {plugin} failed to load, nothing was installed: {reason}")]
    UploadRejected {
        filename: String,
        plugin: String,
        reason: String,
    },
    #[error("no installed plugin named {name}{}", version.as_ref().map(|v| format!(" with version {v}")).unwrap_or_default())]
    NotFound {
        name: String,
        version: Option<String>,
    },
    #[error("plugins cannot be installed, deleted or reloaded from code that runs while plugins load (a plugin's __init__ or module code)")]
    Reentrant,
    #[error("the embedded Python interpreter failed: {0}")]
    Interpreter(PyFailure),
}

impl EngineError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| EngineError::Io { path, source }
    }
}
