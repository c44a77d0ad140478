//! Calling hooks: results with origin, argument pruning, errors, typed seed hooks.

use std::collections::BTreeMap;

use crate::common::*;
use racetrack_plugins::{FatmanDto, GitDefinition, HookArgs, HookError, Manifest};

#[test]
fn results_come_with_their_plugin_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    simple_plugin(
        "one",
        "1.0",
        "    def ping(self, x):\n        return {'from': 'one', 'x': x}",
    )
    .write_into(tmp.path());
    simple_plugin(
        "two",
        "2.0",
        "    def ping(self, x):\n        return [x, x]",
    )
    .priority(1)
    .write_into(tmp.path());
    simple_plugin("silent", "1", "    def other(self):\n        return 1").write_into(tmp.path());
    let engine = engine(tmp.path());
    let outputs = engine.invoke("ping", &HookArgs::new().arg(7)).unwrap();
    assert_eq!(outputs.len(), 2, "plugins without the hook are not called");
    assert_eq!(outputs[0].plugin.name, "one");
    assert_eq!(outputs[0].plugin.version, "1.0");
    assert_eq!(
        outputs[0].value.to_json().unwrap(),
        serde_json::json!({"from": "one", "x": 7})
    );
    assert_eq!(outputs[1].plugin.name, "two");
    assert_eq!(
        outputs[1].value.to_json().unwrap(),
        serde_json::json!([7, 7])
    );
    assert!(engine
        .invoke("no_such_hook", &HookArgs::new())
        .unwrap()
        .is_empty());
}

#[test]
fn undeclared_kwargs_and_surplus_args_are_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    simple_plugin(
        "old",
        "1",
        "    def hook(self, a, name=None):\n        return [a, name]",
    )
    .write_into(tmp.path());
    simple_plugin(
        "new",
        "1",
        "    def hook(self, a, name=None, extra=None):\n        return [a, name, extra]",
    )
    .write_into(tmp.path());
    simple_plugin(
        "greedy",
        "1",
        "    def hook(self, *args, **kwargs):\n        return [list(args), sorted(kwargs)]",
    )
    .write_into(tmp.path());
    let engine = engine(tmp.path());
    let args = HookArgs::new()
        .arg(1)
        .kwarg("name", "n")
        .kwarg("extra", true)
        .kwarg("unknown", 0);
    let results: BTreeMap<String, serde_json::Value> =
        call_json(&engine, "hook", &args).into_iter().collect();
    assert_eq!(results["old"], serde_json::json!([1, "n"]));
    assert_eq!(results["new"], serde_json::json!([1, "n", true]));
    assert_eq!(
        results["greedy"],
        serde_json::json!([[1], ["extra", "name", "unknown"]])
    );
    // More positional arguments than an old hook takes: the surplus is dropped.
    let results: BTreeMap<String, serde_json::Value> = call_json(
        &engine,
        "hook",
        &HookArgs::new().arg(1).arg("pos-name").arg("x").arg("y"),
    )
    .into_iter()
    .collect();
    assert_eq!(results["old"], serde_json::json!([1, "pos-name"]));
    assert_eq!(
        results["greedy"],
        serde_json::json!([[1, "pos-name", "x", "y"], []])
    );
}

/// Each implementation remembers which of the last call's keywords it keeps: a call
/// passing other keywords, or the same ones in another order, must not reuse that.
#[test]
fn keyword_pruning_follows_each_calls_own_keywords() {
    let tmp = tempfile::tempdir().unwrap();
    simple_plugin(
        "old",
        "1",
        "    def hook(self, a, name=None):\n        return [a, name]",
    )
    .write_into(tmp.path());
    simple_plugin(
        "new",
        "1",
        "    def hook(self, a, name=None, extra=None):\n        return [a, name, extra]",
    )
    .write_into(tmp.path());
    let engine = engine(tmp.path());
    // (keywords passed, what `old` returns, what `new` returns)
    type Call<'a> = (
        &'a [(&'a str, serde_json::Value)],
        serde_json::Value,
        serde_json::Value,
    );
    let calls: [Call; 5] = [
        (
            &[
                ("name", "n".into()),
                ("extra", true.into()),
                ("unknown", 0.into()),
            ],
            serde_json::json!([1, "n"]),
            serde_json::json!([1, "n", true]),
        ),
        (
            &[("extra", true.into()), ("name", "n".into())],
            serde_json::json!([1, "n"]),
            serde_json::json!([1, "n", true]),
        ),
        (
            &[("unknown", 0.into()), ("extra", "e".into())],
            serde_json::json!([1, null]),
            serde_json::json!([1, null, "e"]),
        ),
        (
            &[],
            serde_json::json!([1, null]),
            serde_json::json!([1, null, null]),
        ),
        (
            &[
                ("name", "again".into()),
                ("extra", true.into()),
                ("unknown", 0.into()),
            ],
            serde_json::json!([1, "again"]),
            serde_json::json!([1, "again", true]),
        ),
    ];
    for (kwargs, old, new) in calls {
        let mut args = HookArgs::new().arg(1);
        for (name, value) in kwargs {
            args = args.kwarg(*name, value.clone());
        }
        let results: BTreeMap<String, serde_json::Value> =
            call_json(&engine, "hook", &args).into_iter().collect();
        assert_eq!(results["old"], old, "{kwargs:?}");
        assert_eq!(results["new"], new, "{kwargs:?}");
    }
}

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
fn invoke_one_targets_a_single_plugin() {
    let tmp = tempfile::tempdir().unwrap();
    simple_plugin("a", "1", "    def who(self):\n        return 'a'").write_into(tmp.path());
    simple_plugin("b", "1", "    def who(self):\n        return 'b'").write_into(tmp.path());
    simple_plugin("c", "1", "    pass").write_into(tmp.path());
    let engine = engine(tmp.path());
    let one = engine
        .invoke_one("b", "who", &HookArgs::new())
        .unwrap()
        .unwrap();
    assert_eq!(one.value.to_json().unwrap(), "b");
    assert!(engine
        .invoke_one("c", "who", &HookArgs::new())
        .unwrap()
        .is_none());
    assert!(matches!(
        engine.invoke_one("zzz", "who", &HookArgs::new()),
        Err(HookError::NoSuchPlugin { .. })
    ));
}

fn fatman_fixture() -> (Manifest, FatmanDto) {
    let manifest = Manifest {
        name: "adder".into(),
        owner_email: "me@example.com".into(),
        lang: Some("python3".into()),
        git: GitDefinition {
            remote: "https://git.example.com/adder".into(),
            branch: Some("main".into()),
            directory: Some("sub".into()),
            ..Default::default()
        },
        extra: [("replicas".to_string(), serde_json::json!(2))]
            .into_iter()
            .collect(),
        ..Default::default()
    };
    let fatman = FatmanDto {
        name: "adder".into(),
        version: "0.0.1".into(),
        status: "running".into(),
        create_time: 1,
        update_time: 2,
        manifest: Some(manifest.clone()),
        deployed_by: Some("alice".into()),
        ..Default::default()
    };
    (manifest, fatman)
}

#[test]
fn seed_hooks_typed() {
    let tmp = tempfile::tempdir().unwrap();
    PluginSrc::new("recorder", "1")
        .file("templates/job.Dockerfile", "FROM {{ base_image }}\n")
        .plugin_py(
            r##"
import json, pathlib
class Deployer:
    def __init__(self, tag):
        self.tag = tag
    def deploy(self, name):
        return f"{self.tag} deployed {name}"
class Plugin:
    def __init__(self):
        self.log = pathlib.Path(str(self.config_path)).with_name("calls.jsonl")
    def _record(self, **data):
        with self.log.open("a") as f:
            f.write(json.dumps(data) + "\n")
    def post_fatman_deploy(self, manifest, fatman, image_name, deployer_username=None):
        self._record(hook="deploy", manifest_name=manifest.name, remote=manifest.git.remote,
                     branch=manifest["git"]["branch"], replicas=manifest.replicas,
                     fatman=fatman.name, fatman_manifest_owner=fatman.manifest.owner_email,
                     image=image_name, user=deployer_username, deployed_by=fatman.deployed_by)
    def post_fatman_delete(self, fatman, username_executor=None):
        self._record(hook="delete", fatman=fatman.name, user=username_executor)
    def fatman_runtime_env_vars(self):
        return {"SHARED": "recorder", "ONLY_RECORDER": "1"}
    def fatman_job_types(self, docker_registry_prefix):
        return {"python3": (f"{docker_registry_prefix}/python3:latest",
                            pathlib.Path("templates/job.Dockerfile"))}
    def fatman_deployers(self):
        return {"docker": Deployer("docker")}
    def fatman_monitors(self):
        return {"docker": Deployer("monitor")}
    def fatman_logs_streamers(self):
        return None
    def markdown_docs(self):
        return "# Recorder"
"##,
        )
        .write_into(tmp.path());
    simple_plugin(
        "later",
        "1",
        "    def fatman_runtime_env_vars(self):\n        return {'SHARED': 'later'}\n    def fatman_job_types(self, prefix):\n        return {'escape': ('img', '../../../etc/passwd')}",
    )
    .priority(5)
    .write_into(tmp.path());
    let engine = engine(tmp.path());
    let (manifest, fatman) = fatman_fixture();

    engine
        .post_fatman_deploy(&manifest, &fatman, "registry/adder:1", Some("bob"))
        .unwrap();
    engine.post_fatman_delete(&fatman, None).unwrap();
    let log = std::fs::read_to_string(tmp.path().join("config/recorder-1/calls.jsonl")).unwrap();
    let calls: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        calls[0],
        serde_json::json!({"hook": "deploy", "manifest_name": "adder", "remote": "https://git.example.com/adder",
            "branch": "main", "replicas": 2, "fatman": "adder", "fatman_manifest_owner": "me@example.com",
            "image": "registry/adder:1", "user": "bob", "deployed_by": "alice"})
    );
    assert_eq!(
        calls[1],
        serde_json::json!({"hook": "delete", "fatman": "adder", "user": null})
    );

    let env = engine.fatman_runtime_env_vars().unwrap();
    assert_eq!(
        env["SHARED"], "later",
        "later plugins override earlier ones"
    );
    assert_eq!(env["ONLY_RECORDER"], "1");

    let err = engine.fatman_job_types("reg.example.com/ns").unwrap_err();
    assert!(
        err.to_string().contains("later 1") && err.to_string().contains("outside"),
        "{err}"
    );
    engine.delete_plugin("later", None, false).unwrap();
    let types = engine.fatman_job_types("reg.example.com/ns").unwrap();
    let job = &types["python3"];
    assert_eq!(job.base_image, "reg.example.com/ns/python3:latest");
    assert!(job
        .template_path
        .ends_with("extracted/recorder-1/templates/job.Dockerfile"));
    assert!(job.template_path.is_file());

    let deployers = engine.fatman_deployers().unwrap();
    let deployed = deployers["docker"]
        .object
        .call_method("deploy", &HookArgs::new().arg("adder"))
        .unwrap();
    assert_eq!(deployed.to_json().unwrap(), "docker deployed adder");
    assert_eq!(deployers["docker"].plugin.name, "recorder");
    let monitors = engine.fatman_monitors().unwrap();
    assert_eq!(
        monitors["docker"]
            .object
            .getattr("tag")
            .unwrap()
            .to_json()
            .unwrap(),
        "monitor"
    );
    assert!(engine.fatman_logs_streamers().unwrap().is_empty());
    assert_eq!(
        engine.markdown_docs("recorder").unwrap().as_deref(),
        Some("# Recorder")
    );
}

#[test]
fn wrong_result_shapes_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    simple_plugin("shapeless", "2", "    def fatman_runtime_env_vars(self):\n        return ['not', 'a', 'dict']\n    def fatman_deployers(self):\n        return 'nope'")
        .write_into(tmp.path());
    let engine = engine(tmp.path());
    let err = engine.fatman_runtime_env_vars().unwrap_err();
    assert!(matches!(err, HookError::BadResult { .. }));
    assert!(err.to_string().contains("shapeless 2"), "{err}");
    let err = engine.fatman_deployers().unwrap_err();
    assert!(err.to_string().contains("expected a dict"), "{err}");
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
