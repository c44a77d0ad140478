//! Batched calls (calls with keywords: every plugin called from one generated Python
//! function) against the one-by-one path (taken by calls with a time limit): the same
//! outcomes, whatever the signatures, keyword names and failures.

use std::time::Duration;

use crate::common::*;
use racetrack_plugins::{CallOptions, HookArgs, HookError, PluginEngine};

/// Each outcome with its plugin: the result as JSON, or `raised Type: message`.
type Outcomes = Vec<(String, String)>;

fn outcomes(results: Vec<Result<racetrack_plugins::HookOutput, HookError>>) -> Outcomes {
    results
        .into_iter()
        .map(|r| match r {
            Ok(out) => (
                out.plugin.name.clone(),
                out.value.to_json().expect("json").to_string(),
            ),
            Err(HookError::Raised {
                plugin, failure, ..
            }) => (plugin.name.clone(), format!("raised {}", failure.summary())),
            Err(other) => panic!("unexpected {other}"),
        })
        .collect()
}

/// The outcomes of a batched call and of the same call made one by one.
fn both_ways(
    engine: &PluginEngine,
    hook: &str,
    args: &HookArgs,
    options: CallOptions,
) -> (Outcomes, Outcomes) {
    let batched = outcomes(engine.invoke_with(hook, args, options));
    let one_by_one =
        outcomes(engine.invoke_with(hook, args, options.timeout(Duration::from_secs(60))));
    (batched, one_by_one)
}

fn signatures_dir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let plugins = [
        ("positional", "    def hook(self, a):\n        return [a]"),
        (
            "declares-user",
            "    def hook(self, a, user=None):\n        return [a, user]",
        ),
        (
            "keyword-only",
            "    def hook(self, *, user=None, dry_run=False):\n        return [user, dry_run]",
        ),
        (
            "takes-all",
            "    def hook(self, *args, **kwargs):\n        return [list(args), sorted(kwargs)]",
        ),
        ("no-args", "    def hook(self):\n        return 'none'"),
        (
            "raises",
            "    def hook(self, a, user=None):\n        raise ValueError(f'bad {a}')",
        ),
        ("builtin", "    hook = staticmethod(len)"),
    ];
    for (i, (name, body)) in plugins.iter().enumerate() {
        simple_plugin(name, "1", body)
            .priority(i as i64)
            .write_into(tmp.path());
    }
    tmp
}

#[test]
fn batched_calls_match_one_by_one_calls_for_every_signature() {
    let tmp = signatures_dir();
    let engine = engine(tmp.path());
    let calls = [
        HookArgs::new().arg("xyz"),
        HookArgs::new().arg("xyz").arg("surplus"),
        HookArgs::new().arg("xyz").kwarg("user", "alice"),
        HookArgs::new()
            .arg("xyz")
            .kwarg("user", "alice")
            .kwarg("dry_run", true)
            .kwarg("trace_id", "t-1"),
        HookArgs::new().kwarg("user", "bob"),
    ];
    for args in &calls {
        for mode in [
            racetrack_plugins::CallMode::CollectAll,
            racetrack_plugins::CallMode::FailFast,
        ] {
            let (batched, one_by_one) =
                both_ways(&engine, "hook", args, CallOptions::default().mode(mode));
            assert_eq!(batched, one_by_one, "{args:?} {mode:?}");
        }
    }
    // Spot checks that the pruning really happened (not just equally wrong).
    let all = outcomes(
        engine.invoke_collect(
            "hook",
            &HookArgs::new()
                .arg("xyz")
                .kwarg("user", "alice")
                .kwarg("trace_id", "t-1"),
        ),
    );
    let get = |name: &str| {
        all.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(get("positional"), r#"["xyz"]"#);
    assert_eq!(get("declares-user"), r#"["xyz","alice"]"#);
    assert_eq!(get("keyword-only"), r#"["alice",false]"#);
    assert_eq!(get("takes-all"), r#"[["xyz"],["trace_id","user"]]"#);
    assert_eq!(get("raises"), "raised ValueError: bad xyz");
    assert_eq!(get("builtin"), "3");
}

#[test]
fn fail_fast_stops_at_the_first_failure_in_order() {
    let tmp = signatures_dir();
    let engine = engine(tmp.path());
    let results = engine.invoke_with(
        "hook",
        &HookArgs::new().arg("xyz").kwarg("user", "alice"),
        CallOptions::default(),
    );
    let names: Vec<String> = outcomes(results).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "positional",
            "declares-user",
            "keyword-only",
            "takes-all",
            "no-args",
            "raises"
        ],
        "the plugins after the failing one are not called"
    );
}

#[test]
fn keyword_names_source_code_cannot_spell_still_reach_kwargs_hooks() {
    let tmp = tempfile::tempdir().unwrap();
    simple_plugin(
        "all",
        "1",
        "    def hook(self, **kwargs):\n        return sorted(kwargs.items())",
    )
    .write_into(tmp.path());
    simple_plugin(
        "named",
        "1",
        "    def hook(self, x=None):\n        return x",
    )
    .priority(1)
    .write_into(tmp.path());
    let engine = engine(tmp.path());
    let args = HookArgs::new()
        .kwarg("x", 1)
        .kwarg("not-an-identifier", 2)
        .kwarg("class", 3);
    let (batched, one_by_one) = both_ways(&engine, "hook", &args, CallOptions::default());
    assert_eq!(batched, one_by_one);
    assert_eq!(
        batched,
        [
            (
                "all".to_string(),
                r#"[["class",3],["not-an-identifier",2],["x",1]]"#.to_string()
            ),
            ("named".to_string(), "1".to_string()),
        ]
    );
}

#[test]
fn many_call_shapes_of_one_hook_all_get_their_own_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["a", "b"] {
        simple_plugin(
            name,
            "1",
            "    def hook(self, *args, **kwargs):\n        return [len(args), sorted(kwargs)]",
        )
        .write_into(tmp.path());
    }
    let engine = engine(tmp.path());
    // More shapes than are remembered per hook: the later ones go one by one.
    for n in 0..20usize {
        let mut args = HookArgs::new();
        for i in 0..n % 4 {
            args = args.arg(i);
        }
        let key = format!("k{n}");
        args = args.kwarg(&key, n);
        let results = outcomes(engine.invoke_collect("hook", &args));
        let expected = format!(r#"[{},["{key}"]]"#, n % 4);
        assert_eq!(
            results,
            [
                ("a".to_string(), expected.clone()),
                ("b".to_string(), expected)
            ],
            "shape {n}"
        );
    }
}

#[test]
fn a_batched_failure_reads_as_if_the_hook_had_been_called_directly() {
    let tmp = tempfile::tempdir().unwrap();
    simple_plugin(
        "deep",
        "1",
        "    def hook(self, x=None):\n        return self.helper()\n    def helper(self):\n        raise KeyError('k')",
    )
    .write_into(tmp.path());
    simple_plugin(
        "exits",
        "1",
        "    def hook(self, x=None):\n        raise SystemExit(3)",
    )
    .priority(1)
    .write_into(tmp.path());
    let engine = engine(tmp.path());
    // Keywords: what makes a call batched.
    let args = HookArgs::new().kwarg("x", 1);
    let batched = engine.invoke_collect("hook", &args);
    let one_by_one = engine.invoke_with(
        "hook",
        &args,
        CallOptions::default()
            .mode(racetrack_plugins::CallMode::CollectAll)
            .timeout(Duration::from_secs(60)),
    );
    let tracebacks = |results: &[Result<racetrack_plugins::HookOutput, HookError>]| {
        results
            .iter()
            .map(|r| match r {
                Err(HookError::Raised { failure, .. }) => failure.traceback.clone(),
                other => panic!("expected a failure, got {other:?}"),
            })
            .collect::<Vec<_>>()
    };
    let batched = tracebacks(&batched);
    assert_eq!(batched, tracebacks(&one_by_one));
    assert!(
        batched[0].contains("in hook") && batched[0].contains("in helper"),
        "{}",
        batched[0]
    );
    assert!(
        !batched[0].contains("dispatch"),
        "no frame of the engine's own: {}",
        batched[0]
    );
    assert!(batched[1].contains("SystemExit: 3"), "{}", batched[1]);
}

#[test]
fn calls_with_keywords_and_no_time_limit_are_batched() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["a", "b"] {
        simple_plugin(
            name,
            "1",
            "    def hook(self, x=None):\n        import sys\n        try:\n            return sys._getframe(1).f_code.co_name\n        except ValueError:\n            return None",
        )
        .write_into(tmp.path());
    }
    let engine = engine(tmp.path());
    let callers = |results: Vec<Result<racetrack_plugins::HookOutput, HookError>>| {
        outcomes(results)
            .into_iter()
            .map(|(_, caller)| caller)
            .collect::<Vec<_>>()
    };
    let with_keywords = HookArgs::new().kwarg("x", 1);
    assert_eq!(
        callers(engine.invoke_collect("hook", &with_keywords)),
        [r#""dispatch""#, r#""dispatch""#],
        "both plugins called from the one generated function"
    );
    // Without keywords (nothing to prune) or with a time limit: one by one.
    for (args, options) in [
        (HookArgs::new().arg(1), CallOptions::default()),
        (
            with_keywords,
            CallOptions::default().timeout(Duration::from_secs(60)),
        ),
    ] {
        let callers = callers(engine.invoke_with("hook", &args, options));
        assert!(
            callers.iter().all(|caller| caller != r#""dispatch""#),
            "{callers:?}"
        );
    }
}

#[test]
fn threads_writing_new_call_shapes_at_once_neither_block_nor_mix_them_up() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["a", "b", "c"] {
        // Busy enough in Python that the interpreter switches threads mid-call.
        simple_plugin(
            name,
            "1",
            "    def hook(self, *args, **kwargs):\n        sum(range(2000))\n        return [len(args), sorted(kwargs)]",
        )
        .write_into(tmp.path());
    }
    let engine = std::sync::Arc::new(engine(tmp.path()));
    let (done, finished) = std::sync::mpsc::channel();
    for thread in 0..4usize {
        let engine = engine.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            for n in 0..40usize {
                // Shapes new to the hook come from every thread at once.
                let key = format!("k{}", (n + thread) % 12);
                let args = HookArgs::new().arg(n).kwarg(&key, n);
                let results = outcomes(engine.invoke_collect("hook", &args));
                let expected = format!(r#"[1,["{key}"]]"#);
                assert!(
                    results.iter().all(|(_, v)| *v == expected),
                    "thread {thread} call {n}: {results:?}"
                );
            }
            let _ = done.send(thread);
        });
    }
    drop(done);
    for _ in 0..4 {
        finished
            .recv_timeout(Duration::from_secs(120))
            .expect("every thread finishes (a thread that panicked or hangs does not)");
    }
}
