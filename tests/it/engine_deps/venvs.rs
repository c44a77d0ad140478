//! A plugin's requirements through the engine: imports come from its venv, conflicting
//! pins, a missing package, warm restarts and half-built venvs, with pip and uv.

use super::*;

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    COUNTING.write().unwrap_or_else(|p| p.into_inner())
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
