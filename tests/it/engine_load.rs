//! Loading: directory layout, manifest validation, extraction, import, failure isolation.

use std::fs;

use crate::common::*;
use racetrack_plugins::archive::ExtractLimits;
use racetrack_plugins::{HookArgs, LoadError, LoadErrorKind, PluginEngine, PluginStatus};

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
fn unsafe_zip_entries_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    fs::create_dir_all(&dir).unwrap();
    let manifest = |n: &str| {
        (
            "plugin-manifest.yaml".to_string(),
            format!("name: {n}\nversion: '1'\n"),
        )
    };
    let plugin = ("plugin.py".to_string(), "class Plugin: pass\n".to_string());
    fs::write(
        dir.join("escape-1.zip"),
        zip_of(&[
            manifest("escape"),
            plugin.clone(),
            ("../../outside.txt".into(), "x".into()),
        ]),
    )
    .unwrap();
    fs::write(
        dir.join("absolute-1.zip"),
        zip_of(&[
            manifest("absolute"),
            plugin.clone(),
            ("/tmp/abs-racetrack.txt".into(), "x".into()),
        ]),
    )
    .unwrap();
    // A symlink entry, pointing outside.
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for (path, text) in [manifest("linked"), plugin.clone()] {
        writer.start_file(path, opts).unwrap();
        std::io::Write::write_all(&mut writer, text.as_bytes()).unwrap();
    }
    writer.add_symlink("secrets", "/etc/passwd", opts).unwrap();
    fs::write(
        dir.join("linked-1.zip"),
        writer.finish().unwrap().into_inner(),
    )
    .unwrap();
    // Highly compressible content beyond the limits below.
    fs::write(
        dir.join("bomb-1.zip"),
        zip_of(&[
            manifest("bomb"),
            plugin.clone(),
            ("big.txt".into(), "0".repeat(3 * 1024 * 1024)),
        ]),
    )
    .unwrap();
    simple_plugin("fine", "1", "    pass").write_into(&dir);

    let engine = PluginEngine::builder(&dir)
        .watch_interval(None)
        .extract_limits(ExtractLimits {
            max_total_bytes: 2 * 1024 * 1024,
            ..ExtractLimits::default()
        })
        .build()
        .unwrap();
    let infos = engine.plugins();
    let err = |n: &str| {
        let error = info(&infos, n)
            .error
            .as_ref()
            .expect("a failed plugin's error");
        assert_eq!(error.kind(), LoadErrorKind::Archive, "{n}: {error:?}");
        error.report()
    };
    assert!(
        err("escape").contains("outside the plugin folder"),
        "{}",
        err("escape")
    );
    assert!(err("escape").contains("escape-1.zip"));
    assert!(
        err("absolute").contains("outside the plugin folder"),
        "{}",
        err("absolute")
    );
    assert!(err("linked").contains("symbolic link"), "{}", err("linked"));
    assert!(err("bomb").contains("too large"), "{}", err("bomb"));
    assert!(!tmp.path().join("outside.txt").exists());
    assert!(!dir.join("extracted/linked-1").exists());
    assert_eq!(names(&engine), vec!["fine"]);

    // The ratio limit catches a bomb below the size limit.
    let engine = PluginEngine::builder(&dir)
        .watch_interval(None)
        .build()
        .unwrap();
    assert!(info(&engine.plugins(), "bomb")
        .error
        .as_ref()
        .map(LoadError::report)
        .unwrap_or_default()
        .contains("ratio"));
}

#[test]
fn extraction_happens_once_per_content() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let v1 = simple_plugin("once", "1", "    def which(self):\n        return 'first'");
    v1.write_into(dir);
    let engine1 = engine(dir);
    assert_eq!(call_json(&engine1, "which", &HookArgs::new())[0].1, "first");
    let stamp = dir.join("extracted/once-1/stamp.txt");
    fs::write(&stamp, "left by the test").unwrap();

    // Restart with the same zip: the extracted folder is reused as it is.
    let engine2 = engine(dir);
    assert!(stamp.is_file(), "unchanged zip must not be re-extracted");
    assert_eq!(call_json(&engine2, "which", &HookArgs::new())[0].1, "first");

    // Same name and version, new content: re-extracted although the folder exists.
    simple_plugin("once", "1", "    def which(self):\n        return 'second'").write_into(dir);
    let engine3 = engine(dir);
    assert!(!stamp.exists(), "changed zip must be re-extracted");
    assert_eq!(
        call_json(&engine3, "which", &HookArgs::new())[0].1,
        "second"
    );
}

#[test]
fn sibling_modules_are_private_to_each_plugin() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (name, value) in [("left", "L"), ("right", "R")] {
        PluginSrc::new(name, "1")
            .file("utils.py", &format!("VALUE = '{value}'\n"))
            .file("helpers/__init__.py", "")
            .file("helpers/deep.py", &format!("def deep():\n    return 'deep-{value}'\n"))
            .file("deployer.py", "class Deployer:\n    pass\n")
            .plugin_py(
                "from utils import VALUE\nfrom helpers.deep import deep\nfrom deployer import Deployer\n\
class Plugin:\n    def value(self):\n        return [VALUE, deep(), Deployer.__module__]\n",
            )
            .write_into(dir);
    }
    let cwd = std::env::current_dir().unwrap();
    let engine = engine(dir);
    let results = call_json(&engine, "value", &HookArgs::new());
    assert_eq!(
        results,
        vec![
            (
                "left".to_string(),
                serde_json::json!(["L", "deep-L", "deployer"])
            ),
            (
                "right".to_string(),
                serde_json::json!(["R", "deep-R", "deployer"])
            ),
        ]
    );
    // The same goes for the working directory (process-wide, changed under the load
    // lock while a plugin imports): it may be another test's plugin folder right now,
    // never one of this test's.
    let now = std::env::current_dir().unwrap();
    assert!(
        now == cwd || !now.starts_with(dir.canonicalize().unwrap()),
        "the working directory stayed in a plugin folder: {}",
        now.display()
    );
    // Other tests of this binary load plugins in parallel, and a load has its own
    // folder on sys.path while it runs: comparing all of sys.path before and after
    // would race with them. Nothing of *this* directory may stay, whatever they do.
    let root = dir.canonicalize().unwrap().display().to_string();
    let leftover: Vec<String> = pyo3_sys_path()
        .into_iter()
        .filter(|p| p.starts_with(&root))
        .collect();
    assert!(
        leftover.is_empty(),
        "the plugins' folders stayed on sys.path: {leftover:?}"
    );
}

#[test]
fn sibling_modules_imported_lazily_inside_hooks_stay_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (name, value) in [("lazy-a", "A"), ("lazy-b", "B")] {
        PluginSrc::new(name, "1")
            .file("settings.py", &format!("VALUE = '{value}'\n"))
            .file("pkg/__init__.py", "from .core import describe\n")
            .file("pkg/core.py", "from . import names\ndef describe():\n    return 'core-' + names.NAME\n")
            .file("pkg/names.py", &format!("NAME = '{value}'\n"))
            .file("pkg/extra.py", &format!("EXTRA = 'extra-{value}'\n"))
            .plugin_py(
                "import json\nclass Plugin:\n    def lazy(self):\n        import settings\n        from pkg import describe\n        from pkg.extra import EXTRA\n        import pkg.names\n        return [settings.VALUE, describe(), EXTRA, pkg.names.NAME, json.dumps(1)]\n",
            )
            .write_into(dir);
    }
    let engine = engine(dir);
    for _ in 0..2 {
        let results = call_json(&engine, "lazy", &HookArgs::new());
        assert_eq!(
            results,
            vec![
                (
                    "lazy-a".to_string(),
                    serde_json::json!(["A", "core-A", "extra-A", "A", "1"])
                ),
                (
                    "lazy-b".to_string(),
                    serde_json::json!(["B", "core-B", "extra-B", "B", "1"])
                ),
            ]
        );
    }
    use pyo3::prelude::*;
    let leaked: Vec<String> = Python::attach(|py| {
        let modules = py.import("sys").unwrap().getattr("modules").unwrap();
        ["settings", "pkg", "pkg.core", "pkg.extra"]
            .iter()
            .filter(|m| modules.contains(**m).unwrap())
            .map(|m| m.to_string())
            .collect()
    });
    assert!(
        leaked.is_empty(),
        "plugin modules leaked into sys.modules: {leaked:?}"
    );
}

fn pyo3_sys_path() -> Vec<String> {
    use pyo3::prelude::*;
    racetrack_plugins::python::ensure_initialized();
    Python::attach(|py| {
        py.import("sys")
            .and_then(|sys| sys.getattr("path"))
            .and_then(|p| p.extract())
            .expect("sys.path")
    })
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

/// The engine reaches plugin code only through its `Runtime`: a runtime wrapping the
/// Python one sees every load, every call and every unload.
#[test]
fn plugin_code_runs_only_through_the_runtime() {
    use racetrack_plugins::engine::{
        CallTarget, Dispatcher, LoadRequest, LoadedCode, OutcomeSink, Runtime,
    };
    use racetrack_plugins::python::{InterpreterInfo, PythonRuntime};
    use racetrack_plugins::{LoadedPlugin, PyFailure};
    use std::sync::{Arc, Mutex};

    #[derive(Debug, Default)]
    struct Seen {
        loads: Vec<String>,
        calls: Vec<String>,
        unloads: Vec<String>,
    }
    #[derive(Debug)]
    struct Recording {
        inner: PythonRuntime,
        seen: Arc<Mutex<Seen>>,
    }
    #[derive(Debug)]
    struct RecordingDispatcher {
        inner: Box<dyn Dispatcher>,
        seen: Arc<Mutex<Seen>>,
    }
    impl Runtime for Recording {
        fn interpreter(&self) -> &InterpreterInfo {
            self.inner.interpreter()
        }
        fn load(&self, request: &LoadRequest) -> Result<LoadedCode, PyFailure> {
            let name = request.manifest.name.clone();
            self.seen.lock().unwrap().loads.push(name);
            self.inner.load(request)
        }
        fn dispatcher(&self, plugins: &[Arc<LoadedPlugin>]) -> Box<dyn Dispatcher> {
            Box::new(RecordingDispatcher {
                inner: self.inner.dispatcher(plugins),
                seen: self.seen.clone(),
            })
        }
        fn unload(&self, plugins: &[Arc<LoadedPlugin>]) {
            let mut seen = self.seen.lock().unwrap();
            seen.unloads
                .extend(plugins.iter().map(|p| p.name().to_string()));
            drop(seen);
            self.inner.unload(plugins)
        }
        fn forget_under(&self, root: &std::path::Path) {
            self.inner.forget_under(root)
        }
    }
    impl Dispatcher for RecordingDispatcher {
        fn call(
            &self,
            hook: &str,
            target: CallTarget<'_>,
            args: &HookArgs,
            fail_fast: bool,
            timeout: Option<std::time::Duration>,
            each: &mut OutcomeSink<'_>,
        ) -> Result<(), PyFailure> {
            self.seen.lock().unwrap().calls.push(hook.to_string());
            self.inner
                .call(hook, target, args, fail_fast, timeout, each)
        }
    }

    let tmp = tempfile::tempdir().unwrap();
    for name in ["one", "two"] {
        PluginSrc::new(name, "1")
            .plugin_py(&format!(
                "class Plugin:\n    def who(self):\n        return '{name}'\n"
            ))
            .write_into(tmp.path());
    }
    let seen = Arc::new(Mutex::new(Seen::default()));
    let runtime = Recording {
        inner: PythonRuntime::new().expect("interpreter"),
        seen: seen.clone(),
    };
    let engine = PluginEngine::builder(tmp.path())
        .watch_interval(None)
        .runtime(Arc::new(runtime))
        .build()
        .expect("engine opens");
    assert_eq!(
        call_json(&engine, "who", &HookArgs::new()),
        vec![
            ("one".to_string(), serde_json::json!("one")),
            ("two".to_string(), serde_json::json!("two")),
        ]
    );
    engine.reload();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.loads, ["one", "two", "one", "two"]);
    assert_eq!(seen.calls, ["who"]);
    // The first (empty) set, then the two plugins the reload replaced.
    assert_eq!(seen.unloads, ["one", "two"]);
}
