//! Case 2: converting realistic `Manifest` + `FatmanDto` arguments to Python, against
//! building the same object graph in Python.

use std::ffi::CString;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use pyo3::prelude::*;
use racetrack_plugins::{FatmanDto, GitDefinition, HookArgs, Manifest};
use serde_json::{json, Map, Value};

use crate::baselines::*;
use crate::harness::*;
use crate::plugins::*;

// 2. Arguments

pub(crate) fn realistic_manifest() -> Manifest {
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

pub(crate) fn realistic_fatman(manifest: &Manifest) -> FatmanDto {
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
pub(crate) fn py_literal(value: &Value, out: &mut String) {
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

pub(crate) fn bench_arguments(mode: Mode, root: &Path) {
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
