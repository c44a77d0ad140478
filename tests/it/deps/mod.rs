//! Per-plugin venvs, built offline from wheels made on the spot.
//!
//! Needs a `python3` on PATH (with pip); the uv tests are skipped when `uv` is not on
//! PATH. Package names start with `rtdeps` so nothing on the host can satisfy them.

mod edge_cases;
mod installers;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use racetrack_plugins::deps::{
    self, find_conflicts, DepsError, DepsOptions, Distribution, Installer, RunningPython, Venv,
    READY_MARKER,
};
use tempfile::TempDir;

/// Tests that count child processes hold it for writing, all others for reading, so
/// no other test's installs run while they count.
static COUNTING: RwLock<()> = RwLock::new(());

fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    COUNTING.read().unwrap_or_else(|p| p.into_inner())
}

fn running_python() -> RunningPython {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys; print('%d.%d.%d' % tuple(sys.version_info[:3])); print(sys.base_prefix); print(sys.executable)",
        ])
        .output()
        .expect("python3 on PATH");
    assert!(out.status.success(), "python3 failed: {out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut lines = text.lines();
    let version: Vec<u32> = lines
        .next()
        .expect("version line")
        .split('.')
        .map(|p| p.parse().expect("number"))
        .collect();
    RunningPython {
        version: (version[0], version[1], version[2]),
        base_prefix: PathBuf::from(lines.next().expect("base_prefix line")),
        executable: lines.next().map(PathBuf::from),
    }
}

use crate::common::{uv_available, wheels};

/// Writes `<name>-<version>-py3-none-any.whl` into `dir`: a package `name` whose
/// `VERSION` is `version`.
fn make_wheel(dir: &Path, name: &str, version: &str) -> PathBuf {
    wheels::Wheel::new(name, version).write_into(dir)
}

/// A temp area: `wheels/` (the wheelhouse), `venvs/`, and plugin folders.
struct Area {
    tmp: TempDir,
    running: RunningPython,
}

impl Area {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::create_dir(tmp.path().join("wheels")).expect("mkdir wheels");
        Self {
            tmp,
            running: running_python(),
        }
    }

    fn wheelhouse(&self) -> PathBuf {
        self.tmp.path().join("wheels")
    }

    fn venvs(&self) -> PathBuf {
        self.tmp.path().join("venvs")
    }

    fn wheel(&self, name: &str, version: &str) -> PathBuf {
        make_wheel(&self.wheelhouse(), name, version)
    }

    /// `plugins/<id>/requirements.txt` holding `requirements`.
    fn plugin(&self, id: &str, requirements: &str) -> PathBuf {
        let dir = self.tmp.path().join("plugins").join(id);
        fs::create_dir_all(&dir).expect("mkdir plugin");
        fs::write(dir.join("requirements.txt"), requirements).expect("write requirements");
        dir
    }

    fn offline(&self, installer: Installer) -> DepsOptions {
        DepsOptions {
            installer,
            find_links: vec![self.wheelhouse()],
            no_index: true,
            ..DepsOptions::default()
        }
    }

    fn ensure(&self, id: &str, opts: &DepsOptions) -> Result<Venv, DepsError> {
        let plugin_dir = self.tmp.path().join("plugins").join(id);
        deps::ensure_venv(
            &self.venvs(),
            id,
            &plugin_dir,
            &plugin_dir.join("requirements.txt"),
            &self.running,
            opts,
        )
    }
}

/// `import <module>; print(<module>.VERSION)` in the venv's own interpreter.
fn imported_version(venv: &Venv, module: &str) -> String {
    let python = venv.dir.join("bin").join("python");
    assert_eq!(venv.python, python);
    let out = Command::new(&python)
        .args(["-c", &format!("import {module}; print({module}.VERSION)")])
        .output()
        .expect("venv python runs");
    assert!(
        out.status.success(),
        "import {module} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn dist(name: &str, version: &str) -> Distribution {
    Distribution {
        name: name.into(),
        version: version.into(),
    }
}
