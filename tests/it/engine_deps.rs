//! Plugin requirements through the engine and the CLI: one venv per plugin, built
//! offline from wheels made on the spot (`tests/it/common/wheels.rs`).
//!
//! Needs a `python3` on PATH with pip; the uv variants print "SKIP: uv not on PATH"
//! and pass when `uv` is missing. Every package name starts with `rted` and is unique
//! to its test: all engines of this binary share one interpreter and so one
//! `sys.modules`.
//!
//! `deps::installer_runs()` is process-wide. Tests that assert it did not move hold
//! [`COUNTING`] for writing; every other test building venvs in this process holds it
//! for reading. Keep venv-building engine tests in this file only, or that count can
//! be disturbed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::common::wheels::{write_wheelhouse, Wheel};
use crate::common::*;
use racetrack_plugins::deps::{self, Installer, READY_MARKER};
use racetrack_plugins::{HookArgs, PluginEngine, PluginInfo, PluginStatus};
use serde_json::Value;

const CLI: &str = env!("CARGO_BIN_EXE_racetrack-plugin");

static COUNTING: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    COUNTING.read().unwrap_or_else(|p| p.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    COUNTING.write().unwrap_or_else(|p| p.into_inner())
}

impl Area {
    fn venv(&self, id: &str) -> PathBuf {
        self.plugins().join("venvs").join(id)
    }

    fn wheel(&self, wheel: Wheel) -> PathBuf {
        wheel.write_into(&self.wheels())
    }

    fn engine(&self, installer: Installer) -> PluginEngine {
        PluginEngine::builder(self.plugins())
            .installer(installer)
            .offline_wheelhouse(self.wheels())
            .watch_interval(None)
            .build()
            .expect("engine opens")
    }

    /// Runs the CLI on this area, offline, with `installer`.
    fn cli(&self, installer: &str, args: &[&str]) -> Output {
        Command::new(CLI)
            .arg("--plugins-dir")
            .arg(self.plugins())
            .arg("--wheelhouse")
            .arg(self.wheels())
            .args(["--installer", installer])
            .args(args)
            .env_remove("RACETRACK_PLUGINS_DIR")
            .env_remove("RUST_LOG")
            .output()
            .expect("CLI runs")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// One plugin's hook result as JSON.
fn hook(engine: &PluginEngine, plugin: &str, hook: &str) -> Value {
    engine
        .invoke_one(plugin, hook, &HookArgs::new())
        .unwrap_or_else(|e| panic!("{plugin}.{hook} raised: {e}"))
        .unwrap_or_else(|| panic!("{plugin} has no hook {hook}"))
        .value
        .to_json()
        .expect("json result")
}

fn loaded<'a>(infos: &'a [PluginInfo], name: &str) -> &'a PluginInfo {
    let p = info(infos, name);
    assert_eq!(
        p.status,
        PluginStatus::Loaded,
        "{name} did not load: {:?}",
        p.error
    );
    p
}

/// `__file__` reported by a hook, checked to lie inside `venv`.
fn assert_from_venv(file: &Value, venv: &Path) {
    let file = PathBuf::from(file.as_str().expect("__file__ is a string"));
    let file = file.canonicalize().unwrap_or(file);
    assert!(
        file.starts_with(venv),
        "{} is not inside the plugin's venv {}",
        file.display(),
        venv.display()
    );
}

/// A plugin importing `eager` at module level and `lazy` (and `lazy.helper`) only
/// inside a hook; `where` and `lazy` report versions and `__file__`s.
fn importing_plugin(name: &str, version: &str, eager: &str, lazy: &str) -> PluginSrc {
    PluginSrc::new(name, version)
        .file("requirements.txt", &format!("{eager}==1.2\n{lazy}>=0.5\n"))
        .plugin_py(&format!(
            "import {eager}\n\
             \n\
             class Plugin:\n\
             \x20   def eager(self):\n\
             \x20       return {{'version': {eager}.VERSION, 'file': {eager}.__file__}}\n\
             \n\
             \x20   def lazy(self):\n\
             \x20       import {lazy}\n\
             \x20       from {lazy} import helper\n\
             \x20       return {{'version': {lazy}.VERSION, 'file': {lazy}.__file__,\n\
             \x20               'helper': helper.__file__, 'answer': helper.answer()}}\n"
        ))
}

/// The wheels `importing_plugin` needs.
fn importing_wheels(area: &Area, eager: &str, lazy: &str) {
    area.wheel(Wheel::new(eager, "1.2"));
    area.wheel(Wheel::new(eager, "0.9")); // not chosen: the pin says 1.2
    area.wheel(Wheel::new(lazy, "0.7").module("helper", "def answer():\n    return 42\n"));
}

// 1. Module-level and lazy imports resolve in the plugin's own venv.

fn imports_come_from_the_venv(installer: Installer) {
    let _g = shared();
    let area = Area::new();
    let eager = format!("rted_eager_{installer}");
    let lazy = format!("rted_lazy_{installer}");
    importing_wheels(&area, &eager, &lazy);
    importing_plugin("importer", "1.0.0", &eager, &lazy).write_into(&area.plugins());

    let engine = area.engine(installer);
    let infos = engine.plugins();
    let p = loaded(&infos, "importer");
    let venv = area.venv("importer-1.0.0");
    assert_eq!(p.venv.as_deref(), Some(venv.as_path()));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert!(venv.join(READY_MARKER).is_file());

    let eager_out = hook(&engine, "importer", "eager");
    assert_eq!(eager_out["version"], "1.2");
    assert_from_venv(&eager_out["file"], &venv);

    let lazy_out = hook(&engine, "importer", "lazy");
    assert_eq!(lazy_out["version"], "0.7");
    assert_eq!(lazy_out["answer"], 42);
    assert_from_venv(&lazy_out["file"], &venv);
    assert_from_venv(&lazy_out["helper"], &venv);
}

#[test]
fn pip_module_level_and_lazy_imports_come_from_the_venv() {
    imports_come_from_the_venv(Installer::Pip);
}

#[test]
fn uv_module_level_and_lazy_imports_come_from_the_venv() {
    if !uv_available("uv_module_level_and_lazy_imports_come_from_the_venv") {
        return;
    }
    imports_come_from_the_venv(Installer::Uv);
}

// 2. Two plugins pinning different versions of one package.

fn assert_conflict_warning(warnings: &[String]) {
    let all = warnings.join("\n");
    assert_eq!(warnings.len(), 1, "{all}");
    assert!(
        all.contains("rted-pinned") || all.contains("rted_pinned"),
        "names the package: {all}"
    );
    for needle in ["alpha-1.0.0", "beta-3.0.0", "1.1", "2.2"] {
        assert!(all.contains(needle), "warning lacks {needle:?}: {all}");
    }
}

#[test]
fn conflicting_pins_load_both_and_warn_on_both() {
    let _g = shared();
    let area = Area::new();
    area.wheel(Wheel::new("rted_pinned", "1.1"));
    area.wheel(Wheel::new("rted_pinned", "2.2"));
    for (name, version, pin) in [("alpha", "1.0.0", "1.1"), ("beta", "3.0.0", "2.2")] {
        simple_plugin(name, version, "    def ping(self):\n        return 'pong'")
            .file("requirements.txt", &format!("rted_pinned=={pin}\n"))
            .write_into(&area.plugins());
    }

    let engine = area.engine(Installer::Auto);
    let infos = engine.plugins();
    for name in ["alpha", "beta"] {
        let p = loaded(&infos, name);
        assert_conflict_warning(&p.warnings);
        assert_eq!(hook(&engine, name, "ping"), "pong");
    }
    // Each pin is installed in its own venv.
    for (id, version) in [("alpha-1.0.0", "1.1"), ("beta-3.0.0", "2.2")] {
        let site = deps::installed_distributions(&lib_site_packages(&area.venv(id)));
        assert!(
            site.iter()
                .any(|d| d.name == "rted-pinned" && d.version == version),
            "{id}: {site:?}"
        );
    }
    drop(engine);

    // The CLI shows the same warnings (it reuses the venvs: same installer options).
    let out = area.cli("auto", &["list", "--json"]);
    assert_success(&out, "list --json");
    let listed: Value = serde_json::from_slice(&out.stdout).expect("list --json is JSON");
    let listed = listed.as_array().expect("array");
    assert_eq!(listed.len(), 2, "{listed:?}");
    for entry in listed {
        let warnings: Vec<String> = entry["warnings"]
            .as_array()
            .expect("warnings array")
            .iter()
            .map(|w| w.as_str().expect("string").to_owned())
            .collect();
        assert_conflict_warning(&warnings);
        let id = format!(
            "{}-{}",
            entry["name"].as_str().unwrap(),
            entry["version"].as_str().unwrap()
        );
        assert_eq!(
            entry["venv"].as_str().map(PathBuf::from),
            Some(area.venv(&id))
        );
        assert_eq!(entry["status"], "loaded");
    }
}

/// `<venv>/lib/python*/site-packages`.
fn lib_site_packages(venv: &Path) -> PathBuf {
    fs::read_dir(venv.join("lib"))
        .expect("venv has lib/")
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
        .expect("venv has site-packages")
}

// 3. A package missing from the wheelhouse fails only its plugin.

fn missing_package_fails_only_its_plugin(installer: Installer) {
    let _g = shared();
    let area = Area::new();
    let present = format!("rted_present_{installer}");
    area.wheel(Wheel::new(&present, "1.0"));
    simple_plugin(
        "broken",
        "1.0.0",
        "    def ping(self):\n        return 'broken'",
    )
    .file(
        "requirements.txt",
        &format!("{present}\nrted_absent_package==3.0\n"),
    )
    .write_into(&area.plugins());
    simple_plugin(
        "fine",
        "1.0.0",
        &format!("    def ping(self):\n        import {present}\n        return {present}.VERSION"),
    )
    .file("requirements.txt", &format!("{present}\n"))
    .write_into(&area.plugins());
    simple_plugin(
        "nodeps",
        "1.0.0",
        "    def ping(self):\n        return 'nodeps'",
    )
    .write_into(&area.plugins());

    let engine = area.engine(installer);
    let infos = engine.plugins();
    let broken = info(&infos, "broken");
    assert_eq!(broken.status, PluginStatus::Failed);
    let error = broken.error.as_ref().expect("an error");
    assert_eq!(error.kind(), racetrack_plugins::LoadErrorKind::Deps);
    let error = error.report();
    eprintln!("{installer}: the broken plugin's error reads:\n{error}");
    assert!(
        error.contains(&format!(
            "installing its requirements with {installer} failed"
        )),
        "{error}"
    );
    assert!(
        error.contains("rted_absent_package") || error.contains("rted-absent-package"),
        "the installer's message names the package: {error}"
    );
    assert_eq!(broken.venv, None);
    assert!(
        !area.venv("broken-1.0.0").exists(),
        "the failed venv is cleaned up"
    );

    assert_eq!(
        loaded(&infos, "fine").venv.as_deref(),
        Some(area.venv("fine-1.0.0").as_path())
    );
    assert_eq!(loaded(&infos, "nodeps").venv, None);
    assert_eq!(hook(&engine, "fine", "ping"), "1.0");
    assert_eq!(hook(&engine, "nodeps", "ping"), "nodeps");
    assert_eq!(names(&engine), vec!["fine", "nodeps"]);
}

#[test]
fn pip_missing_package_fails_only_its_plugin() {
    missing_package_fails_only_its_plugin(Installer::Pip);
}

#[test]
fn uv_missing_package_fails_only_its_plugin() {
    if !uv_available("uv_missing_package_fails_only_its_plugin") {
        return;
    }
    missing_package_fails_only_its_plugin(Installer::Uv);
}

// 4. A warm restart runs no installer.

fn warm_restart_runs_no_installer(installer: Installer) {
    let area = Area::new();
    let eager = format!("rted_warm_eager_{installer}");
    let lazy = format!("rted_warm_lazy_{installer}");
    importing_wheels(&area, &eager, &lazy);
    importing_plugin("warm", "1.0.0", &eager, &lazy).write_into(&area.plugins());

    {
        let _g = shared();
        let before = deps::installer_runs();
        let engine = area.engine(installer);
        loaded(&engine.plugins(), "warm");
        assert!(
            deps::installer_runs() > before,
            "the cold start installs requirements"
        );
    }

    let _g = exclusive();
    let runs = deps::installer_runs();
    let children = deps::child_processes();
    let engine = area.engine(installer);
    assert_eq!(
        deps::installer_runs(),
        runs,
        "a warm restart must not run the installer"
    );
    assert_eq!(
        deps::child_processes(),
        children,
        "a warm restart must start no process at all"
    );
    let infos = engine.plugins();
    let venv = area.venv("warm-1.0.0");
    assert_eq!(loaded(&infos, "warm").venv.as_deref(), Some(venv.as_path()));
    assert_from_venv(&hook(&engine, "warm", "eager")["file"], &venv);
    assert_eq!(hook(&engine, "warm", "lazy")["answer"], 42);

    // An explicit reload of the same engine does not install either.
    engine.reload();
    assert_eq!(deps::installer_runs(), runs);
    loaded(&engine.plugins(), "warm");
}

#[test]
fn pip_warm_restart_runs_no_installer() {
    warm_restart_runs_no_installer(Installer::Pip);
}

#[test]
fn uv_warm_restart_runs_no_installer() {
    if !uv_available("uv_warm_restart_runs_no_installer") {
        return;
    }
    warm_restart_runs_no_installer(Installer::Uv);
}

// 5. Half-built venvs are rebuilt on the next start.

fn half_built_venvs_are_rebuilt(installer: Installer) {
    let _g = shared();
    let area = Area::new();
    let pkg = format!("rted_half_{installer}");
    area.wheel(Wheel::new(&pkg, "1.0"));
    let body = format!(
        "    def ping(self):\n        import {pkg}\n        return [{pkg}.VERSION, {pkg}.__file__]"
    );
    for name in ["markerless", "junky"] {
        simple_plugin(name, "1.0.0", &body)
            .file("requirements.txt", &format!("{pkg}==1.0\n"))
            .write_into(&area.plugins());
    }

    // `junky` never got a venv, but a crashed build left junk where it goes.
    let junky = area.venv("junky-1.0.0");
    fs::create_dir_all(junky.join("lib/python3/site-packages/half")).expect("mkdir junk");
    fs::write(junky.join("leftover.txt"), "from a crashed install").expect("write junk");

    // `markerless` is built once, then loses its marker (a kill between install
    // and marker).
    let markerless = area.venv("markerless-1.0.0");
    {
        let engine = area.engine(installer);
        let infos = engine.plugins();
        loaded(&infos, "markerless");
        loaded(&infos, "junky");
    }
    assert!(!junky.join("leftover.txt").exists(), "junk was wiped");
    assert!(junky.join(READY_MARKER).is_file());
    fs::remove_file(markerless.join(READY_MARKER)).expect("rm marker");
    fs::write(markerless.join("sentinel.txt"), "from the first build").expect("write sentinel");
    // And junk again for `junky`: a folder with no marker at all.
    fs::remove_dir_all(&junky).expect("rm junky venv");
    fs::create_dir_all(&junky).expect("mkdir");
    fs::write(junky.join("leftover.txt"), "half").expect("write junk");

    let before = deps::installer_runs();
    let engine = area.engine(installer);
    assert!(
        deps::installer_runs() >= before + 2,
        "both venvs were rebuilt"
    );
    let infos = engine.plugins();
    for (name, venv) in [("markerless", &markerless), ("junky", &junky)] {
        assert_eq!(loaded(&infos, name).venv.as_deref(), Some(venv.as_path()));
        assert!(venv.join(READY_MARKER).is_file(), "{name} is marked ready");
        let out = hook(&engine, name, "ping");
        assert_eq!(out[0], "1.0");
    }
    assert!(
        !markerless.join("sentinel.txt").exists(),
        "rebuilt from scratch"
    );
    assert!(!junky.join("leftover.txt").exists(), "rebuilt from scratch");
}

#[test]
fn pip_half_built_venvs_are_rebuilt() {
    half_built_venvs_are_rebuilt(Installer::Pip);
}

#[test]
fn uv_half_built_venvs_are_rebuilt() {
    if !uv_available("uv_half_built_venvs_are_rebuilt") {
        return;
    }
    half_built_venvs_are_rebuilt(Installer::Uv);
}

// 7. The CLI: venv column, rebuild-venv, bad --installer.

#[cfg(unix)]
fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).expect("metadata").ino()
}

fn cli_venv_commands(installer: &str, pkg: &str) {
    let area = Area::new();
    area.wheel(Wheel::new(pkg, "1.0"));
    for version in ["1.0.0", "2.0.0"] {
        simple_plugin(
            "clitool",
            version,
            &format!("    def where(self):\n        import {pkg}\n        return {pkg}.__file__"),
        )
        .file("requirements.txt", &format!("{pkg}\n"))
        .write_into(&area.plugins());
    }
    let v1 = area.venv("clitool-1.0.0");
    let v2 = area.venv("clitool-2.0.0");

    // `list` builds the venvs and shows where they are.
    let out = area.cli(installer, &["list"]);
    assert_success(&out, "list");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("VENV"), "{stdout}");
    for venv in [&v1, &v2] {
        assert!(stdout.contains(&venv.display().to_string()), "{stdout}");
        assert!(venv.join(READY_MARKER).is_file());
    }

    // Hooks run from the venv.
    let out = area.cli(installer, &["call", "where", "--json"]);
    assert_success(&out, "call where");
    let rows: Value = serde_json::from_slice(&out.stdout).expect("call --json is JSON");
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Both versions need the same package; the one interpreter imports it once, from
    // whichever venv comes first.
    assert_eq!(rows[0]["result"], rows[1]["result"]);
    assert_from_venv(&rows[0]["result"], &area.plugins().join("venvs"));

    // Sentinels prove which venvs get rebuilt.
    let sentinel = "sentinel.txt";
    fs::write(v1.join(sentinel), "1").expect("sentinel");
    fs::write(v2.join(sentinel), "2").expect("sentinel");
    #[cfg(unix)]
    let v2_marker = inode(&v2.join(READY_MARKER));

    let out = area.cli(installer, &["rebuild-venv", "clitool", "1.0.0"]);
    assert_success(&out, "rebuild-venv clitool 1.0.0");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("Rebuilt venv of clitool 1.0.0: {}", v1.display())),
        "{stdout}"
    );
    assert!(!v1.join(sentinel).exists(), "1.0.0's venv was rebuilt");
    assert!(v1.join(READY_MARKER).is_file());
    assert!(v2.join(sentinel).exists(), "2.0.0's venv was left alone");
    #[cfg(unix)]
    assert_eq!(inode(&v2.join(READY_MARKER)), v2_marker);

    // Without a version: every version.
    let out = area.cli(installer, &["rebuild-venv", "clitool"]);
    assert_success(&out, "rebuild-venv clitool");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Rebuilt venv of clitool 1.0.0"), "{stdout}");
    assert!(stdout.contains("Rebuilt venv of clitool 2.0.0"), "{stdout}");
    assert!(!v2.join(sentinel).exists(), "2.0.0's venv was rebuilt");
    for venv in [&v1, &v2] {
        assert!(venv.join(READY_MARKER).is_file());
    }
    let out = area.cli(installer, &["call", "where", "--plugin", "clitool"]);
    assert_success(&out, "call after rebuild");

    // An unknown plugin is an error, not a usage error.
    let out = area.cli(installer, &["rebuild-venv", "nosuch"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn cli_pip_list_shows_venvs_and_rebuild_venv_rebuilds() {
    cli_venv_commands("pip", "rted_cli_pip");
}

#[test]
fn cli_uv_list_shows_venvs_and_rebuild_venv_rebuilds() {
    if !uv_available("cli_uv_list_shows_venvs_and_rebuild_venv_rebuilds") {
        return;
    }
    cli_venv_commands("uv", "rted_cli_uv");
}

#[test]
fn cli_rejects_an_unknown_installer() {
    let area = Area::new();
    for args in [&["list"][..], &["rebuild-venv", "x"][..]] {
        let out = area.cli("bogus", args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "stdout: {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let stderr = text(&out.stderr);
        assert!(stderr.contains("bogus"), "{stderr}");
    }
}

#[test]
fn cli_list_without_requirements_shows_no_venv() {
    let area = Area::new();
    simple_plugin("plain", "1.0.0", "    def ping(self):\n        return 1")
        .write_into(&area.plugins());
    let out = area.cli("pip", &["list"]);
    assert_success(&out, "list");
    let stdout = text(&out.stdout);
    let row = stdout
        .lines()
        .find(|l| l.starts_with("plain "))
        .unwrap_or_else(|| panic!("no row for plain: {stdout}"));
    assert!(row.trim_end().ends_with(" -"), "{row}");
    assert!(!area.plugins().join("venvs").join("plain-1.0.0").exists());
}

// 8. Uploading a plugin with requirements, then deleting it.

fn upload_then_delete(installer: Installer) {
    let _g = shared();
    let area = Area::new();
    let eager = format!("rted_up_eager_{installer}");
    let lazy = format!("rted_up_lazy_{installer}");
    importing_wheels(&area, &eager, &lazy);
    // A submodule of the eagerly imported package, imported only in a hook.
    area.wheel(Wheel::new(&eager, "1.2").module("extra", "VALUE = 'extra'\n"));
    let src = importing_plugin("uploaded", "1.0.0", &eager, &lazy).file(
        "plugin.py",
        &format!(
            "import {eager}\n\
             \n\
             class Plugin:\n\
             \x20   def eager(self):\n\
             \x20       from {eager} import extra\n\
             \x20       return {{'version': {eager}.VERSION, 'file': {eager}.__file__,\n\
             \x20               'extra': extra.VALUE, 'extra_file': extra.__file__}}\n\
             \n\
             \x20   def lazy(self):\n\
             \x20       import {lazy}\n\
             \x20       from {lazy} import helper\n\
             \x20       return {{'version': {lazy}.VERSION, 'file': {lazy}.__file__,\n\
             \x20               'helper': helper.__file__, 'answer': helper.answer()}}\n"
        ),
    );

    let engine = area.engine(installer);
    assert!(engine.plugins().is_empty());
    let manifest = engine
        .upload_plugin(&src.file_name(), &src.zip_bytes(), false)
        .expect("upload succeeds");
    assert_eq!(manifest.id(), "uploaded-1.0.0");

    let venv = area.venv("uploaded-1.0.0");
    let infos = engine.plugins();
    assert_eq!(
        loaded(&infos, "uploaded").venv.as_deref(),
        Some(venv.as_path())
    );
    assert!(venv.join(READY_MARKER).is_file());
    let eager_out = hook(&engine, "uploaded", "eager");
    assert_eq!(eager_out["version"], "1.2");
    assert_eq!(eager_out["extra"], "extra");
    assert_from_venv(&eager_out["file"], &venv);
    assert_from_venv(&eager_out["extra_file"], &venv);
    let lazy_out = hook(&engine, "uploaded", "lazy");
    assert_eq!(lazy_out["answer"], 42);
    assert_from_venv(&lazy_out["file"], &venv);

    // Nothing of the staging area is left behind.
    let staging: Vec<PathBuf> = walk(&area.plugins())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("upload-"))
        .collect();
    assert!(staging.is_empty(), "staging leftovers: {staging:?}");

    let removed = engine
        .delete_plugin("uploaded", None, false)
        .expect("delete succeeds");
    assert_eq!(removed.len(), 1);
    assert!(!venv.exists(), "the plugin's venv is deleted with it");
    assert!(engine.plugins().is_empty());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // Venvs are big and not of interest here.
        if path.file_name().is_some_and(|n| n == "venvs") {
            continue;
        }
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn pip_uploaded_plugin_gets_its_venv_and_delete_removes_it() {
    upload_then_delete(Installer::Pip);
}

#[test]
fn uv_uploaded_plugin_gets_its_venv_and_delete_removes_it() {
    if !uv_available("uv_uploaded_plugin_gets_its_venv_and_delete_removes_it") {
        return;
    }
    upload_then_delete(Installer::Uv);
}

#[test]
fn wheelhouse_helper_writes_installable_wheels() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let paths = write_wheelhouse(
        tmp.path(),
        &[("rted_helper_a", "1.0"), ("rted_helper_b", "2.0")],
    );
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec![
            "rted_helper_a-1.0-py3-none-any.whl",
            "rted_helper_b-2.0-py3-none-any.whl"
        ]
    );
    let archive = zip::ZipArchive::new(fs::File::open(&paths[0]).expect("open")).expect("zip");
    let entries: Vec<String> = archive
        .file_names()
        .map(|n| n.expect("entry name").into_owned())
        .collect();
    for wanted in [
        "rted_helper_a/__init__.py",
        "rted_helper_a-1.0.dist-info/METADATA",
        "rted_helper_a-1.0.dist-info/WHEEL",
        "rted_helper_a-1.0.dist-info/RECORD",
    ] {
        assert!(entries.iter().any(|e| e == wanted), "{entries:?}");
    }
}

// A dependency upgraded in a running process: the interpreter keeps the module it
// already imported, so the new version is not used until restart, and the plugin says so.
#[test]
fn upgraded_dependency_in_a_running_process_is_reported() {
    let _g = shared();
    let area = Area::new();
    let pkg = "rted_upgraded_dep";
    area.wheel(Wheel::new(pkg, "1.0"));
    area.wheel(Wheel::new(pkg, "2.0"));
    let plugin = |version: &str, pin: &str| {
        PluginSrc::new("upgrader", version)
            .file("requirements.txt", &format!("{pkg}=={pin}\n"))
            .plugin_py(&format!(
                "import {pkg}\nclass Plugin:\n    def dep(self):\n        return {pkg}.VERSION\n"
            ))
    };
    let engine = area.engine(Installer::Pip);
    let v1 = plugin("1.0.0", "1.0");
    engine
        .upload_plugin(&v1.file_name(), &v1.zip_bytes(), false)
        .expect("v1");
    assert_eq!(hook(&engine, "upgrader", "dep"), "1.0");
    assert!(loaded(&engine.plugins(), "upgrader").warnings.is_empty());

    let v2 = plugin("2.0.0", "2.0");
    engine
        .upload_plugin(&v2.file_name(), &v2.zip_bytes(), true)
        .expect("v2");
    let infos = engine.plugins();
    let info = loaded(&infos, "upgrader");
    assert_eq!(info.version, "2.0.0");
    let warning = info.warnings.join("\n");
    assert!(
        warning.contains(pkg)
            && warning.contains("2.0")
            && warning.contains("1.0")
            && warning.contains("restart"),
        "{warning}"
    );
    // The deleted version's site dir left sys.path with it.
    use pyo3::prelude::*;
    let old_site = area.venv("upgrader-1.0.0").display().to_string();
    let on_path: Vec<String> = Python::attach(|py| {
        py.import("sys")
            .unwrap()
            .getattr("path")
            .unwrap()
            .extract()
            .unwrap()
    });
    assert!(
        !on_path.iter().any(|p| p.starts_with(&old_site)),
        "{on_path:?}"
    );

    // A fresh process (engine built where the module was never imported) uses 2.0 — the
    // CLI runs in a new process.
    let out = area.cli("pip", &["call", "dep", "--json"]);
    assert_success(&out, "call dep");
    let results: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(results[0]["result"], "2.0");
}

// 8. Rebuilding a venv waits for whoever builds it (the builders' lock).

#[test]
fn rebuild_venv_does_not_remove_a_venv_being_built() {
    let _g = shared();
    let area = Area::new();
    let (eager, lazy) = ("rted_lockwait_eager", "rted_lockwait_lazy");
    importing_wheels(&area, eager, lazy);
    importing_plugin("lockwait", "1.0.0", eager, lazy).write_into(&area.plugins());
    loaded(&area.engine(Installer::Pip).plugins(), "lockwait");
    // Warm now; this engine waits at most a second for a venv's builders.
    let engine = PluginEngine::builder(area.plugins())
        .installer(Installer::Pip)
        .offline_wheelhouse(area.wheels())
        .installer_timeout(std::time::Duration::from_secs(1))
        .watch_interval(None)
        .build()
        .expect("engine opens");
    loaded(&engine.plugins(), "lockwait");
    let venv = area.venv("lockwait-1.0.0");

    // Another process building this venv holds its builders' lock.
    let lock_file = area.plugins().join("venvs/.lockwait-1.0.0.lock");
    let held = fs::File::options()
        .read(true)
        .write(true)
        .open(&lock_file)
        .expect("the build left its lock file");
    held.lock().expect("lock as another builder");
    let error = engine
        .rebuild_venv("lockwait", None)
        .expect_err("the venv is being built elsewhere");
    let report = error.report();
    assert!(
        report.contains("lockwait-1.0.0") && report.contains("1s"),
        "{report}"
    );
    assert!(
        venv.join(READY_MARKER).is_file(),
        "the venv was removed under its builder"
    );

    held.unlock().expect("unlock");
    let infos = area
        .engine(Installer::Pip)
        .rebuild_venv("lockwait", None)
        .expect("rebuilt");
    assert_eq!(infos.len(), 1);
    assert_eq!(
        infos[0].status,
        PluginStatus::Loaded,
        "{:?}",
        infos[0].error
    );
    assert!(venv.join(READY_MARKER).is_file());
}

// Standard-library precedence and private siblings inside libraries (#13, items 2, 3).

#[test]
fn a_venv_package_named_like_a_stdlib_module_breaks_no_other_plugin() {
    let _g = shared();
    let area = Area::new();
    // A "backport" of a standard-library module that lacks what the real one has.
    area.wheel(Wheel::new("colorsys", "9.9").file("colorsys/__init__.py", "BACKPORT = True\n"));
    PluginSrc::new("backported", "1.0.0")
        .plugin_py("import colorsys\nclass Plugin:\n    def which(self):\n        return hasattr(colorsys, 'BACKPORT')\n")
        .file("requirements.txt", "colorsys\n")
        .write_into(&area.plugins());
    simple_plugin(
        "plain",
        "1.0.0",
        "    def hsv(self):\n        import colorsys\n        return colorsys.rgb_to_hsv(1.0, 0.0, 0.0)",
    )
    .priority(1)
    .write_into(&area.plugins());
    let engine = area.engine(Installer::Pip);

    let infos = engine.plugins();
    let backported = info(&infos, "backported");
    assert_eq!(backported.status, PluginStatus::Loaded, "{backported:?}");
    assert!(
        backported
            .warnings
            .iter()
            .any(|w| w.contains("package colorsys 9.9") && w.contains("standard library")),
        "{:?}",
        backported.warnings
    );
    assert_eq!(hook(&engine, "backported", "which"), Value::Bool(false));
    assert_eq!(
        hook(&engine, "plain", "hsv"),
        serde_json::json!([0.0, 1.0, 1.0])
    );
}

#[test]
fn a_library_first_imported_by_a_plugin_does_not_get_the_plugins_sibling() {
    let _g = shared();
    let area = Area::new();
    // The library imports a module of its own distribution, as jsonpatch imports
    // jsonpointer; the plugin ships a sibling of the same name.
    area.wheel(
        Wheel::new("rtsib_lib", "1.0")
            .file(
                "rtsib_lib/__init__.py",
                "import rtsib_helper\nimport tabnanny\nHELPER = rtsib_helper.WHO\nCHECK = tabnanny.check.__name__\n",
            )
            .file("rtsib_helper.py", "WHO = 'library'\n"),
    );
    // Imported while the plugin loads, the moment its folder is on `sys.path`.
    PluginSrc::new("sibling", "1.0.0")
        .plugin_py(
            "import rtsib_lib, rtsib_helper, tabnanny\nclass Plugin:\n    def who(self):\n        return [rtsib_lib.HELPER, rtsib_helper.WHO, tabnanny.WHO, rtsib_lib.CHECK]\n",
        )
        .file("requirements.txt", "rtsib_lib\n")
        .file("rtsib_helper.py", "WHO = 'plugin'\n")
        .file("tabnanny.py", "WHO = 'plugin tabnanny'\n")
        .write_into(&area.plugins());
    let engine = area.engine(Installer::Pip);
    let infos = engine.plugins();
    let loaded = info(&infos, "sibling");
    assert_eq!(loaded.status, PluginStatus::Loaded, "{loaded:?}");
    assert_eq!(
        hook(&engine, "sibling", "who"),
        serde_json::json!(["library", "plugin", "plugin tabnanny", "check"])
    );
}

#[test]
fn a_venv_package_the_host_already_has_is_the_hosts_with_a_warning() {
    let _g = shared();
    let area = Area::new();
    // The host provides rtshadow_host 1.0 (a folder on its sys.path, with metadata);
    // the plugin's venv gets 2.0.
    let host = area.root.join("host-packages");
    fs::create_dir_all(host.join("rtshadow_host")).unwrap();
    fs::write(
        host.join("rtshadow_host/__init__.py"),
        "VERSION = 'host 1.0'\n",
    )
    .unwrap();
    fs::create_dir_all(host.join("rtshadow_host-1.0.dist-info")).unwrap();
    fs::write(
        host.join("rtshadow_host-1.0.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: rtshadow_host\nVersion: 1.0\n",
    )
    .unwrap();
    area.wheel(Wheel::new("rtshadow_host", "2.0"));
    simple_plugin(
        "shadowed",
        "1.0.0",
        "    def which(self):\n        import rtshadow_host\n        return rtshadow_host.VERSION",
    )
    .file("requirements.txt", "rtshadow_host==2.0\n")
    .write_into(&area.plugins());
    let engine = PluginEngine::builder(area.plugins())
        .installer(Installer::Pip)
        .offline_wheelhouse(area.wheels())
        .python_path([host.clone()])
        .watch_interval(None)
        .build()
        .expect("engine opens");
    let infos = engine.plugins();
    let shadowed = info(&infos, "shadowed");
    assert_eq!(shadowed.status, PluginStatus::Loaded, "{shadowed:?}");
    assert!(
        shadowed
            .warnings
            .iter()
            .any(|w| w.contains("package rtshadow_host 2.0")
                && w.contains("version 1.0")
                && w.contains("comes first")),
        "{:?}",
        shadowed.warnings
    );
    assert_eq!(hook(&engine, "shadowed", "which"), "host 1.0");
}
