//! Where the zip goes and how its entries are stamped: the output file name check, the
//! output's entry name when it sits inside the plugin folder, zip timestamps.

use std::fs;
use std::path::Path;

use chrono::{DateTime, Datelike, Timelike, Utc};

use super::error::BundleError;

/// A file name only: no separators, not `.`/`..`, not empty.
pub(super) fn check_out_filename(name: &str) -> Result<String, BundleError> {
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
pub(super) fn relative_output(
    workdir: &Path,
    out_dir: &Path,
    out_filename: &str,
) -> Option<String> {
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
pub(super) fn zip_time(t: DateTime<Utc>) -> zip::DateTime {
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
