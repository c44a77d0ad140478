//! Per-plugin venvs, built offline from wheels made on the spot.
//!
//! Needs a `python3` on PATH (with pip); the uv tests are skipped when `uv` is not on
//! PATH. Package names start with `rtdeps` so nothing on the host can satisfy them.

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

fn exclusive() -> std::sync::RwLockWriteGuard<'static, ()> {
    COUNTING.write().unwrap_or_else(|p| p.into_inner())
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

/// Cold build, then a warm `ensure` that must start no process at all.
fn build_then_reuse(installer: Installer, module: &str) {
    let area = Area::new();
    area.wheel(module, "1.0");
    area.plugin("demo-1.0", &format!("{module}==1.0\n"));
    let opts = area.offline(installer);

    let started = Instant::now();
    let venv = {
        let _g = shared();
        area.ensure("demo-1.0", &opts).expect("venv builds")
    };
    eprintln!("{installer} cold install took {:?}", started.elapsed());

    assert_eq!(venv.dir, area.venvs().join("demo-1.0"));
    assert_eq!(venv.installer_ran, Some(installer));
    let (major, minor, _) = area.running.version;
    assert_eq!(
        venv.site_packages,
        vec![venv
            .dir
            .join(format!("lib/python{major}.{minor}/site-packages"))]
    );
    assert!(venv.site_packages[0]
        .join(module)
        .join("__init__.py")
        .is_file());
    let normalized = module.replace('_', "-");
    assert!(
        venv.distributions.contains(&dist(&normalized, "1.0")),
        "{:?}",
        venv.distributions
    );
    assert!(venv.dir.join(READY_MARKER).is_file());
    assert_eq!(imported_version(&venv, module), "1.0");
    // Neither installer copies pip into the venv (pip runs from outside, `--python`).
    assert!(!venv.site_packages[0].join("pip").exists());
    let cfg = fs::read_to_string(venv.dir.join("pyvenv.cfg")).expect("pyvenv.cfg");
    assert!(cfg.contains("include-system-site-packages = true"), "{cfg}");

    let _g = exclusive();
    let runs = deps::installer_runs();
    let children = deps::child_processes();
    let started = Instant::now();
    let again = area.ensure("demo-1.0", &opts).expect("venv reused");
    eprintln!("{installer} warm ensure took {:?}", started.elapsed());
    assert_eq!(again.installer_ran, None);
    assert_eq!(
        deps::installer_runs(),
        runs,
        "a warm ensure must not run the installer"
    );
    assert_eq!(
        deps::child_processes(),
        children,
        "a warm ensure must start no process"
    );
    assert_eq!(again.dir, venv.dir);
    assert_eq!(again.site_packages, venv.site_packages);
    assert_eq!(again.distributions, venv.distributions);
}

#[test]
fn pip_builds_a_venv_and_reuses_it() {
    build_then_reuse(Installer::Pip, "rtdeps_pip_demo");
}

#[test]
fn uv_builds_a_venv_and_reuses_it() {
    if !uv_available("uv_builds_a_venv_and_reuses_it") {
        return;
    }
    build_then_reuse(Installer::Uv, "rtdeps_uv_demo");
}

#[test]
fn auto_picks_uv_when_it_is_on_path() {
    let _g = shared();
    let area = Area::new();
    area.wheel("rtdeps_auto", "1.0");
    area.plugin("auto-1.0", "rtdeps_auto\n");
    let venv = area
        .ensure("auto-1.0", &area.offline(Installer::Auto))
        .expect("builds");
    let expected = if which::which("uv").is_ok() {
        Installer::Uv
    } else {
        Installer::Pip
    };
    assert_eq!(venv.installer_ran, Some(expected));
    assert_eq!(imported_version(&venv, "rtdeps_auto"), "1.0");
}

fn changed_requirements_rebuild(installer: Installer, module: &str) {
    let _g = shared();
    let area = Area::new();
    area.wheel(module, "1.0");
    area.wheel(module, "2.0");
    let opts = area.offline(installer);
    let plugin_dir = area.plugin("demo-1.0", &format!("{module}==1.0\n"));
    let first = area.ensure("demo-1.0", &opts).expect("first build");
    assert_eq!(imported_version(&first, module), "1.0");

    fs::write(
        plugin_dir.join("requirements.txt"),
        format!("{module}==2.0\n"),
    )
    .expect("rewrite");
    let second = area.ensure("demo-1.0", &opts).expect("rebuild");
    assert_eq!(second.installer_ran, Some(installer));
    assert_eq!(imported_version(&second, module), "2.0");
    let name = module.replace('_', "-");
    assert_eq!(
        second
            .distributions
            .iter()
            .filter(|d| d.name == name)
            .collect::<Vec<_>>(),
        vec![&dist(&name, "2.0")]
    );

    // Other installer options are part of the key too.
    let mut other = opts.clone();
    other.find_links.push(area.tmp.path().join("plugins"));
    let third = area
        .ensure("demo-1.0", &other)
        .expect("rebuild for new options");
    assert_eq!(third.installer_ran, Some(installer));
    let fourth = area.ensure("demo-1.0", &other).expect("reuse");
    assert_eq!(fourth.installer_ran, None);
}

#[test]
fn pip_rebuilds_when_requirements_change() {
    changed_requirements_rebuild(Installer::Pip, "rtdeps_pip_change");
}

#[test]
fn uv_rebuilds_when_requirements_change() {
    if !uv_available("uv_rebuilds_when_requirements_change") {
        return;
    }
    changed_requirements_rebuild(Installer::Uv, "rtdeps_uv_change");
}

fn missing_package_fails(installer: Installer) {
    let _g = shared();
    let area = Area::new();
    area.wheel("rtdeps_present", "1.0");
    area.plugin("broken-1.0", "rtdeps_present\nrtdeps_absent_package==3.0\n");
    let err = area
        .ensure("broken-1.0", &area.offline(installer))
        .expect_err("the package does not exist");
    let text = err.to_string();
    eprintln!("{installer} failure reads:\n{text}");
    match &err {
        DepsError::InstallFailed {
            plugin_id,
            installer: used,
            status,
            output_tail,
        } => {
            assert_eq!(plugin_id, "broken-1.0");
            assert_eq!(*used, installer);
            assert!(!status.success());
            assert!(
                output_tail.contains("rtdeps_absent_package")
                    || output_tail.contains("rtdeps-absent-package"),
                "{output_tail}"
            );
        }
        other => panic!("expected InstallFailed, got {other:?}"),
    }
    assert!(
        text.starts_with(&format!(
            "plugin broken-1.0: installing its requirements with {installer} failed"
        )),
        "{text}"
    );
    assert!(
        !area.venvs().join("broken-1.0").exists(),
        "the failed venv is removed"
    );
}

#[test]
fn pip_missing_package_is_an_install_failure() {
    missing_package_fails(Installer::Pip);
}

#[test]
fn uv_missing_package_is_an_install_failure() {
    if !uv_available("uv_missing_package_is_an_install_failure") {
        return;
    }
    missing_package_fails(Installer::Uv);
}

#[test]
fn half_built_venvs_are_rebuilt() {
    let _g = shared();
    let area = Area::new();
    area.wheel("rtdeps_half", "1.0");
    area.plugin("half-1.0", "rtdeps_half==1.0\n");
    let opts = area.offline(Installer::Pip);
    let dir = area.venvs().join("half-1.0");

    // A crash mid-install: a folder without the marker.
    fs::create_dir_all(dir.join("lib")).expect("mkdir");
    fs::write(dir.join("leftover.txt"), "from a crashed install").expect("write");
    let venv = area.ensure("half-1.0", &opts).expect("rebuilt");
    assert_eq!(venv.installer_ran, Some(Installer::Pip));
    assert!(
        !dir.join("leftover.txt").exists(),
        "the old folder was wiped first"
    );
    assert_eq!(imported_version(&venv, "rtdeps_half"), "1.0");

    // A marker that does not match.
    fs::write(dir.join(READY_MARKER), "not-the-key\n").expect("write");
    let venv = area.ensure("half-1.0", &opts).expect("rebuilt again");
    assert_eq!(venv.installer_ran, Some(Installer::Pip));
    assert_eq!(imported_version(&venv, "rtdeps_half"), "1.0");

    // A matching marker, but the installed packages were deleted under it.
    fs::remove_dir_all(&venv.site_packages[0]).expect("rm site-packages");
    let venv = area.ensure("half-1.0", &opts).expect("rebuilt once more");
    assert_eq!(venv.installer_ran, Some(Installer::Pip));
    assert_eq!(imported_version(&venv, "rtdeps_half"), "1.0");

    // Now it is whole: reused.
    let venv = area.ensure("half-1.0", &opts).expect("reused");
    assert_eq!(venv.installer_ran, None);

    deps::remove_venv(&area.venvs(), "half-1.0").expect("removed");
    assert!(!dir.exists());
    deps::remove_venv(&area.venvs(), "half-1.0").expect("removing nothing is fine");
    assert_eq!(deps::venv_dir(&area.venvs(), "half-1.0"), dir);
}

#[test]
fn relative_wheel_paths_resolve_in_the_plugin_folder() {
    let _g = shared();
    let area = Area::new();
    let plugin_dir = area.plugin("local-1.0", "./wheels/rtdeps_local-1.0-py3-none-any.whl\n");
    fs::create_dir(plugin_dir.join("wheels")).expect("mkdir");
    make_wheel(&plugin_dir.join("wheels"), "rtdeps_local", "1.0");
    // A plugin file named like pip's module must not replace pip (the installer runs
    // in this folder).
    fs::create_dir(plugin_dir.join("pip")).expect("mkdir");
    fs::write(
        plugin_dir.join("pip/__init__.py"),
        "raise SystemExit('hijacked')\n",
    )
    .expect("write");
    fs::write(
        plugin_dir.join("pip/__main__.py"),
        "raise SystemExit('hijacked')\n",
    )
    .expect("write");
    let opts = DepsOptions {
        installer: Installer::Pip,
        no_index: true,
        ..DepsOptions::default()
    };
    let venv = area
        .ensure("local-1.0", &opts)
        .expect("builds from the bundled wheel");
    assert_eq!(imported_version(&venv, "rtdeps_local"), "1.0");
    if uv_available("relative_wheel_paths_resolve_in_the_plugin_folder (uv part)") {
        let opts = DepsOptions {
            installer: Installer::Uv,
            ..opts
        };
        let venv = area
            .ensure("local-1.0", &opts)
            .expect("uv builds from the bundled wheel");
        assert_eq!(venv.installer_ran, Some(Installer::Uv));
        assert_eq!(imported_version(&venv, "rtdeps_local"), "1.0");
    }
}

#[test]
fn plugins_pinning_different_versions_are_reported() {
    let _g = shared();
    let area = Area::new();
    area.wheel("rtdeps_shared", "1.0");
    area.wheel("rtdeps_shared", "2.0");
    area.wheel("rtdeps_only_b", "1.0");
    area.plugin("a-1.0", "rtdeps_shared==1.0\n");
    area.plugin("b-1.0", "rtdeps_shared==2.0\nrtdeps_only_b\n");
    let opts = area.offline(Installer::Auto);
    let a = area.ensure("a-1.0", &opts).expect("a builds");
    let b = area.ensure("b-1.0", &opts).expect("b builds");
    // Separate venvs: each plugin's own interpreter sees its own pin.
    assert_eq!(imported_version(&a, "rtdeps_shared"), "1.0");
    assert_eq!(imported_version(&b, "rtdeps_shared"), "2.0");

    let conflicts = find_conflicts(&[
        ("a-1.0".to_owned(), a.distributions.clone()),
        ("b-1.0".to_owned(), b.distributions.clone()),
    ]);
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].package, "rtdeps-shared");
    assert_eq!(conflicts[0].first, ("a-1.0".to_owned(), "1.0".to_owned()));
    assert_eq!(conflicts[0].second, ("b-1.0".to_owned(), "2.0".to_owned()));
    assert_eq!(
        deps::installed_distributions(&b.site_packages[0])
            .into_iter()
            .filter(|d| d.name.starts_with("rtdeps"))
            .collect::<Vec<_>>(),
        vec![dist("rtdeps-only-b", "1.0"), dist("rtdeps-shared", "2.0")]
    );
}

#[test]
fn a_timeout_stops_the_build_and_cleans_up() {
    let _g = shared();
    let area = Area::new();
    area.wheel("rtdeps_slow", "1.0");
    area.plugin("slow-1.0", "rtdeps_slow\n");
    let opts = DepsOptions {
        timeout: Duration::from_millis(1),
        ..area.offline(Installer::Pip)
    };
    let err = area
        .ensure("slow-1.0", &opts)
        .expect_err("1 ms is not enough");
    assert!(matches!(err, DepsError::TimedOut { .. }), "{err:?}");
    assert!(err.to_string().starts_with("plugin slow-1.0: "), "{err}");
    assert!(!area.venvs().join("slow-1.0").exists());
}

#[test]
fn the_base_interpreter_matches_the_running_version() {
    let running = running_python();
    let base = deps::find_base_interpreter(&running).expect("python3 itself qualifies");
    let out = Command::new(&base)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .expect("base runs");
    let (major, minor, _) = running.version;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{major}.{minor}")
    );
}
