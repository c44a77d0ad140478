//! Venvs over a plugin's life: made by an upload and removed by a delete, a dependency
//! upgraded under a running process, a rebuild while another build runs; and the
//! wheelhouse helper these tests build on.

use super::*;

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
