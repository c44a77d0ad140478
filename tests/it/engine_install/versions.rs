//! Upgrades, replacements and deletes: which versions stay, what a delete removes.

use super::*;

#[test]
fn upgrade_keeps_config_and_replace_removes_old_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let engine = engine(dir);
    let v1 = versioned("1.0.0");
    let manifest = engine
        .upload_plugin(&v1.file_name(), &v1.zip_bytes(), false)
        .unwrap();
    assert_eq!(
        (manifest.name.as_str(), manifest.version.as_str()),
        ("tool", "1.0.0")
    );
    engine
        .write_plugin_config("tool", "1.0.0", "threshold: 5\n")
        .unwrap();
    assert_eq!(
        engine.read_plugin_config("tool", "1.0.0").unwrap(),
        "threshold: 5\n"
    );

    // Reinstalling the same version replaces it, and the config stays.
    engine
        .upload_plugin(&v1.file_name(), &v1.zip_bytes(), false)
        .unwrap();
    assert_eq!(
        call_json(&engine, "current_config", &HookArgs::new())[0].1,
        "threshold: 5\n"
    );

    // A second version without replace: both are active.
    let v2 = versioned("2.0.0");
    engine
        .upload_plugin("any-name.zip", &v2.zip_bytes(), false)
        .unwrap();
    assert_eq!(versions(&engine), vec!["1.0.0", "2.0.0"]);
    assert!(
        dir.join("tool-2.0.0.zip").is_file(),
        "stored under <name>-<version>.zip"
    );

    // Replace: older versions go, their config stays on disk.
    let v3 = versioned("3.0.0");
    engine
        .upload_plugin(&v3.file_name(), &v3.zip_bytes(), true)
        .unwrap();
    assert_eq!(versions(&engine), vec!["3.0.0"]);
    assert!(!dir.join("tool-1.0.0.zip").exists());
    assert!(!dir.join("extracted/tool-1.0.0").exists());
    assert!(dir.join("config/tool-1.0.0/config.yaml").is_file());
}

#[test]
fn failed_upload_leaves_previous_version_active() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let engine = engine(dir);
    let good = versioned("1.0.0");
    engine
        .upload_plugin(&good.file_name(), &good.zip_bytes(), false)
        .unwrap();
    let zip_before = fs::read(dir.join("tool-1.0.0.zip")).unwrap();

    // Same name and version, code that raises on import.
    let broken = PluginSrc::new("tool", "1.0.0").plugin_py("raise RuntimeError('broken build')\n");
    let err = engine
        .upload_plugin("tool-1.0.0.zip", &broken.zip_bytes(), true)
        .unwrap_err();
    // The message says what was refused; the cause follows in the report (the
    // error's source chain), once.
    let text = err.report();
    match &err {
        EngineError::UploadRejected { error, .. } => {
            assert_eq!(error.kind(), racetrack_plugins::LoadErrorKind::Import);
            assert!(!err.to_string().contains("broken build"), "{err}");
        }
        other => panic!("expected an upload rejection, got {other:?}"),
    }
    assert!(
        text.contains("tool-1.0.0.zip") && text.contains("RuntimeError: broken build"),
        "{text}"
    );
    assert_eq!(text.matches("nothing was installed").count(), 1, "{text}");
    assert_eq!(fs::read(dir.join("tool-1.0.0.zip")).unwrap(), zip_before);
    assert_eq!(versions(&engine), vec!["1.0.0"]);
    assert_eq!(
        versions(
            &racetrack_plugins::PluginEngine::builder(dir)
                .watch_interval(None)
                .build()
                .unwrap()
        ),
        vec!["1.0.0"]
    );

    // A newer version that fails with replace=true must not remove the old one.
    let broken2 = PluginSrc::new("tool", "2.0.0").plugin_py("class Nope: pass\n");
    assert!(engine
        .upload_plugin("tool-2.0.0.zip", &broken2.zip_bytes(), true)
        .is_err());
    assert_eq!(versions(&engine), vec!["1.0.0"]);
    assert!(!dir.join("tool-2.0.0.zip").exists());
    assert!(!dir.join("extracted/tool-2.0.0").exists());

    // Invalid manifest, not a zip, wrong extension.
    let bad_manifest = PluginSrc::new("tool", "1.0.0")
        .manifest_line("colour: red")
        .plugin_py("class Plugin: pass\n");
    let err = engine
        .upload_plugin("upload.zip", &bad_manifest.zip_bytes(), false)
        .unwrap_err();
    assert!(
        err.to_string().contains("upload.zip") && err.to_string().contains("colour"),
        "{err}"
    );
    let err = engine
        .upload_plugin("junk.zip", b"not a zip", false)
        .unwrap_err();
    assert!(err.to_string().contains("junk.zip"), "{err}");
    let err = engine
        .upload_plugin("plugin.tar.gz", &good.zip_bytes(), false)
        .unwrap_err();
    assert!(matches!(err, EngineError::NotAZip { .. }), "{err}");
    assert_eq!(versions(&engine), vec!["1.0.0"]);
    let leftovers: Vec<_> = fs::read_dir(dir.join("state/staging")).unwrap().collect();
    assert!(
        leftovers.is_empty(),
        "staging areas are cleaned up: {leftovers:?}"
    );
}

#[test]
fn delete_removes_what_the_plugin_brought() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let engine = engine(dir);
    for v in ["1", "2"] {
        let src = versioned(v);
        engine
            .upload_plugin(&src.file_name(), &src.zip_bytes(), false)
            .unwrap();
    }
    let other = simple_plugin("other", "1", "    pass");
    engine
        .upload_plugin(&other.file_name(), &other.zip_bytes(), false)
        .unwrap();

    let removed = engine.delete_plugin("tool", Some("1"), false).unwrap();
    assert_eq!(removed.len(), 1);
    assert!(!dir.join("tool-1.zip").exists());
    assert!(!dir.join("extracted/tool-1").exists());
    assert!(
        dir.join("config/tool-1/config.yaml").exists(),
        "config kept unless asked"
    );
    assert_eq!(versions(&engine), vec!["2"]);

    engine.delete_plugin("tool", None, true).unwrap();
    assert!(!dir.join("config/tool-2").exists());
    assert!(versions(&engine).is_empty());
    assert_eq!(names(&engine), vec!["other"]);
    assert!(matches!(
        engine.delete_plugin("tool", None, false),
        Err(EngineError::NotFound { .. })
    ));
}

#[test]
fn a_failed_plugin_can_be_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    PluginSrc::new("crashy", "1")
        .plugin_py("1/0\n")
        .write_into(tmp.path());
    let engine = engine(tmp.path());
    assert_eq!(
        info(&engine.plugins(), "crashy").status,
        PluginStatus::Failed
    );
    engine.delete_plugin("crashy", None, false).unwrap();
    assert!(engine.plugins().is_empty());
    assert!(!tmp.path().join("crashy-1.zip").exists());
}

#[test]
fn one_zip_per_plugin_version() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The same plugin copied in by hand under another name sorting first.
    let old = versioned("1.0.0");
    fs::write(dir.join("a-copy.zip"), old.zip_bytes()).unwrap();
    let canonical = simple_plugin(
        "tool",
        "1.0.0",
        "    def version(self):\n        return 'canonical'",
    );
    canonical.write_into(dir);
    let engine = engine(dir);
    assert_eq!(
        versions(&engine),
        vec!["canonical"],
        "<name>-<version>.zip wins"
    );
    let infos = engine.plugins();
    let dup = infos
        .iter()
        .find(|p| p.zip_path.ends_with("a-copy.zip"))
        .unwrap();
    let error = dup.error.as_ref().expect("the copy failed");
    assert_eq!(error.kind(), racetrack_plugins::LoadErrorKind::Duplicate);
    assert!(error.report().contains("already installed from"), "{dup:?}");

    // An upload of that version leaves one zip for it.
    engine
        .upload_plugin("upload.zip", &old.zip_bytes(), false)
        .unwrap();
    assert!(!dir.join("a-copy.zip").exists());
    assert_eq!(versions(&engine), vec!["1.0.0"]);
    assert!(engine
        .plugins()
        .iter()
        .all(|p| p.status == PluginStatus::Loaded));
}

#[test]
fn a_broken_zip_named_without_version_can_be_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("mystery.zip"), b"garbage").unwrap();
    let engine = engine(tmp.path());
    let infos = engine.plugins();
    assert_eq!(info(&infos, "mystery").status, PluginStatus::Failed);
    engine.delete_plugin("mystery", None, false).unwrap();
    assert!(!tmp.path().join("mystery.zip").exists());
    assert!(engine.plugins().is_empty());
}
