//! Results with their plugin, in order; argument and keyword pruning; calling one plugin.

use super::*;

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
