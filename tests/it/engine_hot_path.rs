//! What the hot path's shortcuts must not change: keywords passed by position reach
//! the same parameters, arguments kept between calls are only ever immutable ones,
//! results dropped without the GIL are still released, and a set with many hooks
//! finds each one.

use std::sync::mpsc;
use std::time::Duration;

use crate::common::*;
use racetrack_plugins::{CallOptions, HookArgs, HookError, PluginEngine};

/// Each outcome as text, in call order.
fn texts(results: Vec<Result<racetrack_plugins::HookOutput, HookError>>) -> Vec<String> {
    results
        .into_iter()
        .map(|r| match r {
            Ok(out) => format!(
                "{}: {}",
                out.plugin.name,
                out.value.to_json().expect("json")
            ),
            Err(HookError::Raised {
                plugin, failure, ..
            }) => format!("{}: raised {}", plugin.name, failure.summary()),
            Err(e) => format!("error: {e}"),
        })
        .collect()
}

#[test]
fn keywords_passed_by_position_bind_as_keywords_would() {
    let tmp = tempfile::tempdir().unwrap();
    let plugins = [
        // A parameter between the positional ones and the keyword: no shortcut.
        (
            "gap",
            "    def hook(self, a, b=None, user=None):\n        return [a, b, user]",
        ),
        // Keywords in another order than the parameters.
        (
            "reordered",
            "    def hook(self, a, dry_run=False, user=None):\n        return [a, dry_run, user]",
        ),
        // A positional-only parameter of the same name as a keyword (**kwargs gets it).
        (
            "positional-only",
            "    def hook(self, user, /, **kw):\n        return [user, sorted(kw.items())]",
        ),
        // A wrapper reads the keywords by name: its signature is the wrapped one, its
        // code is not.
        (
            "wrapped",
            "    @logged\n    def hook(self, a, user=None):\n        return [a, user]",
        ),
        (
            "classmethod",
            "    @classmethod\n    def hook(cls, a, user=None):\n        return [cls.__name__, a, user]",
        ),
    ];
    let wrapper = "import functools\n\ndef logged(f):\n    @functools.wraps(f)\n    \
                   def wrapper(*args, **kwargs):\n        return [sorted(kwargs), f(*args, **kwargs)]\n    \
                   return wrapper\n\n";
    for (i, (name, body)) in plugins.iter().enumerate() {
        PluginSrc::new(name, "1")
            .plugin_py(&format!("{wrapper}class Plugin:\n{body}\n"))
            .priority(i as i64)
            .write_into(tmp.path());
    }
    let engine = engine(tmp.path());
    let both_ways = |args: &HookArgs| {
        let batched = texts(engine.invoke_collect("hook", args));
        // A time limit takes the one-by-one path, which passes keywords as keywords.
        let one_by_one = texts(
            engine.invoke_with(
                "hook",
                args,
                CallOptions::default()
                    .mode(racetrack_plugins::CallMode::CollectAll)
                    .timeout(Duration::from_secs(60)),
            ),
        );
        assert_eq!(batched, one_by_one, "{args:?}");
        batched
    };
    // Keywords only: a positional-only `user` is missing, not filled by the keyword.
    let keywords_only = both_ways(&HookArgs::new().kwarg("user", "alice").kwarg("a", "xyz"));
    assert_eq!(
        keywords_only[2],
        "positional-only: raised TypeError: Plugin.hook() missing 1 required positional argument: 'user'"
    );
    let args = HookArgs::new()
        .arg("xyz")
        .kwarg("user", "alice")
        .kwarg("dry_run", true);
    assert_eq!(
        both_ways(&args),
        [
            r#"gap: ["xyz",null,"alice"]"#,
            r#"reordered: ["xyz",true,"alice"]"#,
            r#"positional-only: ["xyz",[["dry_run",true],["user","alice"]]]"#,
            r#"wrapped: [["user"],["xyz","alice"]]"#,
            r#"classmethod: ["Plugin","xyz","alice"]"#,
        ]
    );
}

fn mutating_plugin_dir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    simple_plugin(
        "mutates",
        "1",
        "    def hook(self, config, user=None):\n        \
         config['seen'] = config.get('seen', 0) + 1\n        \
         return [dict(config), user]",
    )
    .write_into(tmp.path());
    tmp
}

#[test]
fn containers_are_built_afresh_for_every_call_with_the_same_args() {
    let tmp = mutating_plugin_dir();
    let engine = engine(tmp.path());
    let args = HookArgs::new()
        .arg(serde_json::json!({"replicas": 2}))
        .kwarg("user", "alice");
    for _ in 0..3 {
        assert_eq!(
            texts(engine.invoke_collect("hook", &args)),
            [r#"mutates: [{"replicas":2,"seen":1},"alice"]"#],
            "what a plugin did to one call's dict never reaches the next call"
        );
    }
}

#[test]
fn arguments_changed_after_calls_are_what_the_next_call_passes() {
    let tmp = tempfile::tempdir().unwrap();
    simple_plugin(
        "echo",
        "1",
        "    def hook(self, name, user=None, dry_run=False):\n        return [name, user, dry_run]",
    )
    .write_into(tmp.path());
    let engine = engine(tmp.path());
    let args = HookArgs::new().arg("deploy").kwarg("user", "alice");
    for _ in 0..3 {
        assert_eq!(
            texts(engine.invoke_collect("hook", &args)),
            [r#"echo: ["deploy","alice",false]"#]
        );
    }
    let more = args.clone().kwarg("dry_run", true);
    assert_eq!(
        texts(engine.invoke_collect("hook", &more)),
        [r#"echo: ["deploy","alice",true]"#]
    );
    let other = HookArgs::new().arg("delete").kwarg("user", "bob");
    assert_eq!(
        texts(engine.invoke_collect("hook", &other)),
        [r#"echo: ["delete","bob",false]"#]
    );
    assert_eq!(
        texts(engine.invoke_collect("hook", &args)),
        [r#"echo: ["deploy","alice",false]"#],
        "the first arguments, again, unchanged by the others"
    );
}

/// A plugin whose `make` returns a new object each call and whose `alive` says how
/// many of those are still referenced anywhere.
fn tracked_results_dir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    PluginSrc::new("tracked", "1")
        .plugin_py(
            "import gc, weakref\n\n\
             class Made:\n    pass\n\n\
             class Plugin:\n    \
             def __init__(self):\n        self.made = []\n\n    \
             def make(self):\n        m = Made()\n        self.made.append(weakref.ref(m))\n        return m\n\n    \
             def alive(self):\n        gc.collect()\n        return sum(1 for r in self.made if r() is not None)\n",
        )
        .write_into(tmp.path());
    tmp
}

fn alive(engine: &PluginEngine) -> u64 {
    let out = engine.invoke("alive", &HookArgs::new()).expect("alive");
    out[0].value.deserialize().expect("a count")
}

#[test]
fn results_dropped_without_the_gil_are_released_by_the_next_call() {
    let tmp = tracked_results_dir();
    let engine = engine(tmp.path());
    for _ in 0..10 {
        drop(engine.invoke("make", &HookArgs::new()).expect("make"));
    }
    assert_eq!(alive(&engine), 0, "released when this thread calls again");

    // A thread that ends gives back what it dropped (joined: it has fully exited).
    let other = engine.clone();
    std::thread::spawn(move || drop(other.invoke("make", &HookArgs::new()).expect("make")))
        .join()
        .unwrap();
    assert_eq!(alive(&engine), 0, "released once the thread ended");

    // A thread that drops many results and never calls again keeps only a few alive.
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (dropped_tx, dropped_rx) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let engine = &engine;
        s.spawn(move || {
            // Dropped together, after the last call: no call of its own drains them.
            let kept: Vec<_> = (0..300)
                .map(|_| engine.invoke("make", &HookArgs::new()).expect("make"))
                .collect();
            drop(kept);
            dropped_tx.send(()).unwrap();
            // Stays alive, without calling, until the other thread has counted.
            done_rx.recv().unwrap();
        });
        dropped_rx.recv().unwrap();
        let waiting = alive(engine);
        done_tx.send(()).unwrap();
        assert!(
            waiting < 100,
            "{waiting} of 300 dropped results still alive on an idle thread"
        );
    });
}

#[test]
fn a_set_with_more_hooks_than_are_pinned_finds_each_one() {
    let tmp = tempfile::tempdir().unwrap();
    PluginSrc::new("many-hooks", "1")
        .plugin_py(
            "class Plugin:\n    pass\n\n\
             for _i in range(60):\n    \
             setattr(Plugin, f'hook_{_i}', (lambda i: lambda self, user=None: [i, user])(_i))\n",
        )
        .write_into(tmp.path());
    let engine = engine(tmp.path());
    let args = HookArgs::new().kwarg("user", "alice");
    std::thread::scope(|s| {
        for t in 0..4 {
            let engine = &engine;
            let args = &args;
            s.spawn(move || {
                for round in 0..3 {
                    for i in (0..60).map(|i| (i + t * 15) % 60) {
                        let out = engine.invoke(&format!("hook_{i}"), args).expect("call");
                        assert_eq!(
                            out[0].value.to_json().unwrap(),
                            serde_json::json!([i, "alice"]),
                            "hook_{i}, round {round}"
                        );
                    }
                }
            });
        }
    });
    // Names no plugin implements: no result, however many there are.
    for i in 0..500 {
        let out = engine.invoke(&format!("unknown_{i}"), &args).expect("call");
        assert!(out.is_empty());
    }
    assert_eq!(engine.invoke("hook_59", &args).expect("call").len(), 1);
}

#[test]
fn arguments_that_may_serialize_differently_are_converted_for_every_call() {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let tmp = tempfile::tempdir().unwrap();
    simple_plugin(
        "echo",
        "1",
        "    def hook(self, n, user=None):\n        return [n, user]",
    )
    .write_into(tmp.path());
    let engine = engine(tmp.path());
    // An atomic serializes its value at the time: the same arguments, new values.
    let args = HookArgs::new().arg(&COUNTER).kwarg("user", "alice");
    for n in 0..4u64 {
        COUNTER.store(n * 10, Ordering::Relaxed);
        assert_eq!(
            texts(engine.invoke_collect("hook", &args)),
            [format!(r#"echo: [{},"alice"]"#, n * 10)]
        );
    }
}

/// A plugin whose instances register a weak reference under `sys.<key>`, with `body`
/// appended to its class.
fn registering_plugin(name: &str, key: &str, body: &str) -> PluginSrc {
    PluginSrc::new(name, "1").plugin_py(&format!(
        "import sys, weakref\n\n\
         class Plugin:\n    \
         def __init__(self):\n        \
         sys.__dict__.setdefault('{key}', []).append(weakref.ref(self))\n\n{body}"
    ))
}

/// How many instances registered under `sys.<key>` are still alive.
fn live_instances(key: &str) -> usize {
    use pyo3::prelude::*;
    let code = std::ffi::CString::new(format!(
        "sum(1 for r in __import__('sys').{key} if r() is not None)"
    ))
    .unwrap();
    Python::attach(|py| {
        py.eval(&code, None, None)
            .and_then(|n| n.extract())
            .unwrap()
    })
}

#[test]
fn instances_of_a_replaced_set_are_released_without_another_hook_call() {
    let tmp = tempfile::tempdir().unwrap();
    registering_plugin("registered", "_rt_hot_path_instances", "").write_into(tmp.path());
    let engine = engine(tmp.path());
    engine.reload();
    engine.reload();
    // No hook call on this thread since: the replaced instances went anyway.
    assert_eq!(
        live_instances("_rt_hot_path_instances"),
        1,
        "only the current set's instance is alive"
    );
}

#[test]
fn a_failed_batched_call_leaves_no_cycle_keeping_its_plugins() {
    use pyo3::prelude::*;
    let tmp = tempfile::tempdir().unwrap();
    registering_plugin(
        "raises-once-registered",
        "_rt_failed_call_instances",
        "    def hook(self, user=None):\n        raise ValueError(user)\n",
    )
    .write_into(tmp.path());
    let engine = engine(tmp.path());
    let gc = |what: &std::ffi::CStr| {
        Python::attach(|py| py.run(what, None, None).unwrap());
    };
    // Without the cycle collector, only reference counts free what the call left.
    gc(c"import gc; gc.collect(); gc.disable()");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let failed = engine.invoke("hook", &HookArgs::new().kwarg("user", "alice"));
        assert!(
            matches!(failed, Err(HookError::Raised { .. })),
            "{failed:?}"
        );
        // The error holds the exception, whose traceback holds the plugin's frame.
        drop(failed);
        engine.reload();
        live_instances("_rt_failed_call_instances")
    }));
    gc(c"import gc; gc.enable()");
    assert_eq!(outcome.unwrap(), 1, "the replaced instance is gone");
}
