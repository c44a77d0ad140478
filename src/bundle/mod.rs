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
//!
//! This module owns the build itself; which files go in is `source_files.rs`'s job,
//! the output name and entry timestamps `output.rs`'s, the errors `error.rs`'s.

mod error;
pub mod ignore;
mod output;
mod source_files;
#[cfg(test)]
mod tests;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

pub use error::BundleError;
pub use ignore::{IgnoreRules, DEFAULT_IGNORES, IGNORE_FILE};

use error::io_err;
use output::{check_out_filename, relative_output, zip_time};
use source_files::{is_zip, walk, SourceFile};

use crate::manifest::{PluginManifest, MANIFEST_FILE};

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
