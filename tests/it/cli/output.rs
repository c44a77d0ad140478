//! The CLI's output: pinned in snapshots (`snapshots/`), unshowable results, closed
//! pipes, timeouts.

use super::*;

/// The CLI's output, pinned whole: the temporary folder reads `[TMP]`, and the caret
/// lines under traceback frames (which CPython versions draw differently) are dropped.
fn snapshot_settings(tmp: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    // Canonical too: macOS reaches /tmp through /private/tmp.
    for path in [tmp.to_path_buf(), tmp.canonicalize().unwrap()] {
        settings.add_filter(&regex::escape(&path.display().to_string()), "[TMP]");
    }
    settings.add_filter(r"(?m)^\s*[~^]+\s*\n", "");
    settings
}

/// Stdout and stderr of one run, with its exit code, as one snapshot.
fn transcript(out: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    )
}

#[test]
fn output_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let zip = tmp.path().join("greeter-0.1.0.zip");
    let greeter = PluginSrc::new("greeter", "0.1.0")
        .manifest_line("url: https://example.org/greeter")
        .manifest_line("category: demo")
        .manifest_line("priority: 3")
        .plugin_py(
            "class Plugin:\n    def greet(self, name='nobody', loud=False):\n        return ('HELLO ' if loud else 'hello ') + name\n    def act(self):\n        return {'done': [1, 2.5, None, True]}\n",
        );
    std::fs::write(&zip, greeter.zip_bytes()).unwrap();
    simple_plugin(
        "boom",
        "1",
        "    def act(self):\n        raise RuntimeError('kaboom')",
    )
    .write_into(&dir);
    PluginSrc::new("wreck", "2")
        .plugin_py("import nothing_here\n")
        .write_into(&dir);
    let not_zip = tmp.path().join("plugin.txt");
    std::fs::write(&not_zip, "hello").unwrap();

    let runs: &[(&str, &[&str])] = &[
        ("install", &["install", zip.to_str().unwrap()]),
        ("list", &["list"]),
        ("list_json", &["list", "--json"]),
        (
            "call_json",
            &[
                "call",
                "greet",
                "--kwargs",
                r#"{"name": "ops", "loud": true, "unused": 1}"#,
                "--json",
            ],
        ),
        ("call_text", &["call", "greet"]),
        ("call_raising_json", &["call", "act", "--json"]),
        (
            "call_collect_all_json",
            &["call", "act", "--collect-all", "--json"],
        ),
        ("call_unimplemented", &["call", "nobody_has_this"]),
        ("call_bad_kwargs", &["call", "act", "--kwargs", "[1, 2]"]),
        ("install_not_a_zip", &["install", not_zip.to_str().unwrap()]),
        ("delete_unknown", &["delete", "nobody"]),
    ];
    let settings = snapshot_settings(tmp.path());
    for (name, args) in runs {
        let out = cli(&dir, args);
        settings.bind(|| insta::assert_snapshot!(*name, transcript(&out)));
    }
}

#[test]
fn call_json_reports_an_unshowable_result_in_its_place_and_keeps_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("a-shared", "        x = ['leaf']\n        for _ in range(60):\n            x = [x, x]\n        return x", "more than"),
        ("b-bigint", "        return {'n': 2**100}", "result['n']: integer beyond JSON's safe range"),
        ("c-repr", "        class Bad:\n            def __repr__(self):\n                raise RuntimeError('no repr')\n        return [Bad()]", "repr() of a Bad raised RuntimeError: no repr"),
        ("d-surrogate", "        return 'a\\udc80'", "lone surrogate"),
        ("e-nan", "        return float('nan')", "nan is not a JSON number"),
        ("f-keys", "        return {1: 'a', '1': 'b'}", "keys 1 and '1' are both '1' in JSON"),
        ("g-cycle", "        x = []\n        x.append(x)\n        return x", "a cycle"),
    ];
    for (i, (name, body, _)) in cases.iter().enumerate() {
        simple_plugin(name, "1.0", &format!("    def answer(self):\n{body}"))
            .priority(i as i64)
            .write_into(tmp.path());
    }
    simple_plugin(
        "z-fine",
        "1.0",
        "    def answer(self):\n        return {'ok': [1, 2.5]}",
    )
    .priority(99)
    .write_into(tmp.path());
    let started = std::time::Instant::now();
    let out = cli(tmp.path(), &["call", "answer", "--json"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = json(&out);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), cases.len() + 1, "{rows:?}");
    for ((name, _, problem), row) in cases.iter().zip(rows) {
        assert_eq!(row["plugin"], *name, "{row}");
        assert_eq!(row["version"], "1.0");
        assert!(row.get("result").is_none(), "{row}");
        let error = row["error"].as_str().unwrap();
        assert!(error.contains(&format!("plugin {name} 1.0")), "{error}");
        assert!(error.contains("hook answer"), "{error}");
        assert!(error.contains(problem), "{name}: {error}");
        assert!(stderr(&out).contains(error), "{}", stderr(&out));
    }
    assert_eq!(
        rows[cases.len()],
        serde_json::json!({"plugin": "z-fine", "version": "1.0", "result": {"ok": [1, 2.5]}})
    );
}

#[test]
fn list_into_a_closed_pipe_ends_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    for i in 0..40 {
        simple_plugin(
            &format!("p{i}"),
            "1.0",
            "    def x(self):\n        return 1",
        )
        .write_into(tmp.path());
    }
    // `racetrack-plugin list | head -0`: the reader is gone before anything is written.
    let mut child = Command::new(env!("CARGO_BIN_EXE_racetrack-plugin"))
        .arg("--plugins-dir")
        .arg(tmp.path())
        .arg("list")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(101), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn call_timeout_reports_the_slow_plugin_and_moves_on() {
    let tmp = tempfile::tempdir().unwrap();
    // Blocked in C (time.sleep): not interruptible, so the CLI leaves it behind.
    simple_plugin(
        "sleeper",
        "1.0",
        "    def work(self):\n        import time\n        time.sleep(60)",
    )
    .priority(1)
    .write_into(tmp.path());
    simple_plugin("quick", "1.0", "    def work(self):\n        return 'done'")
        .priority(2)
        .write_into(tmp.path());
    let started = std::time::Instant::now();
    let out = cli(
        tmp.path(),
        &[
            "call",
            "work",
            "--collect-all",
            "--timeout",
            "0.5",
            "--json",
        ],
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        json(&out),
        serde_json::json!([
            {"plugin": "sleeper", "version": "1.0", "error": "plugin sleeper 1.0: hook work timed out after 0.5s"},
            {"plugin": "quick", "version": "1.0", "result": "done"},
        ])
    );
    assert!(stderr(&out).contains("error: plugin sleeper 1.0: hook work timed out after 0.5s"));

    let out = cli(tmp.path(), &["call", "work", "--timeout=0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("0 is not a positive number of seconds"),
        "{}",
        stderr(&out)
    );
}
