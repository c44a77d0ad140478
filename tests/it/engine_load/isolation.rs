//! What plugins cannot see of each other: private sibling modules, eager and lazy,
//! and plugin code running only through the runtime.

use super::*;

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
