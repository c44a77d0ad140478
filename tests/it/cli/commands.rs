//! The commands end to end: install, list, call, docs, delete, exit codes, the plugins
//! folder from the environment, the demo, verbose logs.

use super::*;

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
