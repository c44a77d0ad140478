//! Hooks that fail: tracebacks naming plugin, version and hook; failed plugins;
//! pyo3's panic exception; time limits.

use super::*;

#[test]
fn raising_hook_names_plugin_version_hook_and_traceback() {
    let tmp = tempfile::tempdir().unwrap();
    simple_plugin(
        "first",
        "1",
        "    def act(self):\n        return 'first ran'",
    )
    .write_into(tmp.path());
    simple_plugin(
        "broken",
        "0.9",
        "    def act(self):\n        return self.helper()\n    def helper(self):\n        raise KeyError('missing-key')",
    )
    .priority(1)
    .write_into(tmp.path());
    simple_plugin("last", "1", "    def act(self):\n        return 'last ran'")
        .priority(2)
        .write_into(tmp.path());
    let engine = engine(tmp.path());

    let err = engine.invoke("act", &HookArgs::new()).unwrap_err();
    match &err {
        HookError::Raised {
            plugin,
            hook,
            failure,
        } => {
            assert_eq!(plugin.name, "broken");
            assert_eq!(plugin.version, "0.9");
            assert_eq!(hook, "act");
            assert_eq!(failure.exception, "KeyError");
            assert!(failure.message.contains("missing-key"));
            assert!(
                failure.traceback.contains("in helper"),
                "{}",
                failure.traceback
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("broken 0.9") && text.contains("act") && text.contains("KeyError"),
        "{text}"
    );

    // Collect-all calls every plugin and reports the failure in its place.
    let all = engine.invoke_collect("act", &HookArgs::new());
    assert_eq!(all.len(), 3);
    assert!(all[0].is_ok() && all[1].is_err() && all[2].is_ok());
    assert_eq!(
        all[2].as_ref().unwrap().value.to_json().unwrap(),
        "last ran"
    );
}

#[test]
fn calling_a_failed_plugin_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    PluginSrc::new("sick", "1")
        .plugin_py("raise ImportError('no driver')\n")
        .write_into(tmp.path());
    let engine = engine(tmp.path());
    let err = engine
        .invoke_one("sick", "markdown_docs", &HookArgs::new())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("installed but failed") && text.contains("no driver"),
        "{text}"
    );
}

#[test]
fn a_hook_raising_pyo3s_panic_exception_is_that_hooks_error() {
    use pyo3::prelude::*;

    let tmp = tempfile::tempdir().unwrap();
    simple_plugin(
        "panicky",
        "1.0",
        "    def boom(self):\n        import builtins\n        raise builtins.racetrack_test_panic_exception('from a plugin')",
    )
    .priority(1)
    .write_into(tmp.path());
    simple_plugin("calm", "1.0", "    def boom(self):\n        return 'fine'")
        .priority(2)
        .write_into(tmp.path());
    let engine = engine(tmp.path());
    // pyo3's own PanicException (a BaseException), as a pyo3-built library lets it
    // escape; the plugin reaches the class through builtins.
    Python::attach(|py| {
        let class = py.get_type::<pyo3::panic::PanicException>();
        py.import("builtins")
            .and_then(|b| b.setattr("racetrack_test_panic_exception", class))
            .unwrap();
    });

    let all = engine.invoke_collect("boom", &HookArgs::new());
    assert_eq!(all.len(), 2);
    match &all[0] {
        Err(HookError::Raised {
            plugin,
            hook,
            failure,
        }) => {
            assert_eq!((plugin.name.as_str(), hook.as_str()), ("panicky", "boom"));
            assert_eq!(failure.exception, "PanicException");
            assert_eq!(failure.message, "from a plugin");
            assert!(
                failure.traceback.contains("in boom"),
                "{}",
                failure.traceback
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(all[1].as_ref().unwrap().value.to_json().unwrap(), "fine");
}

#[test]
fn a_hook_over_its_time_limit_is_a_timeout_and_the_call_moves_on() {
    use racetrack_plugins::{CallMode, CallOptions};
    use std::time::{Duration, Instant};

    let tmp = tempfile::tempdir().unwrap();
    // A CPU-bound loop: interrupted between bytecodes; it records how far it got.
    PluginSrc::new("spinner", "1.0")
        .priority(1)
        .plugin_py(
            "import threading\nSTOPPED = threading.Event()\nclass Plugin:\n    def work(self):\n        try:\n            while True:\n                pass\n        finally:\n            STOPPED.set()\n    def stopped(self):\n        return STOPPED.wait(30)\n",
        )
        .write_into(tmp.path());
    simple_plugin(
        "quick",
        "1.0",
        "    def work(self, n=1):\n        return n * 2",
    )
    .priority(2)
    .write_into(tmp.path());
    let engine = engine(tmp.path());
    let options = CallOptions::default()
        .mode(CallMode::CollectAll)
        .timeout(Duration::from_millis(300));

    let started = Instant::now();
    let outcomes = engine.invoke_with("work", &HookArgs::new().kwarg("n", 21), options);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(outcomes.len(), 2);
    match &outcomes[0] {
        Err(
            e @ HookError::Timeout {
                plugin,
                hook,
                timeout,
            },
        ) => {
            assert_eq!((plugin.name.as_str(), hook.as_str()), ("spinner", "work"));
            assert_eq!(*timeout, Duration::from_millis(300));
            assert_eq!(
                e.to_string(),
                "plugin spinner 1.0: hook work timed out after 0.3s"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(outcomes[1].as_ref().unwrap().value.to_json().unwrap(), 42);
    // The interrupted hook really stopped (its `finally` ran).
    let stopped = engine
        .invoke_one("spinner", "stopped", &HookArgs::new())
        .unwrap()
        .unwrap();
    assert_eq!(stopped.value.to_json().unwrap(), true);
    // Within the limit, a timed call is an ordinary one.
    let one = engine
        .invoke_one_with("quick", "work", &HookArgs::new(), options)
        .unwrap()
        .unwrap();
    assert_eq!(one.value.to_json().unwrap(), 2);
}
