//! Case 1: hook dispatch over 10 plugins, typed, generic and with keyword pruning,
//! per plugin-call, against Python loops over the same bound methods.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::PyModule;
use racetrack_plugins::{HookArgs, PluginEngine};

use crate::baselines::*;
use crate::harness::*;
use crate::plugins::*;

pub(crate) fn bench_dispatch(mode: Mode, root: &Path, wanted: &dyn Fn(&str) -> bool) {
    const PLUGINS: usize = 10;
    let dir = root.join("dispatch");
    write_plugins(&dir, PLUGINS);
    let engine = open_engine(&dir);

    // Same results either way, so the two sides do the same work.
    let typed = engine.fatman_runtime_env_vars().expect("typed call");
    assert_eq!(typed.len(), PLUGINS);

    let units = PLUGINS as f64;
    let (env_methods, base) = Python::attach(|py| {
        (
            bound_methods(py, &engine, "fatman_runtime_env_vars").unbind(),
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

    if wanted("dispatch: invoke with kwargs") {
        let (e, b) = kwargs_pruning(mode, &engine, &base);
        report(
            "dispatch: invoke with kwargs pruning (3 kw -> 1), per plugin-call",
            e,
            b,
            "ns",
            Target::AtMost(1.5),
        );
        // The same call on 40 plugins: what each plugin beyond the first 10 costs,
        // without the per-call part (GIL, arguments, change check) spread over them.
        const MORE: usize = 40;
        let more_dir = root.join("dispatch-40");
        write_plugins(&more_dir, MORE);
        let more = open_engine(&more_dir);
        let (e40, b40) = kwargs_pruning(mode, &more, &base);
        let marginal = |at10: f64, at40: f64| {
            (at40 * MORE as f64 - at10 * PLUGINS as f64) / (MORE - PLUGINS) as f64
        };
        report(
            "dispatch: kwargs pruning, each plugin beyond 10 (10 -> 40 plugins)",
            marginal(e, e40),
            marginal(b, b40),
            "ns",
            Target::None,
        );
    }
}

/// Invoke with keyword pruning against a Python loop calling the same bound methods
/// with just the declared keywords; nanoseconds per plugin-call, engine and baseline.
fn kwargs_pruning(mode: Mode, engine: &PluginEngine, base: &Py<PyModule>) -> (f64, f64) {
    // Every hook declares (name, user); the host passes two keywords more.
    let event_args = HookArgs::new()
        .arg("deploy")
        .kwarg("user", "alice")
        .kwarg("trace_id", "0af7651916cd43dd8448eb211c80319c")
        .kwarg("dry_run", false);
    let plugins = engine.loaded_plugins().len();
    let results = engine
        .invoke("racetrack_event", &event_args)
        .expect("pruned call");
    assert_eq!(results.len(), plugins);
    let event_methods = Python::attach(|py| bound_methods(py, engine, "racetrack_event").unbind());
    measure_pair(
        mode,
        plugins as f64,
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
    )
}
