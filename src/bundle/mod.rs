//! Bundler: turns a plugin source folder into `<name>-<version>.zip`.
//!
//! The folder must hold `plugin.py` and a valid `plugin-manifest.yaml`. Every file not
//! ignored by [`IgnoreRules`] (defaults plus `.racetrackignore`) goes into the zip, and the
//! manifest is written anew with `build_date` set (and `version` replaced when asked).
//!
//! Output is reproducible: entries are sorted by path, carry a fixed timestamp and fixed
//! permissions, and `SOURCE_DATE_EPOCH` fixes `build_date`, so the same source gives
//! byte-identical zips. The zip is written to a temporary file next to its destination
//! and renamed into place, so a failure never leaves a half-written bundle.

pub mod ignore;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Timelike, Utc};
use thiserror::Error;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

pub use ignore::{IgnoreRules, DEFAULT_IGNORES, IGNORE_FILE};

use crate::manifest::{ManifestError, PluginManifest, MANIFEST_FILE};

/// Entry point module every plugin must have.
pub const PLUGIN_FILE: &str = "plugin.py";

/// Environment variable (seconds since the Unix epoch) fixing the build time.
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// Format of the manifest's `build_date` (UTC).
pub const BUILD_DATE_FORMAT: &str = "%Y-%m-%dT%H%M%SZ";

/// Where and how to write the bundle.
#[derive(Debug, Clone, Default)]
pub struct BundleOptions {
    /// Directory the zip is written to; the plugin folder when `None`. Must exist.
    pub out_dir: Option<PathBuf>,
    /// File name of the zip; `<name>-<version>.zip` when `None`.
    pub out_filename: Option<String>,
    /// Replaces the manifest's `version` (validated like the manifest itself).
    pub plugin_version: Option<String>,
}

/// A bundle that was written.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Path of the zip.
    pub path: PathBuf,
    /// The manifest stored in the zip (version override and `build_date` applied).
    pub manifest: PluginManifest,
}

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

fn io_err(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> BundleError {
    let path = path.to_path_buf();
    move |source| BundleError::Io {
        path,
        action,
        source,
    }
}

/// Bundles the plugin in `workdir` and returns the path of the zip written.
/// `build_date` comes from `SOURCE_DATE_EPOCH` when set, else from the clock.
pub fn bundle_plugin(workdir: &Path, opts: &BundleOptions) -> Result<PathBuf, BundleError> {
    let epoch = source_date_epoch_from_env()?;
    build_bundle(workdir, opts, epoch).map(|b| b.path)
}

/// Reads `SOURCE_DATE_EPOCH`: `None` when unset or empty, an error when not an integer.
pub fn source_date_epoch_from_env() -> Result<Option<i64>, BundleError> {
    match std::env::var(SOURCE_DATE_EPOCH) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => Err(BundleError::BadSourceDateEpoch {
            value: v.to_string_lossy().into_owned(),
            problem: "not valid UTF-8",
        }),
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => v
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| BundleError::BadSourceDateEpoch {
                value: v,
                problem: "expected an integer number of seconds since 1970-01-01 UTC",
            }),
    }
}

/// Bundles the plugin in `workdir`. `source_date_epoch` (seconds) fixes `build_date`
/// and the entries' timestamps; with `None`, `build_date` is the current time and
/// entries are stamped 1980-01-01.
pub fn build_bundle(
    workdir: &Path,
    opts: &BundleOptions,
    source_date_epoch: Option<i64>,
) -> Result<Bundle, BundleError> {
    if !workdir.is_dir() {
        return Err(BundleError::NotAPluginDir(workdir.to_path_buf()));
    }
    for file in [PLUGIN_FILE, MANIFEST_FILE] {
        if !workdir.join(file).is_file() {
            return Err(BundleError::MissingFile {
                dir: workdir.to_path_buf(),
                file,
            });
        }
    }
    let mut manifest = PluginManifest::from_dir(workdir)?;
    if let Some(version) = &opts.plugin_version {
        manifest.version = version.clone();
    }

    let (build_time, entry_time) = match source_date_epoch {
        Some(secs) => {
            let t = DateTime::<Utc>::from_timestamp(secs, 0).ok_or_else(|| {
                BundleError::BadSourceDateEpoch {
                    value: secs.to_string(),
                    problem: "out of the representable date range",
                }
            })?;
            (t, zip_time(t))
        }
        None => (Utc::now(), zip::DateTime::default()),
    };
    manifest.build_date = Some(build_time.format(BUILD_DATE_FORMAT).to_string());
    // Validate what will be stored, version override and build date included.
    let manifest_text = manifest.to_yaml();
    let source_name = match &opts.plugin_version {
        Some(v) => format!(
            "{} (with plugin version {v:?})",
            workdir.join(MANIFEST_FILE).display()
        ),
        None => workdir.join(MANIFEST_FILE).display().to_string(),
    };
    let manifest = PluginManifest::parse(&manifest_text, &source_name)?;

    let out_dir = opts
        .out_dir
        .clone()
        .unwrap_or_else(|| workdir.to_path_buf());
    match fs::metadata(&out_dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(BundleError::OutDirNotADir(out_dir)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(BundleError::OutDirMissing(out_dir))
        }
        Err(e) => return Err(io_err(&out_dir, "cannot access output directory")(e)),
    }
    let out_filename = match &opts.out_filename {
        Some(name) => check_out_filename(name)?,
        None => manifest.zip_file_name(),
    };
    let out_path = out_dir.join(&out_filename);

    let ignore_path = workdir.join(IGNORE_FILE);
    let ignore_text = match fs::read_to_string(&ignore_path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io_err(&ignore_path, "cannot read ignore file")(e)),
    };
    let rules = IgnoreRules::with_defaults(&ignore_text);

    // The output (when it lands inside the plugin folder) is never bundled, whatever
    // its name; `.zip` files never are either. Collect before creating the temp file.
    let out_rel = relative_output(workdir, &out_dir, &out_filename);
    let mut files = Vec::new();
    let root = fs::canonicalize(workdir).map_err(io_err(workdir, "cannot resolve"))?;
    walk(&root, workdir, "", &rules, &mut files)?;
    files.retain(|f| {
        f.rel != MANIFEST_FILE && !is_zip(&f.rel) && Some(f.rel.as_str()) != out_rel.as_deref()
    });
    // A bundle without its entry point would install as a broken plugin.
    if !files.iter().any(|f| f.rel == PLUGIN_FILE) {
        return Err(BundleError::PluginFileExcluded(workdir.to_path_buf()));
    }
    files.push(SourceFile {
        rel: MANIFEST_FILE.to_string(),
        path: PathBuf::new(),
        executable: false,
    });
    files.sort_by(|a, b| a.rel.cmp(&b.rel));

    let tmp = tempfile::Builder::new()
        .prefix(".racetrack-bundle-")
        .suffix(".zip")
        .tempfile_in(&out_dir)
        .map_err(io_err(
            &out_dir,
            "cannot create temporary file in output directory",
        ))?;
    let zip_err = |source| BundleError::Zip {
        path: out_path.clone(),
        source,
    };
    let mut zip = ZipWriter::new(io::BufWriter::new(tmp));
    for file in &files {
        let mode = if file.executable { 0o755 } else { 0o644 };
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(entry_time)
            .unix_permissions(mode);
        if file.rel == MANIFEST_FILE {
            zip.start_file(file.rel.as_str(), options)
                .map_err(zip_err)?;
            zip.write_all(manifest_text.as_bytes())
                .map_err(io_err(&out_path, "cannot write zip"))?;
            continue;
        }
        let mut src = fs::File::open(&file.path).map_err(io_err(&file.path, "cannot open"))?;
        let size = src
            .metadata()
            .map_err(io_err(&file.path, "cannot read metadata"))?
            .len();
        let options = options.large_file(size >= u64::from(u32::MAX));
        zip.start_file(file.rel.as_str(), options)
            .map_err(zip_err)?;
        io::copy(&mut src, &mut zip).map_err(io_err(&file.path, "cannot copy into zip"))?;
    }
    let writer = zip.finish().map_err(zip_err)?;
    let tmp = writer
        .into_inner()
        .map_err(|e| io_err(&out_path, "cannot write zip")(e.into_error()))?;
    tmp.as_file()
        .sync_all()
        .map_err(io_err(&out_path, "cannot write zip"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o644))
            .map_err(io_err(&out_path, "cannot set permissions"))?;
    }
    tmp.persist(&out_path)
        .map_err(|e| io_err(&out_path, "cannot move zip into place")(e.error))?;
    tracing::info!(path = %out_path.display(), plugin = %manifest.id(), "plugin bundled");
    Ok(Bundle {
        path: out_path,
        manifest,
    })
}

/// A file to store: its entry name and where to read it.
struct SourceFile {
    rel: String,
    path: PathBuf,
    executable: bool,
}

/// Collects the kept regular files under `dir` (whose path relative to the plugin root
/// is `rel_dir`). Directories are descended even when ignored, since a later rule may
/// re-include something below them; they are skipped only when nothing can be.
/// A symlinked file is stored with its target's content, as Racetrack's bundler does,
/// when the target is inside `root` (the canonical plugin folder); one pointing outside
/// is refused. Symlinked folders are not followed.
fn walk(
    root: &Path,
    dir: &Path,
    rel_dir: &str,
    rules: &IgnoreRules,
    out: &mut Vec<SourceFile>,
) -> Result<(), BundleError> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir, "cannot list directory"))? {
        let entry = entry.map_err(io_err(dir, "cannot list directory"))?;
        entries.push(entry.path());
    }
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| BundleError::NonUtf8Path(path.clone()))?;
        let rel = if rel_dir.is_empty() {
            name.to_string()
        } else {
            format!("{rel_dir}/{name}")
        };
        let meta = fs::symlink_metadata(&path).map_err(io_err(&path, "cannot read metadata"))?;
        let kind = meta.file_type();
        if kind.is_dir() {
            if !rules.excludes_whole_dir(&rel) {
                walk(root, &path, &rel, rules, out)?;
            }
        } else if kind.is_file() {
            if !rules.is_ignored(&rel) {
                out.push(SourceFile {
                    rel,
                    executable: is_executable(&meta),
                    path,
                });
            }
        } else if kind.is_symlink() {
            if rules.is_ignored(&rel) {
                continue;
            }
            let target = fs::canonicalize(&path).map_err(|source| BundleError::BrokenSymlink {
                path: path.clone(),
                source,
            })?;
            if !target.starts_with(root) {
                return Err(BundleError::SymlinkOutside { path, target });
            }
            let target_meta =
                fs::metadata(&target).map_err(io_err(&target, "cannot read metadata"))?;
            if target_meta.is_file() {
                out.push(SourceFile {
                    rel,
                    executable: is_executable(&target_meta),
                    path: target,
                });
            } else {
                tracing::warn!(path = %path.display(), "skipping symlinked folder: bundles do not follow links to folders");
            }
        } else if !rules.is_ignored(&rel) {
            tracing::warn!(path = %path.display(), "skipping special file: bundles hold regular files only");
        }
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}

fn is_zip(rel: &str) -> bool {
    rel.rsplit('/')
        .next()
        .is_some_and(|name| name.to_ascii_lowercase().ends_with(".zip"))
}

/// A file name only: no separators, not `.`/`..`, not empty.
fn check_out_filename(name: &str) -> Result<String, BundleError> {
    let bad = |reason| {
        Err(BundleError::BadOutFilename {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name == "." || name == ".." {
        return bad("is not a file name");
    }
    if name.contains('/') || name.contains('\\') || name.contains('\0') {
        return bad("must be a file name, not a path (use the output directory option)");
    }
    Ok(name.to_string())
}

/// Entry name the output would have if it sits inside the plugin folder.
fn relative_output(workdir: &Path, out_dir: &Path, out_filename: &str) -> Option<String> {
    let root = fs::canonicalize(workdir).ok()?;
    let dir = fs::canonicalize(out_dir).ok()?;
    let rel = dir.strip_prefix(&root).ok()?;
    let mut parts: Vec<&str> = rel
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect::<Option<_>>()?;
    parts.push(out_filename);
    Some(parts.join("/"))
}

/// `t` as a zip timestamp, clamped to what zip can store (1980-01-01 .. 2107-12-31).
fn zip_time(t: DateTime<Utc>) -> zip::DateTime {
    let clamp = |year: i32| -> Option<zip::DateTime> {
        if year < 1980 {
            Some(zip::DateTime::default())
        } else if year > 2107 {
            zip::DateTime::from_date_and_time(2107, 12, 31, 23, 59, 58).ok()
        } else {
            None
        }
    };
    if let Some(edge) = clamp(t.year()) {
        return edge;
    }
    let fields = (
        u16::try_from(t.year()),
        u8::try_from(t.month()),
        u8::try_from(t.day()),
        u8::try_from(t.hour()),
        u8::try_from(t.minute()),
        u8::try_from(t.second()),
    );
    match fields {
        (Ok(y), Ok(mo), Ok(d), Ok(h), Ok(mi), Ok(s)) => {
            zip::DateTime::from_date_and_time(y, mo, d, h, mi, s).unwrap_or_default()
        }
        _ => zip::DateTime::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_time_clamps() {
        let t = |s| DateTime::<Utc>::from_timestamp(s, 0).unwrap_or_default();
        assert_eq!(zip_time(t(0)), zip::DateTime::default());
        let d = zip_time(t(1_700_000_000)); // 2023-11-14T22:13:20Z
        assert_eq!(
            (
                d.year(),
                d.month(),
                d.day(),
                d.hour(),
                d.minute(),
                d.second()
            ),
            (2023, 11, 14, 22, 13, 20)
        );
        let far = zip_time(t(10_000_000_000)); // year 2286
        assert_eq!(far.year(), 2107);
    }

    #[test]
    fn out_filename_must_be_a_name() {
        assert!(check_out_filename("a.zip").is_ok());
        for bad in ["", ".", "..", "a/b.zip", "..\\x.zip"] {
            assert!(check_out_filename(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn zip_names() {
        assert!(is_zip("a/b/x.zip"));
        assert!(is_zip("X.ZIP"));
        assert!(!is_zip("zip.py"));
    }
}
