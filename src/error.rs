//! Errors of engine operations: [`EngineError`] for loading, installing and deleting,
//! and [`LoadError`], why one plugin did not load (kept in its `PluginInfo` and in a
//! rejected upload). Hook failures have their own type, [`crate::engine::HookError`],
//! since they carry per-call context.
//!
//! Display strings say what failed, never repeating their `#[source]`: [`report`]
//! gives the whole chain, as operators see it.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Serialize, Serializer};
use thiserror::Error;

use crate::archive::ArchiveError;
use crate::deps::DepsError;
use crate::manifest::ManifestError;
use crate::python::PyFailure;
use crate::store::StoreError;

#[derive(Debug, Error)]
pub enum EngineError {
    /// A plugins-dir operation failed at `path`.
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file operation failed; `fs-err` put the path and the operation in the error.
    #[error(transparent)]
    File(io::Error),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Deps(#[from] DepsError),
    #[error("{filename}: only .zip plugin bundles can be installed")]
    NotAZip { filename: String },
    #[error("{filename}: plugin {plugin} failed to load, nothing was installed")]
    UploadRejected {
        filename: String,
        plugin: String,
        #[source]
        error: Box<LoadError>,
    },
    /// The plugins directory refuses the upload (its name and version clash with an
    /// installed plugin's files).
    #[error("{filename}: not installed")]
    Refused {
        filename: String,
        #[source]
        source: Box<StoreError>,
    },
    /// The upload is installed (its code is what loads from now on), but something
    /// after its commit point failed; see `problem`.
    #[error("{filename}: installed, but {problem}")]
    InstalledBut { filename: String, problem: String },
    /// A name or version that cannot be a plugin's, or the directory lock not had.
    #[error(transparent)]
    Store(Box<StoreError>),
    #[error("no installed plugin named {name}{}", version.as_ref().map(|v| format!(" with version {v}")).unwrap_or_default())]
    NotFound {
        name: String,
        version: Option<String>,
    },
    #[error("plugins cannot be installed, deleted or reloaded from code that runs while plugins load (a plugin's __init__ or module code)")]
    Reentrant,
    #[error("the embedded Python interpreter failed")]
    Interpreter(#[source] PyFailure),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        EngineError::Store(Box::new(e))
    }
}

impl EngineError {
    /// The whole chain, as operators read it (see [`report`]).
    pub fn report(&self) -> String {
        report(self)
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| EngineError::Io { path, source }
    }
}

/// Why a plugin did not load. Cheap to clone (the causes are shared), so a plugin's
/// status can carry it.
#[derive(Debug, Clone, Error)]
pub enum LoadError {
    /// Its manifest is missing or invalid.
    #[error(transparent)]
    Manifest(Arc<ArchiveError>),
    /// Another zip already holds the same name and version.
    #[error("{}: plugin {name} {version} is already installed from {}; delete one of them", zip.display(), first.display())]
    Duplicate {
        zip: PathBuf,
        name: String,
        version: String,
        first: PathBuf,
    },
    /// Another plugin's name and version make the same file id (`a` `b-c` and
    /// `a-b` `c` are both `a-b-c`): they would share files and config.
    #[error("{}: plugin {name} {version} would be stored as `{}`, which is already plugin {other} ({}); change the name or version of one of them", zip.display(), crate::manifest::plugin_id(name, version), first.display())]
    IdClash {
        zip: PathBuf,
        name: String,
        version: String,
        /// The other plugin's name and version.
        other: String,
        first: PathBuf,
    },
    /// The zip cannot be read or extracted safely.
    #[error(transparent)]
    Archive(Arc<ArchiveError>),
    /// Its requirements could not be installed.
    #[error(transparent)]
    Deps(Arc<DepsError>),
    /// Installing its requirements took longer than allowed.
    #[error(transparent)]
    Timeout(Arc<DepsError>),
    /// Its config file cannot be created.
    #[error("cannot create its config file {}", path.display())]
    Config {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    /// Importing `plugin.py` or creating `Plugin()` raised.
    #[error("{}: loading the plugin raised", plugin_py.display())]
    Import {
        plugin_py: PathBuf,
        #[source]
        failure: Box<PyFailure>,
    },
    /// Importing `plugin.py` or creating `Plugin()` went on longer than the load
    /// timeout: the engine stopped waiting, the import's thread keeps running.
    #[error("{}: import did not finish in {} s; the engine stopped waiting for it (it keeps running in this process)", plugin_py.display(), seconds_text(*timeout))]
    ImportTimedOut {
        plugin_py: PathBuf,
        timeout: std::time::Duration,
    },
}

/// Whole seconds without decimals (`3`), others with what they need (`0.5`).
fn seconds_text(d: std::time::Duration) -> String {
    if d.subsec_nanos() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{}", d.as_secs_f64())
    }
}

/// What kind of [`LoadError`], as `list --json` and `plugins_status()` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadErrorKind {
    Manifest,
    Duplicate,
    Archive,
    Deps,
    Timeout,
    Config,
    Import,
}

impl LoadError {
    /// A failure to read the manifest out of a zip: the manifest's fault when it is
    /// missing or invalid, the archive's otherwise.
    pub fn reading_manifest(error: ArchiveError) -> Self {
        match error {
            ArchiveError::Manifest(_) | ArchiveError::NoManifest { .. } => {
                LoadError::Manifest(Arc::new(error))
            }
            other => LoadError::Archive(Arc::new(other)),
        }
    }

    pub fn deps(error: DepsError) -> Self {
        match error {
            DepsError::TimedOut { .. } => LoadError::Timeout(Arc::new(error)),
            other => LoadError::Deps(Arc::new(other)),
        }
    }

    pub fn kind(&self) -> LoadErrorKind {
        match self {
            LoadError::Manifest(_) => LoadErrorKind::Manifest,
            LoadError::Duplicate { .. } | LoadError::IdClash { .. } => LoadErrorKind::Duplicate,
            LoadError::Archive(_) => LoadErrorKind::Archive,
            LoadError::Deps(_) => LoadErrorKind::Deps,
            LoadError::Timeout(_) | LoadError::ImportTimedOut { .. } => LoadErrorKind::Timeout,
            LoadError::Config { .. } => LoadErrorKind::Config,
            LoadError::Import { .. } => LoadErrorKind::Import,
        }
    }

    /// The Python exception, when the plugin's code raised.
    pub fn python_failure(&self) -> Option<&PyFailure> {
        match self {
            LoadError::Import { failure, .. } => Some(failure),
            _ => None,
        }
    }

    /// The whole chain, as operators read it.
    pub fn report(&self) -> String {
        report(self)
    }
}

/// Serialised as its [`report`](LoadError::report); the kind is a field of its own
/// beside it (see `PluginInfo`).
impl Serialize for LoadError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.report())
    }
}

/// An error with its causes, `outer: inner: innermost`. A cause whose text the outer
/// message already holds (some errors of other modules quote theirs) is not repeated.
pub fn report(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !part.is_empty() && !text.contains(part.trim_end()) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}
