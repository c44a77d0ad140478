//! One upload's outcome: imported once, rolled back when it does not load, failures
//! after the commit point, uploads for another component.

use super::*;

/// A plugin whose `Plugin()` appends a line to `log` (side effects of `__init__`
/// show how often it was imported) and raises when `broken`.
fn counted(version: &str, log: &std::path::Path, broken: bool) -> PluginSrc {
    let fail = if broken {
        "        raise RuntimeError('this build is broken')\n"
    } else {
        ""
    };
    PluginSrc::new("counted", version).plugin_py(&format!(
        "class Plugin:\n    def __init__(self):\n        with open({log:?}, 'a') as f:\n            f.write({version:?} + '\\n')\n{fail}    def version(self):\n        return {version:?}\n",
        log = log.display().to_string(),
    ))
}

fn lines(path: &std::path::Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn an_upload_imports_the_plugin_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let log = tmp.path().join("inits.log");
    let engine = engine(&dir);
    let src = counted("1.0.0", &log, false);
    engine
        .upload_plugin(&src.file_name(), &src.zip_bytes(), false)
        .unwrap();
    assert_eq!(lines(&log), ["1.0.0"], "Plugin() ran once for one upload");
    let answers = call_json(&engine, "version", &HookArgs::new());
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].1, "1.0.0");
}

#[test]
fn a_committed_upload_that_does_not_load_is_rolled_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let log = tmp.path().join("inits.log");
    let engine = engine(&dir);
    let good = counted("1.0.0", &log, false);
    engine
        .upload_plugin(&good.file_name(), &good.zip_bytes(), false)
        .unwrap();
    let generation = engine.generation();

    // The same name and version again, broken: the working one stays.
    let broken = counted("1.0.0", &log, true);
    let err = engine
        .upload_plugin("counted-broken.zip", &broken.zip_bytes(), false)
        .expect_err("a plugin that does not load is refused");
    let report = err.report();
    assert!(
        matches!(err, EngineError::UploadRejected { .. }),
        "{report}"
    );
    assert!(
        report.contains("counted-broken.zip/plugin.py")
            && report.contains("RuntimeError: this build is broken"),
        "{report}"
    );
    assert_eq!(
        fs::read(dir.join("counted-1.0.0.zip")).unwrap(),
        good.zip_bytes()
    );
    let answers = call_json(&engine, "version", &HookArgs::new());
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].1, "1.0.0");
    assert_eq!(
        engine.plugins()[0].status,
        PluginStatus::Loaded,
        "the previous version is back"
    );
    assert_eq!(
        engine.generation(),
        generation + 1,
        "one set swapped in, not the failed one"
    );

    // A new plugin that does not load leaves nothing behind.
    let other = PluginSrc::new("never", "1.0.0").plugin_py("raise ImportError('no driver')\n");
    engine
        .upload_plugin(&other.file_name(), &other.zip_bytes(), false)
        .expect_err("refused");
    assert!(!dir.join("never-1.0.0.zip").exists());
    assert!(!dir.join("extracted/never-1.0.0").exists());
    assert!(!dir.join("config/never-1.0.0").exists());
    let order = fs::read_to_string(dir.join("state/install-order.txt")).unwrap();
    assert_eq!(order.lines().collect::<Vec<_>>(), ["counted-1.0.0"]);
    assert_eq!(engine.plugins().len(), 1);
}

#[test]
fn a_failure_after_the_commit_point_is_reported_as_installed_but() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    fs::create_dir_all(&dir).unwrap();
    let engine = engine(&dir);
    // `last-change.txt` cannot be written (a folder stands in its place), as on a full
    // disk: the change marker fails after the zip went in place.
    fs::create_dir_all(dir.join("last-change.txt/blocked")).unwrap();
    let src = versioned("1.0.0");
    let err = engine
        .upload_plugin(&src.file_name(), &src.zip_bytes(), false)
        .expect_err("the marker cannot be written");
    let report = err.report();
    assert!(
        matches!(err, EngineError::InstalledBut { .. }),
        "not reported as installed: {report}"
    );
    assert!(
        report.starts_with("tool-1.0.0.zip: installed, but ") && report.contains("last-change.txt"),
        "{report}"
    );
    // Truthful: the new code is what is installed and what runs.
    assert_eq!(
        fs::read(dir.join("tool-1.0.0.zip")).unwrap(),
        src.zip_bytes()
    );
    assert_eq!(versions(&engine), vec!["1.0.0"]);
}

#[test]
fn an_upload_for_another_component_is_installed_and_listed_as_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let engine = racetrack_plugins::PluginEngine::builder(&dir)
        .component("lifecycle")
        .watch_interval(None)
        .build()
        .unwrap();
    let src = PluginSrc::new("builder-only", "1.0.0")
        .manifest_line("components: [image-builder]")
        .plugin_py("raise RuntimeError('never imported here')\n");
    engine
        .upload_plugin(&src.file_name(), &src.zip_bytes(), false)
        .unwrap();
    let infos = engine.plugins();
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].status, PluginStatus::Skipped);
    assert!(dir.join("builder-only-1.0.0.zip").is_file());
}
