//! The directory layout, what a plugin sees in `__init__`, failures that stay with
//! their plugin, and plugins meant for another component.

use super::*;

#[test]
fn layout_config_and_change_marker() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let engine = engine(&dir);
    assert!(engine.plugins().is_empty());
    let src = simple_plugin("alpha", "1.0.0", "    pass");
    engine
        .upload_plugin(&src.file_name(), &src.zip_bytes(), false)
        .expect("upload");
    assert!(dir.join("alpha-1.0.0.zip").is_file());
    assert!(dir.join("extracted/alpha-1.0.0/plugin.py").is_file());
    let config = dir.join("config/alpha-1.0.0/config.yaml");
    assert_eq!(fs::read_to_string(&config).unwrap(), "");
    let first = fs::read_to_string(dir.join("last-change.txt")).expect("marker written");

    let other = simple_plugin("beta", "2", "    pass");
    engine
        .upload_plugin(&other.file_name(), &other.zip_bytes(), false)
        .expect("upload");
    let second = fs::read_to_string(dir.join("last-change.txt")).unwrap();
    assert_ne!(first, second, "marker bumped by every install");
    engine.delete_plugin("beta", None, false).expect("delete");
    assert_ne!(
        second,
        fs::read_to_string(dir.join("last-change.txt")).unwrap()
    );
}

#[test]
fn plugin_sees_manifest_dir_and_config_in_init() {
    let tmp = tempfile::tempdir().unwrap();
    let src = PluginSrc::new("introspect", "3.1.4")
        .manifest_line("url: https://example.org/p")
        .manifest_line("category: tests")
        .plugin_py(
            r#"
import pathlib
class Plugin:
    def __init__(self):
        m = self.plugin_manifest
        self.seen = {
            "name": m.name, "version": m.version, "url": m.url, "priority": m.priority,
            "category": m.category,
            "dir_is_path": isinstance(self.plugin_dir, pathlib.Path),
            "config_is_path": isinstance(self.config_path, pathlib.Path),
            "plugin_dir": str(self.plugin_dir),
            "config_path": str(self.config_path),
            "config_text": self.config_path.read_text(),
            "has_plugin_py": (self.plugin_dir / "plugin.py").is_file(),
        }
    def report(self):
        return self.seen
"#,
        );
    src.write_into(tmp.path());
    let engine = engine(tmp.path());
    let results = call_json(&engine, "report", &HookArgs::new());
    let seen = &results[0].1;
    assert_eq!(seen["name"], "introspect");
    assert_eq!(seen["version"], "3.1.4");
    assert_eq!(seen["url"], "https://example.org/p");
    assert_eq!(seen["priority"], 0);
    assert_eq!(seen["category"], "tests");
    assert_eq!(seen["dir_is_path"], true);
    assert_eq!(seen["config_is_path"], true);
    assert_eq!(seen["has_plugin_py"], true);
    assert_eq!(seen["config_text"], "");
    let root = fs::canonicalize(tmp.path()).unwrap();
    assert_eq!(
        seen["plugin_dir"],
        root.join("extracted/introspect-3.1.4")
            .display()
            .to_string()
    );
    assert_eq!(
        seen["config_path"],
        root.join("config/introspect-3.1.4/config.yaml")
            .display()
            .to_string()
    );
}

#[test]
fn bad_plugins_fail_alone_with_clear_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    simple_plugin("good", "1", "    def hello(self):\n        return 'hi'").write_into(dir);
    PluginSrc::new("no-class", "1")
        .plugin_py("class Plugn:\n    pass\n")
        .write_into(dir);
    PluginSrc::new("import-error", "1")
        .plugin_py("import does_not_exist_anywhere\nclass Plugin: pass\n")
        .write_into(dir);
    PluginSrc::new("raising-init", "1")
        .plugin_py("class Plugin:\n    def __init__(self):\n        raise ValueError('config is broken')\n")
        .write_into(dir);
    PluginSrc::new("exiting", "1")
        .plugin_py("import sys\nsys.exit(3)\nclass Plugin: pass\n")
        .write_into(dir);
    PluginSrc::new("syntax", "1")
        .plugin_py("class Plugin(:\n")
        .write_into(dir);
    PluginSrc::new("no-plugin-py", "1")
        .file("other.py", "x = 1\n")
        .write_into(dir);
    PluginSrc::new("unknown-field", "1")
        .manifest_line("prioritty: 3")
        .plugin_py("class Plugin: pass\n")
        .write_into(dir);
    fs::write(dir.join("garbage.zip"), b"this is not a zip").unwrap();
    fs::write(
        dir.join("bad-name.zip"),
        zip_of(&[
            (
                "plugin-manifest.yaml".into(),
                "name: ../../etc\nversion: '1'\n".into(),
            ),
            ("plugin.py".into(), "class Plugin: pass\n".into()),
        ]),
    )
    .unwrap();
    fs::write(
        dir.join("no-manifest.zip"),
        zip_of(&[("plugin.py".into(), "class Plugin: pass\n".into())]),
    )
    .unwrap();

    let engine = engine(dir);
    assert_eq!(names(&engine), vec!["good"]);
    assert_eq!(
        call_json(&engine, "hello", &HookArgs::new()),
        vec![("good".to_string(), serde_json::json!("hi"))]
    );
    let infos = engine.plugins();
    assert_eq!(infos.len(), 11, "{infos:#?}");
    let error_of = |name: &str| {
        let i = info(&infos, name);
        assert_eq!(i.status, PluginStatus::Failed, "{name}: {i:#?}");
        i.error
            .as_ref()
            .expect("failed plugins carry a reason")
            .report()
    };
    let kind_of = |name: &str| info(&infos, name).error.as_ref().map(LoadError::kind);
    assert_eq!(kind_of("no-class"), Some(LoadErrorKind::Import));
    assert_eq!(kind_of("import-error"), Some(LoadErrorKind::Import));
    assert_eq!(kind_of("unknown-field"), Some(LoadErrorKind::Manifest));
    assert_eq!(kind_of("no"), Some(LoadErrorKind::Manifest));
    assert_eq!(kind_of("bad"), Some(LoadErrorKind::Manifest));
    assert_eq!(kind_of("garbage"), Some(LoadErrorKind::Archive));
    assert!(error_of("no-class").contains("no class `Plugin`"));
    let e = error_of("import-error");
    assert!(
        e.contains("ModuleNotFoundError")
            && e.contains("does_not_exist_anywhere")
            && e.contains("Traceback"),
        "{e}"
    );
    let e = error_of("raising-init");
    assert!(
        e.contains("ValueError: config is broken") && e.contains("__init__"),
        "{e}"
    );
    assert!(e.contains("plugin.py\", line 3"), "{e}");
    assert!(
        !e.contains("racetrack_plugins/_") && !e.contains("frozen importlib"),
        "loader frames leak: {e}"
    );
    assert!(error_of("exiting").contains("SystemExit"));
    assert!(error_of("syntax").contains("SyntaxError"));
    assert!(error_of("no-plugin-py").contains("no plugin.py"));
    let e = error_of("unknown-field");
    assert!(
        e.contains("prioritty")
            && e.contains("unknown-field-1.zip")
            && e.contains("expected one of"),
        "{e}"
    );
    let e = error_of("garbage");
    assert!(
        e.contains("garbage.zip") && e.contains("not a valid zip"),
        "{e}"
    );
    let e = error_of("bad");
    assert!(e.contains("bad-name.zip") && e.contains("name"), "{e}");
    let e = error_of("no");
    assert!(
        e.contains("no-manifest.zip") && e.contains("plugin-manifest.yaml"),
        "{e}"
    );
}

#[test]
fn components_skip_plugins_meant_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    PluginSrc::new("builder-only", "1")
        .manifest_line("components: [image-builder]")
        .plugin_py("raise RuntimeError('must not be imported')\n")
        .write_into(dir);
    PluginSrc::new("lifecycle-too", "1")
        .manifest_line("components: [lifecycle, image-builder]")
        .plugin_py("class Plugin: pass\n")
        .write_into(dir);
    simple_plugin("everywhere", "1", "    pass").write_into(dir);
    let engine = PluginEngine::builder(dir)
        .component("lifecycle")
        .watch_interval(None)
        .build()
        .unwrap();
    let infos = engine.plugins();
    assert_eq!(info(&infos, "builder-only").status, PluginStatus::Skipped);
    assert!(info(&infos, "builder-only").error.is_none());
    assert_eq!(info(&infos, "lifecycle-too").status, PluginStatus::Loaded);
    assert_eq!(info(&infos, "everywhere").status, PluginStatus::Loaded);
    // Without a component, everything loads (and the raising one fails).
    let all = engine_for_all(dir);
    assert_eq!(info(&all, "builder-only").status, PluginStatus::Failed);
}

fn engine_for_all(dir: &std::path::Path) -> Vec<racetrack_plugins::PluginInfo> {
    engine(dir).plugins()
}
