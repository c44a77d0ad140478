//! The `racetrack-plugin` binary: commands, JSON output, exit codes.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::*;

fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_racetrack-plugin"))
        .arg("--plugins-dir")
        .arg(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(out), stderr(out)))
}

#[test]
fn install_list_call_docs_delete() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let zip = tmp.path().join("greeter-0.1.0.zip");
    let src = PluginSrc::new("greeter", "0.1.0")
        .manifest_line("url: https://example.org/greeter")
        .manifest_line("category: demo")
        .manifest_line("components: [lifecycle]")
        .manifest_line("priority: 3")
        .plugin_py(
            "class Plugin:\n    def greet(self, name='nobody', loud=False):\n        return ('HELLO ' if loud else 'hello ') + name\n    def markdown_docs(self):\n        return '# Greeter docs'\n",
        );
    std::fs::write(&zip, src.zip_bytes()).unwrap();

    let out = cli(&dir, &["install", zip.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("greeter 0.1.0"));

    let out = cli(&dir, &["list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list = json(&out);
    let entry = &list[0];
    for key in [
        "name",
        "version",
        "priority",
        "url",
        "category",
        "components",
        "status",
        "error",
    ] {
        assert!(entry.get(key).is_some(), "list --json lacks {key}: {entry}");
    }
    assert_eq!(entry["name"], "greeter");
    assert_eq!(entry["version"], "0.1.0");
    assert_eq!(entry["priority"], 3);
    assert_eq!(entry["url"], "https://example.org/greeter");
    assert_eq!(entry["category"], "demo");
    assert_eq!(entry["components"], serde_json::json!(["lifecycle"]));
    assert_eq!(entry["status"], "loaded");
    assert_eq!(entry["error"], serde_json::Value::Null);

    let out = cli(
        &dir,
        &[
            "call",
            "greet",
            "--kwargs",
            r#"{"name": "ops", "loud": true, "unused": 1}"#,
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json(&out),
        serde_json::json!([{"plugin": "greeter", "version": "0.1.0", "result": "HELLO ops"}])
    );
    let out = cli(&dir, &["call", "greet"]);
    assert!(stdout(&out).contains("hello nobody"), "{}", stdout(&out));

    let out = cli(&dir, &["docs", "greeter"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("# Greeter docs"));

    let out = cli(&dir, &["--component", "image-builder", "list", "--json"]);
    assert_eq!(json(&out)[0]["status"], "skipped");

    let out = cli(&dir, &["delete", "greeter", "0.1.0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&cli(&dir, &["list", "--json"])), serde_json::json!([]));
    let out = cli(&dir, &["delete", "greeter"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no installed plugin named greeter"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn exit_codes_and_errors_on_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    simple_plugin(
        "boom",
        "1",
        "    def act(self):\n        raise RuntimeError('kaboom')",
    )
    .write_into(&dir);
    PluginSrc::new("wreck", "2")
        .plugin_py("import nothing_here\n")
        .write_into(&dir);

    let out = cli(&dir, &["call", "act", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let rows = json(&out);
    assert_eq!(rows[0]["plugin"], "boom");
    assert!(
        rows[0]["error"]
            .as_str()
            .unwrap()
            .contains("RuntimeError: kaboom"),
        "{rows}"
    );
    assert!(rows[0].get("result").is_none());
    let err = stderr(&out);
    assert!(
        err.contains("boom 1") && err.contains("act") && err.contains("RuntimeError: kaboom"),
        "{err}"
    );
    assert!(err.contains("Traceback"), "{err}");

    let out = cli(&dir, &["list", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed plugin makes list exit 1"
    );
    let list = json(&out);
    let wreck = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "wreck")
        .unwrap();
    assert_eq!(wreck["status"], "failed");
    assert!(wreck["error"]
        .as_str()
        .unwrap()
        .contains("ModuleNotFoundError"));

    assert_eq!(cli(&dir, &["no-such-command"]).status.code(), Some(2));
    assert_eq!(
        cli(&dir, &["call", "act", "--kwargs", "{not json"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        cli(&dir, &["call", "act", "--kwargs", "[1, 2]"])
            .status
            .code(),
        Some(2)
    );

    let not_zip = tmp.path().join("plugin.txt");
    std::fs::write(&not_zip, "hello").unwrap();
    let out = cli(&dir, &["install", not_zip.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("plugin.txt") && stderr(&out).contains(".zip"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn plugins_dir_from_environment() {
    let tmp = tempfile::tempdir().unwrap();
    simple_plugin("envy", "1", "    pass").write_into(tmp.path());
    let out = Command::new(env!("CARGO_BIN_EXE_racetrack-plugin"))
        .args(["list", "--json"])
        .env("RACETRACK_PLUGINS_DIR", tmp.path())
        .output()
        .unwrap();
    assert_eq!(json(&out)[0]["name"], "envy");
}

#[test]
fn demo_calls_every_seed_hook_of_the_sample() {
    let out = Command::new(env!("CARGO_BIN_EXE_racetrack-plugin"))
        .arg("demo")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("skynet-watcher"), "{text}");
    assert!(
        text.contains("Skynet is watching: admin deployed fatman adder"),
        "{text}"
    );
    assert!(text.contains("\"SKYNET_WATCHER\": \"enabled\""), "{text}");
    for hook in [
        "post_fatman_deploy",
        "fatman_runtime_env_vars",
        "fatman_job_types",
        "fatman_deployers",
        "fatman_monitors",
        "fatman_logs_streamers",
        "markdown_docs",
        "post_fatman_delete",
    ] {
        assert!(
            text.contains(&format!("{hook}: ")),
            "{hook} missing in {text}"
        );
    }
    assert!(!text.contains("FAILED"), "{text}");
}

#[test]
fn verbose_logs_show_load_and_hook_spans_with_durations() {
    let tmp = tempfile::tempdir().unwrap();
    simple_plugin(
        "traced",
        "4.2",
        "    def ping(self):\n        return 'pong'",
    )
    .write_into(tmp.path());
    let out = Command::new(env!("CARGO_BIN_EXE_racetrack-plugin"))
        .arg("--plugins-dir")
        .arg(tmp.path())
        .args(["-vv", "call", "ping"])
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    let logs = stderr(&out);
    let load_line = logs
        .lines()
        .find(|l| l.contains("load_plugin") && l.contains("plugin loaded"))
        .unwrap_or_else(|| panic!("no load span in:\n{logs}"));
    assert!(
        load_line.contains("traced") && load_line.contains("elapsed_ms"),
        "{load_line}"
    );
    let hook_line = logs
        .lines()
        .find(|l| l.contains("hook{") && l.contains("hook called"))
        .unwrap_or_else(|| panic!("no hook span in:\n{logs}"));
    assert!(
        hook_line.contains("ping") && hook_line.contains("elapsed_us"),
        "{hook_line}"
    );
}

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
