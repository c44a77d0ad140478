//! Where a plugin's venv lives and when it can be reused: its paths, its cache key,
//! and the ready marker written once an install has succeeded.
//!
//! A venv is reused while its *cache key* is unchanged: sha256 over the requirements
//! file, the running interpreter (version and base prefix) and the installer options.
//! The key is written to `<venv>/.racetrack-ready` only after a successful install
//! (atomically, by rename), so a venv without a matching marker (crash, kill, failed
//! install, other options) is deleted and rebuilt, never used half-populated.

use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::interpreter::RunningPython;
use super::options::Installer;

/// Written into a venv, holding its cache key, once its requirements are installed.
pub const READY_MARKER: &str = ".racetrack-ready";

/// Bumped when the cache key's contents change meaning.
const KEY_FORMAT: &str = "racetrack-plugins venv v1";

/// `<venvs_root>/<plugin_id>`.
pub fn venv_dir(venvs_root: &Path, plugin_id: &str) -> PathBuf {
    venvs_root.join(plugin_id)
}

pub(crate) fn valid_plugin_id(plugin_id: &str) -> bool {
    !plugin_id.is_empty()
        && plugin_id != "."
        && plugin_id != ".."
        && !plugin_id.contains(['/', '\\', '\0'])
}

/// Deletes a file or a whole folder; nothing there is fine. Errors name the path.
pub(crate) fn remove_path(path: &Path) -> io::Result<()> {
    match fs_err::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs_err::remove_dir_all(path),
        Ok(_) => fs_err::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// The venv's interpreter.
pub(crate) fn venv_python(dir: &Path) -> PathBuf {
    if cfg!(windows) {
        dir.join("Scripts").join("python.exe")
    } else {
        dir.join("bin").join("python")
    }
}

pub(crate) fn site_packages_of(dir: &Path, running: &RunningPython) -> PathBuf {
    if cfg!(windows) {
        dir.join("Lib").join("site-packages")
    } else {
        dir.join(running.site_packages_rel())
    }
}

/// `lib/python*/site-packages` when the expected one is absent (another layout).
pub(crate) fn find_site_packages(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir.join("lib"))
        .ok()?
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    found.into_iter().next()
}

/// Hex sha256 over everything a venv's content depends on.
pub(crate) fn cache_key(
    requirements: &[u8],
    running: &RunningPython,
    installer: Installer,
    find_links: &[PathBuf],
    no_index: bool,
) -> String {
    let mut h = Sha256::new();
    let mut field = |name: &str, value: &[u8]| {
        // Length-prefixed, so no two different inputs hash the same text.
        h.update(format!("{name} {}\n", value.len()).as_bytes());
        h.update(value);
        h.update(b"\n");
    };
    field("format", KEY_FORMAT.as_bytes());
    let (major, minor, micro) = running.version;
    field("python", format!("{major}.{minor}.{micro}").as_bytes());
    field(
        "base_prefix",
        running.base_prefix.as_os_str().as_encoded_bytes(),
    );
    field("installer", installer.as_str().as_bytes());
    for dir in find_links {
        field("find_links", dir.as_os_str().as_encoded_bytes());
    }
    field("no_index", if no_index { b"1" } else { b"0" });
    field("requirements", requirements);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn is_ready(dir: &Path, key: &str, running: &RunningPython) -> bool {
    let Ok(marker) = std::fs::read_to_string(dir.join(READY_MARKER)) else {
        return false;
    };
    if marker.trim() != key {
        tracing::info!(venv = %dir.display(), "venv is stale (requirements, interpreter or installer options changed); rebuilding it");
        return false;
    }
    // The base interpreter may have been removed since; then the venv is dead too.
    if !venv_python(dir).is_file() || !site_packages_of(dir, running).is_dir() {
        tracing::info!(venv = %dir.display(), "venv is broken (interpreter or site-packages missing); rebuilding it");
        return false;
    }
    true
}

/// Writes the marker through a temporary file and a rename, so a reader sees either
/// no marker or the whole key.
pub(crate) fn write_ready_marker(dir: &Path, key: &str) -> io::Result<()> {
    let tmp = dir.join(format!("{READY_MARKER}.tmp"));
    fs_err::write(&tmp, format!("{key}\n"))?;
    fs_err::rename(&tmp, dir.join(READY_MARKER))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn running() -> RunningPython {
        RunningPython {
            version: (3, 11, 7),
            base_prefix: PathBuf::from("/usr"),
            executable: None,
        }
    }

    #[test]
    fn cache_key_depends_on_every_input() {
        let r = running();
        let wh = vec![PathBuf::from("/wh")];
        let base = cache_key(b"a==1\n", &r, Installer::Auto, &wh, true);
        assert_eq!(base, cache_key(b"a==1\n", &r, Installer::Auto, &wh, true));
        assert_eq!(base.len(), 64);
        let mut other = r.clone();
        other.version = (3, 11, 8);
        let variants = [
            cache_key(b"a==2\n", &r, Installer::Auto, &wh, true),
            cache_key(b"a==1\n", &other, Installer::Auto, &wh, true),
            cache_key(b"a==1\n", &r, Installer::Pip, &wh, true),
            cache_key(b"a==1\n", &r, Installer::Auto, &[], true),
            cache_key(b"a==1\n", &r, Installer::Auto, &wh, false),
        ];
        for v in variants {
            assert_ne!(base, v);
        }
    }

    #[test]
    fn plugin_ids_must_be_one_path_component() {
        assert!(valid_plugin_id("my-plugin-1.0.0"));
        for bad in ["", ".", "..", "a/b", "a\\b", "../x"] {
            assert!(!valid_plugin_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn marker_is_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_ready_marker(dir.path(), "abc").expect("write");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(READY_MARKER)).expect("read"),
            "abc\n"
        );
        assert!(!dir.path().join(format!("{READY_MARKER}.tmp")).exists());
    }
}
