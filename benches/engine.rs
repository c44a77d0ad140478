//! Engine benchmarks, each figure measured beside its baseline in the same process.
//!
//! `cargo bench --bench engine` measures; `cargo test --all-targets` runs this binary
//! without `--bench`, and then every case makes one quick pass (no figures worth
//! reading, just proof that the code paths work).
//!
//! Every case prints a human row and a machine row (`@@ROW\t...`) that
//! `scripts/bench.sh` gathers into the final table. Figures are medians over samples
//! that alternate engine and baseline, so both see the same machine state.
//!
//! Cases (see benches/README.md for what each compares and why that is fair):
//! 1. dispatch: `fatman_runtime_env_vars` on 10 plugins, typed and generic, and a
//!    generic call whose keyword arguments must be pruned, per plugin-call, against a
//!    Python loop calling the same bound methods;
//! 2. arguments: converting a realistic `Manifest` + `FatmanDto` to Python, against
//!    building the same objects in Python;
//! 3. cold and warm start of 50 plugins, against importing 50 tiny modules;
//! 5. memory per loaded plugin (50 vs 200 plugins, in a child process).
//!
//! (Case 4, the Python host, is `benches/python_host.py`.)

use std::ffi::CString;
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pyo3::call::PyCallArgs;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyModule};
use racetrack_plugins::{FatmanDto, GitDefinition, HookArgs, Manifest, PluginEngine};
use serde_json::{json, Map, Value};
use zip::write::SimpleFileOptions;

/// Set in the child process that measures memory.
const MEMORY_CHILD_ENV: &str = "RACETRACK_BENCH_MEMORY_CHILD";

// ---------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Mode {
    /// `--bench`: real measurement. Otherwise one quick pass (test mode).
    full: bool,
}

impl Mode {
    fn samples(self) -> usize {
        if self.full {
            15
        } else {
            1
        }
    }

    /// Wall time one sample should take.
    fn sample_time(self) -> Duration {
        if self.full {
            Duration::from_millis(60)
        } else {
            Duration::from_micros(200)
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs `f(iters)` (which returns the time those iterations took) for an iteration
/// count that fills about one sample time.
fn calibrate(mode: Mode, f: &mut dyn FnMut(u64) -> Duration) -> u64 {
    let mut iters = 1u64;
    loop {
        let took = f(iters);
        if took >= mode.sample_time() / 4 || iters >= 1 << 30 || !mode.full {
            let per = took.as_secs_f64() / iters as f64;
            let wanted = (mode.sample_time().as_secs_f64() / per.max(1e-9)) as u64;
            return wanted.clamp(1, 1 << 32);
        }
        iters *= 4;
    }
}

/// Median nanoseconds per unit of the engine side and of the baseline, sampled
/// alternately. `units` is how many units one iteration is (e.g. 10 plugin-calls).
fn measure_pair(
    mode: Mode,
    units: f64,
    engine: &mut dyn FnMut(u64) -> Duration,
    baseline: &mut dyn FnMut(u64) -> Duration,
) -> (f64, f64) {
    let n_engine = calibrate(mode, engine);
    let n_base = calibrate(mode, baseline);
    let (mut e, mut b) = (Vec::new(), Vec::new());
    for _ in 0..mode.samples() {
        e.push(engine(n_engine).as_nanos() as f64 / (n_engine as f64 * units));
        b.push(baseline(n_base).as_nanos() as f64 / (n_base as f64 * units));
    }
    (median(e), median(b))
}

/// Like [`measure_pair`] for operations too slow (and too stateful) to repeat in a
/// loop: each sample is one run, with untimed setup done by the closure itself.
fn measure_once_pair(
    mode: Mode,
    samples: usize,
    engine: &mut dyn FnMut() -> Duration,
    baseline: &mut dyn FnMut() -> Duration,
) -> (f64, f64) {
    let samples = if mode.full { samples } else { 1 };
    let (mut e, mut b) = (Vec::new(), Vec::new());
    if mode.full {
        // One unrecorded round: page cache, bytecode cache, allocator.
        engine();
        baseline();
    }
    for _ in 0..samples {
        e.push(engine().as_nanos() as f64);
        b.push(baseline().as_nanos() as f64);
    }
    (median(e), median(b))
}

/// How a ratio engine/baseline is judged.
#[derive(Clone, Copy)]
enum Target {
    /// engine / baseline must be at most this.
    AtMost(f64),
    /// Reported only.
    None,
}

fn fmt_ns(ns: f64, unit: &str) -> String {
    if unit == "B" {
        return if ns >= 1024.0 * 1024.0 {
            format!("{:.2} MiB", ns / 1024.0 / 1024.0)
        } else if ns >= 1024.0 {
            format!("{:.1} KiB", ns / 1024.0)
        } else {
            format!("{ns:.0} B")
        };
    }
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Prints one result: a readable line and a machine row for scripts/bench.sh.
fn report(case: &str, engine: f64, baseline: f64, unit: &str, target: Target) {
    let ratio = engine / baseline;
    let (target_text, met) = match target {
        Target::AtMost(max) => (
            format!("<= {max:.2}x"),
            if ratio <= max { "yes" } else { "NO" },
        ),
        Target::None => ("-".to_string(), "-"),
    };
    let e = fmt_ns(engine, unit);
    let b = fmt_ns(baseline, unit);
    println!("{case:<58} {e:>12} {b:>12} {ratio:>7.2}x {target_text:>9} {met:>4}");
    println!("@@ROW\t{case}\t{e}\t{b}\t{ratio:.2}x\t{target_text}\t{met}");
    let _ = std::io::stdout().flush();
}

// ---------------------------------------------------------------------------------------
// Plugins on disk
// ---------------------------------------------------------------------------------------

/// The source every benchmark plugin has: a few seed hooks, returning small values.
fn plugin_source(i: usize) -> String {
    format!(
        r#"class Plugin:
    def fatman_runtime_env_vars(self):
        return {{"PLUGIN_{i}_URL": "http://plugin-{i}.local"}}

    def racetrack_event(self, name, user=None):
        return {i}

    def post_fatman_deploy(self, manifest, fatman, image_name, deployer_username=None):
        return None
"#
    )
}

fn zip_bytes(name: &str, version: &str, priority: usize, source: &str) -> Vec<u8> {
    let manifest = format!("name: {name}\nversion: '{version}'\npriority: {priority}\n");
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, content) in [
        ("plugin-manifest.yaml", manifest.as_str()),
        ("plugin.py", source),
    ] {
        writer
            .start_file(path, SimpleFileOptions::default())
            .expect("zip entry");
        writer.write_all(content.as_bytes()).expect("zip write");
    }
    writer.finish().expect("zip finish").into_inner()
}

/// Writes `count` plugin zips into `dir`.
fn write_plugins(dir: &Path, count: usize) {
    std::fs::create_dir_all(dir).expect("plugins dir");
    for i in 0..count {
        let name = format!("bench-plugin-{i:03}");
        let bytes = zip_bytes(&name, "1.0.0", i, &plugin_source(i));
        std::fs::write(dir.join(format!("{name}-1.0.0.zip")), bytes).expect("write zip");
    }
}

/// An engine with the default options a host runs with (change watch every second).
fn open_engine(dir: &Path) -> PluginEngine {
    let engine = PluginEngine::open(dir).expect("engine opens");
    let loaded = engine.loaded_plugins().len();
    let total = engine.plugins().len();
    assert_eq!(
        loaded,
        total,
        "every benchmark plugin loads: {:#?}",
        engine.plugins()
    );
    engine
}

/// Forgets every plugin module (what a reload does to the old set), so sys.modules
/// does not grow over the samples of the start-up cases.
fn forget_modules(py: Python<'_>, prefix: &str) {
    let code = CString::new(format!(
        "import sys\nfor _k in [k for k in sys.modules if k.startswith({prefix:?})]:\n    del sys.modules[_k]\n"
    ))
    .expect("code");
    py.run(&code, None, None).expect("forget modules");
}

// ---------------------------------------------------------------------------------------
// Python baselines
// ---------------------------------------------------------------------------------------

const BASELINES: &str = r#"
import importlib.util
import sys
import time


def dispatch_list(methods, n):
    """What invoke does, by hand: call each bound method, keep each result."""
    t0 = time.perf_counter_ns()
    for _ in range(n):
        out = []
        for m in methods:
            out.append(m())
    return time.perf_counter_ns() - t0


def dispatch_merge(methods, n):
    """What the typed fatman_runtime_env_vars does, by hand: merge the dicts."""
    t0 = time.perf_counter_ns()
    for _ in range(n):
        merged = {}
        for m in methods:
            r = m()
            if r is not None:
                merged.update(r)
    return time.perf_counter_ns() - t0


def dispatch_kwargs(methods, n, name, user):
    """A hand-written host knows each signature: passes only what it declares."""
    t0 = time.perf_counter_ns()
    for _ in range(n):
        out = []
        for m in methods:
            out.append(m(name, user=user))
    return time.perf_counter_ns() - t0


class Rec(dict):
    """Same shape as the engine's RecordView: a dict with attribute access."""

    __slots__ = ()

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def time_build(build, n):
    t0 = time.perf_counter_ns()
    for _ in range(n):
        build()
    return time.perf_counter_ns() - t0


def deploy_by_hand(build, methods, n):
    """Build the arguments, then call every plugin with them."""
    t0 = time.perf_counter_ns()
    for _ in range(n):
        args, kwargs = build()
        for m in methods:
            m(*args, **kwargs)
    return time.perf_counter_ns() - t0


_counter = [0]


def import_modules(paths):
    """Imports each file under a fresh module name (as the engine's loader does)."""
    t0 = time.perf_counter_ns()
    for path in paths:
        _counter[0] += 1
        name = f"bench_tiny_{_counter[0]}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return time.perf_counter_ns() - t0
"#;

fn baselines(py: Python<'_>) -> Bound<'_, PyModule> {
    PyModule::from_code(
        py,
        &CString::new(BASELINES).expect("code"),
        c"bench_baselines.py",
        c"bench_baselines",
    )
    .expect("baselines compile")
}

/// The bound methods of `hook`, one per loaded plugin, in call order.
fn bound_methods<'py>(py: Python<'py>, engine: &PluginEngine, hook: &str) -> Bound<'py, PyList> {
    let methods: Vec<Bound<'py, PyAny>> = engine
        .loaded_plugins()
        .iter()
        .map(|p| {
            p.instance
                .as_py()
                .bind(py)
                .getattr(hook)
                .expect("hook exists")
        })
        .collect();
    PyList::new(py, methods).expect("list")
}

/// Calls a baseline that returns the nanoseconds its loop took.
fn python_timed<'py, A: PyCallArgs<'py>>(f: &Bound<'py, PyAny>, args: A) -> Duration {
    let ns: u64 = f
        .call1(args)
        .and_then(|v| v.extract())
        .expect("baseline runs");
    Duration::from_nanos(ns)
}

// ---------------------------------------------------------------------------------------
// 1. Dispatch
// ---------------------------------------------------------------------------------------

fn bench_dispatch(mode: Mode, root: &Path, wanted: &dyn Fn(&str) -> bool) {
    const PLUGINS: usize = 10;
    let dir = root.join("dispatch");
    write_plugins(&dir, PLUGINS);
    let engine = open_engine(&dir);

    // Same results either way, so the two sides do the same work.
    let typed = engine.fatman_runtime_env_vars().expect("typed call");
    assert_eq!(typed.len(), PLUGINS);

    let units = PLUGINS as f64;
    let (env_methods, event_methods, base) = Python::attach(|py| {
        (
            bound_methods(py, &engine, "fatman_runtime_env_vars").unbind(),
            bound_methods(py, &engine, "racetrack_event").unbind(),
            baselines(py).unbind(),
        )
    });

    let floor_list = |n: u64| {
        Python::attach(|py| {
            let f = base.bind(py).getattr("dispatch_list").expect("fn");
            python_timed(&f, (env_methods.bind(py), n))
        })
    };

    if wanted("dispatch: typed") {
        let (e, b) = measure_pair(
            mode,
            units,
            &mut |n| {
                let t = Instant::now();
                for _ in 0..n {
                    black_box(engine.fatman_runtime_env_vars().expect("call"));
                }
                t.elapsed()
            },
            &mut |n| {
                Python::attach(|py| {
                    let f = base.bind(py).getattr("dispatch_merge").expect("fn");
                    python_timed(&f, (env_methods.bind(py), n))
                })
            },
        );
        report(
            "dispatch: typed fatman_runtime_env_vars, per plugin-call",
            e,
            b,
            "ns",
            Target::AtMost(1.5),
        );
    }

    let no_args = HookArgs::new();
    if wanted("dispatch: invoke(") {
        let (e, b) = measure_pair(
            mode,
            units,
            &mut |n| {
                let t = Instant::now();
                for _ in 0..n {
                    black_box(
                        engine
                            .invoke("fatman_runtime_env_vars", &no_args)
                            .expect("call"),
                    );
                }
                t.elapsed()
            },
            &mut { floor_list },
        );
        report(
            "dispatch: invoke(\"fatman_runtime_env_vars\"), per plugin-call",
            e,
            b,
            "ns",
            Target::AtMost(1.5),
        );
    }

    // Every hook declares (name, user); the host passes two keywords more.
    let event_args = HookArgs::new()
        .arg("deploy")
        .kwarg("user", "alice")
        .kwarg("trace_id", "0af7651916cd43dd8448eb211c80319c")
        .kwarg("dry_run", false);
    let results = engine
        .invoke("racetrack_event", &event_args)
        .expect("pruned call");
    assert_eq!(results.len(), PLUGINS);
    if wanted("dispatch: invoke with kwargs") {
        let (e, b) = measure_pair(
            mode,
            units,
            &mut |n| {
                let t = Instant::now();
                for _ in 0..n {
                    black_box(engine.invoke("racetrack_event", &event_args).expect("call"));
                }
                t.elapsed()
            },
            &mut |n| {
                Python::attach(|py| {
                    let f = base.bind(py).getattr("dispatch_kwargs").expect("fn");
                    python_timed(&f, (event_methods.bind(py), n, "deploy", "alice"))
                })
            },
        );
        report(
            "dispatch: invoke with kwargs pruning (3 kw -> 1), per plugin-call",
            e,
            b,
            "ns",
            Target::AtMost(1.5),
        );
    }
}

// ---------------------------------------------------------------------------------------
// 2. Arguments
// ---------------------------------------------------------------------------------------

fn realistic_manifest() -> Manifest {
    let obj = |v: Value| -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    };
    Manifest {
        name: "adder-service".into(),
        owner_email: "nobody@example.com".into(),
        version: Some("1.4.2".into()),
        lang: Some("python3".into()),
        git: GitDefinition {
            remote: "https://github.com/TheRacetrack/racetrack".into(),
            branch: Some("master".into()),
            directory: Some("sample/python-class".into()),
            extra: obj(json!({"commit": "4f1c2e9a7b", "submodules": false})),
        },
        labels: Some(obj(json!({
            "team": "data-science",
            "cost-center": "cc-4711",
            "tier": "gold",
            "public": true,
        }))),
        runtime_env: Some(obj(json!({
            "LOG_LEVEL": "debug",
            "WORKERS": "4",
            "TIMEOUT_SECONDS": "30",
        }))),
        extra: obj(json!({
            "python": {
                "requirements_path": "requirements.txt",
                "entrypoint_path": "adder.py",
                "entrypoint_class": "AdderModel",
            },
            "resources": {"memory_min": "256Mi", "memory_max": "1Gi", "cpu_min": "10m", "cpu_max": "1"},
            "replicas": 2,
            "secret_build_env_file": "build.env",
            "secret_runtime_env_file": "runtime.env",
            "system_dependencies": ["libgomp1", "curl"],
            "public_endpoints": ["/api/v1/perform", "/api/v1/health"],
        })),
    }
}

fn realistic_fatman(manifest: &Manifest) -> FatmanDto {
    FatmanDto {
        name: "adder-service".into(),
        version: "1.4.2".into(),
        status: "running".into(),
        create_time: 1_700_000_000,
        update_time: 1_700_003_600,
        id: Some("3b8e7f42-9c1d-4e5a-8f2b-6d7c1a0e9b34".into()),
        manifest: Some(manifest.clone()),
        internal_name: Some("fatman-adder-service-v-1-4-2.racetrack.svc:7000".into()),
        pub_url: Some("https://racetrack.example.com/pub/fatman/adder-service/1.4.2".into()),
        error: None,
        image_tag: Some("2024-01-05T12-00-00".into()),
        deployed_by: Some("alice".into()),
        last_call_time: Some(1_700_007_200),
        extra: match json!({
            "infrastructure_target": "kubernetes",
            "replica_internal_names": ["adder-0", "adder-1"],
            "stats": {"calls": 1234, "errors": 2},
        }) {
            Value::Object(m) => m,
            _ => unreachable!(),
        },
    }
}

/// A Python expression building `value` with literals, maps as `Rec({...})`.
fn py_literal(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&serde_json::to_string(s).expect("str")),
        Value::Array(items) => {
            out.push('[');
            for item in items {
                py_literal(item, out);
                out.push_str(", ");
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push_str("Rec({");
            for (k, v) in map {
                out.push_str(&serde_json::to_string(k).expect("key"));
                out.push_str(": ");
                py_literal(v, out);
                out.push_str(", ");
            }
            out.push_str("})");
        }
    }
}

fn bench_arguments(mode: Mode, root: &Path) {
    const PLUGINS: usize = 10;
    let manifest = realistic_manifest();
    let fatman = realistic_fatman(&manifest);
    let image = "registry.example.com/racetrack/fatman/adder-service:1.4.2";
    let user = "alice";
    let args = HookArgs::new()
        .arg(manifest.clone())
        .arg(fatman.clone())
        .arg(image.to_string())
        .kwarg("deployer_username", Some(user.to_string()));

    let mut src = String::from("def build():\n    return ((");
    py_literal(&serde_json::to_value(&manifest).expect("json"), &mut src);
    src.push_str(", ");
    py_literal(&serde_json::to_value(&fatman).expect("json"), &mut src);
    src.push_str(&format!(
        ", {image:?}), {{\"deployer_username\": {user:?}}})\n"
    ));

    let base = Python::attach(|py| {
        let module = baselines(py);
        let code = CString::new(src).expect("code");
        py.run(&code, Some(&module.dict()), None)
            .expect("build() compiles");
        // Same object graph on both sides.
        let (a, k) = args.to_python(py).expect("converts");
        let (ba, bk): (Bound<'_, PyAny>, Bound<'_, PyAny>) = module
            .getattr("build")
            .and_then(|b| b.call0())
            .and_then(|t| t.extract())
            .expect("build() runs");
        assert!(
            a.eq(&ba).expect("eq"),
            "the baseline builds the same positional args"
        );
        assert!(k.expect("kwargs").eq(&bk).expect("eq"));
        module.unbind()
    });

    let (e, b) = measure_pair(
        mode,
        1.0,
        &mut |n| {
            Python::attach(|py| {
                let t = Instant::now();
                for _ in 0..n {
                    black_box(args.to_python(py).expect("converts"));
                }
                t.elapsed()
            })
        },
        &mut |n| {
            Python::attach(|py| {
                let m = base.bind(py);
                let f = m.getattr("time_build").expect("fn");
                python_timed(&f, (m.getattr("build").expect("build"), n))
            })
        },
    );
    report(
        "arguments: Manifest+FatmanDto to Python, per call",
        e,
        b,
        "ns",
        Target::None,
    );

    let dir = root.join("arguments");
    write_plugins(&dir, PLUGINS);
    let engine = open_engine(&dir);
    let methods = Python::attach(|py| bound_methods(py, &engine, "post_fatman_deploy").unbind());
    let (e, b) = measure_pair(
        mode,
        1.0,
        &mut |n| {
            let t = Instant::now();
            for _ in 0..n {
                engine
                    .post_fatman_deploy(&manifest, &fatman, image, Some(user))
                    .expect("call");
            }
            t.elapsed()
        },
        &mut |n| {
            Python::attach(|py| {
                let m = base.bind(py);
                let f = m.getattr("deploy_by_hand").expect("fn");
                python_timed(
                    &f,
                    (m.getattr("build").expect("build"), methods.bind(py), n),
                )
            })
        },
    );
    report(
        "arguments: post_fatman_deploy on 10 plugins, per call",
        e,
        b,
        "ns",
        Target::None,
    );
}

// ---------------------------------------------------------------------------------------
// 3. Cold and warm start
// ---------------------------------------------------------------------------------------

fn bench_startup(mode: Mode, root: &Path, wanted: &dyn Fn(&str) -> bool) {
    const PLUGINS: usize = 50;
    let samples = 12;

    // Zips written once; each cold sample copies them into a fresh directory (untimed).
    let zips = root.join("startup-zips");
    write_plugins(&zips, PLUGINS);
    let zip_files: Vec<PathBuf> = std::fs::read_dir(&zips)
        .expect("zips")
        .map(|e| e.expect("entry").path())
        .collect();

    // The baseline's tiny modules: the same plugin.py sources, as files on disk.
    let tiny = root.join("tiny-modules");
    std::fs::create_dir_all(&tiny).expect("tiny dir");
    let tiny_paths: Vec<String> = (0..PLUGINS)
        .map(|i| {
            let path = tiny.join(format!("tiny_{i:03}.py"));
            std::fs::write(&path, plugin_source(i)).expect("write module");
            path.display().to_string()
        })
        .collect();
    let base = Python::attach(|py| baselines(py).unbind());
    let mut import_50 = || {
        Python::attach(|py| {
            let f = base.bind(py).getattr("import_modules").expect("fn");
            let took = python_timed(&f, (tiny_paths.clone(),));
            forget_modules(py, "bench_tiny_");
            took
        })
    };

    let mut cold_round = 0;
    if wanted("start: cold") {
        let (e, b) = measure_once_pair(
            mode,
            samples,
            &mut || {
                cold_round += 1;
                let dir = root.join(format!("cold-{cold_round}"));
                std::fs::create_dir_all(&dir).expect("dir");
                for zip in &zip_files {
                    std::fs::copy(zip, dir.join(zip.file_name().expect("name"))).expect("copy");
                }
                let t = Instant::now();
                let engine = open_engine(&dir);
                let took = t.elapsed();
                assert_eq!(engine.loaded_plugins().len(), PLUGINS);
                drop(engine);
                Python::attach(|py| forget_modules(py, "racetrack_plugin_"));
                // Kept until the end: deleting thousands of inodes now would slow the
                // next sample's file creation (ext4 avoids reusing recently freed ones).
                took
            },
            &mut import_50,
        );
        report(
            "start: cold, 50 plugins from zips to ready",
            e,
            b,
            "ns",
            Target::None,
        );
    }
    if !wanted("start: warm") {
        return;
    }

    let warm_dir = root.join("warm");
    std::fs::create_dir_all(&warm_dir).expect("dir");
    for zip in &zip_files {
        std::fs::copy(zip, warm_dir.join(zip.file_name().expect("name"))).expect("copy");
    }
    drop(open_engine(&warm_dir));
    Python::attach(|py| forget_modules(py, "racetrack_plugin_"));
    if std::env::var_os("RACETRACK_BENCH_PROFILE").is_some() {
        // Where a warm restart spends its Python time (the Rust side shows in perf).
        Python::attach(|py| {
            py.run(
                c"import cProfile\n_prof = cProfile.Profile()\n_prof.enable()",
                None,
                None,
            )
        })
        .expect("profiler");
        drop(open_engine(&warm_dir));
        Python::attach(|py| {
            py.run(
                c"_prof.disable()\nimport pstats\npstats.Stats(_prof).sort_stats('tottime').print_stats(25)",
                None,
                None,
            )
        })
        .expect("profile report");
        Python::attach(|py| forget_modules(py, "racetrack_plugin_"));
    }
    let (e, b) = measure_once_pair(
        mode,
        samples,
        &mut || {
            let t = Instant::now();
            let engine = open_engine(&warm_dir);
            let took = t.elapsed();
            drop(engine);
            Python::attach(|py| forget_modules(py, "racetrack_plugin_"));
            took
        },
        &mut import_50,
    );
    report(
        "start: warm restart, 50 plugins already extracted",
        e,
        b,
        "ns",
        Target::AtMost(2.0),
    );
}

// ---------------------------------------------------------------------------------------
// 5. Memory
// ---------------------------------------------------------------------------------------

fn rss_bytes() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("resident pages");
    // Page size: 4 KiB on the x86-64 and arm64 Linux machines this runs on.
    pages * 4096.0
}

/// In a child process: RSS added by loading `count` plugins (`what` = `engine`) or by
/// importing `count` tiny modules (`import`), printed as `MEMORY <bytes>`.
fn memory_child(what: &str, count: usize, root: &Path) {
    python_init_quietly();
    let base = Python::attach(|py| baselines(py).unbind());
    let paths: Vec<String> = (0..count)
        .map(|i| {
            root.join("tiny")
                .join(format!("tiny_{i:03}.py"))
                .display()
                .to_string()
        })
        .collect();
    let dir = root.join(format!("plugins-{count}"));
    // Everything a load needs but does not keep is touched once first.
    Python::attach(|py| py.run(c"import gc, importlib.util, pathlib, site", None, None))
        .expect("imports");
    let before = rss_bytes();
    let kept = match what {
        "engine" => Some(open_engine(&dir)),
        _ => {
            Python::attach(|py| {
                base.bind(py)
                    .getattr("import_modules")
                    .and_then(|f| f.call1((paths,)))
                    .expect("imports");
            });
            None
        }
    };
    println!("MEMORY {}", rss_bytes() - before);
    drop(kept);
}

fn memory_figure(what: &str, count: usize, root: &Path) -> f64 {
    let output = std::process::Command::new(std::env::current_exe().expect("exe"))
        .env(
            MEMORY_CHILD_ENV,
            format!("{what} {count} {}", root.display()),
        )
        .output()
        .expect("memory child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("MEMORY "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "memory child failed: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

fn bench_memory(mode: Mode, root: &Path) {
    let (small, large) = if mode.full { (50, 200) } else { (3, 6) };
    let root = root.join("memory");
    let tiny = root.join("tiny");
    std::fs::create_dir_all(&tiny).expect("dir");
    for i in 0..large {
        std::fs::write(tiny.join(format!("tiny_{i:03}.py")), plugin_source(i)).expect("write");
    }
    for count in [small, large] {
        let dir = root.join(format!("plugins-{count}"));
        write_plugins(&dir, count);
        // Extracted here, so the children measure what loaded plugins keep.
        drop(open_engine(&dir));
    }
    // Median of a few children each: RSS moves in pages and allocator arenas.
    let runs = if mode.full { 3 } else { 1 };
    let per_item = |what: &str| {
        let figures: Vec<f64> = (0..runs)
            .map(|_| {
                (memory_figure(what, large, &root) - memory_figure(what, small, &root))
                    / (large - small) as f64
            })
            .collect();
        median(figures)
    };
    let engine = per_item("engine");
    let import = per_item("import");
    report(
        &format!("memory: RSS per loaded plugin ({small} vs {large})"),
        engine,
        import,
        "B",
        Target::None,
    );
}

// ---------------------------------------------------------------------------------------

fn python_init_quietly() {
    // Plugins are loaded with the default tracing setup (none): no log output.
    racetrack_plugins::python::ensure_initialized();
}

fn main() {
    if let Ok(spec) = std::env::var(MEMORY_CHILD_ENV) {
        let mut parts = spec.splitn(3, ' ');
        let what = parts.next().expect("what").to_string();
        let count = parts.next().and_then(|s| s.parse().ok()).expect("count");
        let root = PathBuf::from(parts.next().expect("root"));
        memory_child(&what, count, &root);
        return;
    }

    let args: Vec<String> = std::env::args().collect();
    let mode = Mode {
        full: args.iter().any(|a| a == "--bench"),
    };
    // Optional name filter, like criterion's: `cargo bench --bench engine -- start`.
    let filter: Option<&str> = args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(String::as_str);
    let wanted = |name: &str| filter.is_none_or(|f| name.contains(f) || f.contains(name));

    python_init_quietly();
    let root = tempfile::tempdir().expect("temp dir");
    if !mode.full {
        println!(
            "(test mode: one quick pass per case; run `cargo bench --bench engine` for figures)"
        );
    }
    println!(
        "{:<58} {:>12} {:>12} {:>8} {:>9} {:>4}",
        "case", "engine", "baseline", "ratio", "target", "met"
    );
    if wanted("dispatch") {
        bench_dispatch(mode, root.path(), &wanted);
    }
    if wanted("arguments") {
        bench_arguments(mode, root.path());
    }
    if wanted("start") {
        bench_startup(mode, root.path(), &wanted);
    }
    if wanted("memory") {
        bench_memory(mode, root.path());
    }
}
