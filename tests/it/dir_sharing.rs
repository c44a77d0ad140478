//! One plugins directory shared by several processes at once: real `racetrack-plugin`
//! processes started together on one directory, in bounded rounds.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_racetrack-plugin"))
        .arg("--plugins-dir")
        .arg(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs")
}

fn finish(child: Child, what: &str) -> Output {
    let out = child.wait_with_output().expect("process ends");
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A plugin with enough files that extracting it takes a moment, so processes starting
/// together overlap.
fn bulky_plugin(name: &str) -> PluginSrc {
    let mut src = simple_plugin(
        name,
        "1.0",
        &format!("    def who(self):\n        from helpers_0 import VALUE\n        return '{name}' + VALUE\n"),
    );
    for i in 0..40 {
        src = src.file(
            &format!("helpers_{i}.py"),
            &format!("VALUE = '{}'\n", "x".repeat(2000 + i)),
        );
    }
    src
}

fn loaded_names(out: &Output) -> Vec<(String, String)> {
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list --json");
    list.as_array()
        .expect("array")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_string(),
                p["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn processes_starting_cold_together_all_load_every_plugin() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let names: Vec<String> = (0..6).map(|i| format!("cold{i}")).collect();
    for name in &names {
        bulky_plugin(name).write_into(&dir);
    }
    let started = Instant::now();
    for round in 0..6 {
        // As after a fresh deployment: code never extracted, no bookkeeping yet.
        let _ = std::fs::remove_dir_all(dir.join("extracted"));
        let _ = std::fs::remove_dir_all(dir.join("state"));
        let children: Vec<Child> = (0..4).map(|_| spawn(&dir, &["list", "--json"])).collect();
        for (i, child) in children.into_iter().enumerate() {
            let out = finish(child, &format!("round {round}, process {i}: list"));
            let listed = loaded_names(&out);
            assert_eq!(listed.len(), names.len(), "{listed:?}");
            for (name, status) in &listed {
                assert_eq!(status, "loaded", "round {round}, process {i}: {name}");
            }
        }
        let order = std::fs::read_to_string(dir.join("state/install-order.txt")).unwrap();
        assert_eq!(order.lines().count(), names.len(), "{order}");
    }
    assert!(started.elapsed() < Duration::from_secs(120));
}

#[test]
fn a_warm_start_waits_for_no_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    simple_plugin("warm", "1", "    pass\n").write_into(&dir);
    drop(engine(&dir));
    // Another process busy installing: it holds the directory lock throughout.
    let holder = racetrack_plugins::store::PluginsDir::open(&dir).unwrap();
    let (held, release) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
    let holding = std::thread::spawn(move || {
        let _lock = holder.lock("a long install").unwrap();
        held.0.send(()).unwrap();
        let _ = release.1.recv();
    });
    held.1.recv().unwrap();
    let (opened, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let engine = engine(&dir);
        let _ = opened.send(engine.loaded_plugins().len());
    });
    let loaded = done.recv_timeout(Duration::from_secs(30));
    release.0.send(()).unwrap();
    holding.join().unwrap();
    assert_eq!(loaded, Ok(1), "the warm start waited for the lock");
}

#[test]
fn workers_installing_and_deleting_their_own_plugins_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    // A plugin nobody touches: it must stay loaded and in the order throughout.
    simple_plugin(
        "steady",
        "1.0",
        "    def who(self):\n        return 'steady'\n",
    )
    .write_into(&dir);
    let zips: Vec<Vec<PathBuf>> = (0..3)
        .map(|w| {
            (0..2)
                .map(|k| {
                    let src = simple_plugin(
                        &format!("w{w}p{k}"),
                        "1.0",
                        "    def who(self):\n        return 1\n",
                    );
                    let path = tmp.path().join(src.file_name());
                    std::fs::write(&path, src.zip_bytes()).unwrap();
                    path
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    for round in 0..3 {
        // Each worker: install its two plugins (while others call hooks), list,
        // call, delete the first one.
        let mut installs: Vec<(String, Child)> = zips
            .iter()
            .flatten()
            .map(|zip| {
                (
                    "install".to_string(),
                    spawn(&dir, &["install", zip.to_str().unwrap()]),
                )
            })
            .collect();
        installs.push(("call".into(), spawn(&dir, &["call", "who", "--json"])));
        for (what, child) in installs {
            let out = finish(child, &format!("round {round}: {what}"));
            if what == "call" {
                assert_calls_answered(&out, round);
            }
        }
        let mut mixed: Vec<(String, Child)> = Vec::new();
        for w in 0..3 {
            mixed.push((
                format!("delete w{w}p0"),
                spawn(&dir, &["delete", &format!("w{w}p0")]),
            ));
            mixed.push((format!("list {w}"), spawn(&dir, &["list", "--json"])));
            mixed.push((
                format!("call {w}"),
                spawn(&dir, &["--load-timeout", "60", "call", "who", "--json"]),
            ));
        }
        for (what, child) in mixed {
            let out = finish(child, &format!("round {round}: {what}"));
            if what.starts_with("list") {
                for (name, status) in loaded_names(&out) {
                    assert_eq!(status, "loaded", "round {round}: {name}");
                }
            }
            if what.starts_with("call") {
                assert_calls_answered(&out, round);
            }
        }
        let out = finish(spawn(&dir, &["list", "--json"]), "final list");
        let mut listed: Vec<String> = loaded_names(&out).into_iter().map(|(n, _)| n).collect();
        listed.sort();
        assert_eq!(listed, ["steady", "w0p1", "w1p1", "w2p1"], "round {round}");
        let order = std::fs::read_to_string(dir.join("state/install-order.txt")).unwrap();
        let mut recorded: Vec<&str> = order.lines().collect();
        recorded.sort();
        assert_eq!(
            recorded,
            ["steady-1.0", "w0p1-1.0", "w1p1-1.0", "w2p1-1.0"],
            "round {round}: a deleted plugin came back, or one was lost"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(240));
}

/// A `call who --json` on the stress test's plugins: every plugin present answered
/// (none failed), `steady` among them.
fn assert_calls_answered(out: &Output, round: usize) {
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).expect("call --json");
    let results = results.as_array().expect("array");
    assert!(
        results.iter().any(|r| r["result"] == "steady"),
        "round {round}: {results:?}"
    );
    for r in results {
        assert!(
            r["error"].is_null(),
            "round {round}: a hook failed during installs and deletes: {r}"
        );
    }
}

#[test]
fn two_processes_installing_the_same_zip_both_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let src = bulky_plugin("twice");
    let zip = tmp.path().join(src.file_name());
    std::fs::write(&zip, src.zip_bytes()).unwrap();
    for round in 0..3 {
        let children: Vec<Child> = (0..3)
            .map(|_| spawn(&dir, &["install", zip.to_str().unwrap()]))
            .collect();
        for child in children {
            finish(child, &format!("round {round}: install"));
        }
        let out = finish(
            spawn(&dir, &["call", "who", "--json"]),
            "call after installs",
        );
        let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(results.as_array().map(Vec::len), Some(1), "{results}");
        assert!(results[0]["result"]
            .as_str()
            .is_some_and(|r| r.starts_with("twicexx")));
    }
}

/// Runs the CLI and waits at most `limit` for it: a command that waits on a stuck
/// plugin fails the test instead of hanging it.
fn run_bounded(dir: &Path, args: &[&str], limit: Duration) -> Output {
    use wait_timeout::ChildExt;
    let mut child = spawn(dir, args);
    match child.wait_timeout(limit).expect("wait for the CLI") {
        Some(_) => child.wait_with_output().expect("collect the output"),
        None => {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect the output");
            panic!(
                "`{}` still ran after {limit:?} (waiting on a stuck plugin?)\nstderr: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

const LIMIT: Duration = Duration::from_secs(120);

fn who(name: &str) -> PluginSrc {
    simple_plugin(
        name,
        "1.0",
        &format!("    def who(self):\n        return '{name}'\n"),
    )
}

#[test]
fn a_plugin_whose_import_hangs_locks_nobody_out() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    PluginSrc::new("sleeper", "1.0")
        .plugin_py("import time\ntime.sleep(3600)\n\nclass Plugin:\n    pass\n")
        .write_into(&dir);
    who("steady").write_into(&dir);

    // With a load timeout the stuck import is given up on and the others load.
    let out = run_bounded(&dir, &["--load-timeout", "5", "list", "--json"], LIMIT);
    assert_eq!(out.status.code(), Some(1), "a failed plugin exits 1");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list --json");
    let entry = |name: &str| {
        list.as_array()
            .and_then(|l| l.iter().find(|p| p["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("{name} not listed: {list}"))
    };
    assert_eq!(entry("steady")["status"], "loaded");
    let sleeper = entry("sleeper");
    assert_eq!(sleeper["status"], "failed");
    assert_eq!(sleeper["error_kind"], "timeout", "{sleeper}");
    let error = sleeper["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("sleeper-1.0/plugin.py: import did not finish in 5 s"),
        "{error}"
    );
    let out = run_bounded(
        &dir,
        &["--load-timeout", "5", "call", "who", "--json"],
        LIMIT,
    );
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results[0]["result"], "steady", "{results}");

    // Without any timeout, installing another plugin and deleting the stuck one do
    // not import it.
    let other = who("another");
    let zip = tmp.path().join(other.file_name());
    std::fs::write(&zip, other.zip_bytes()).unwrap();
    let out = run_bounded(&dir, &["install", zip.to_str().unwrap()], LIMIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_bounded(&dir, &["delete", "sleeper"], LIMIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Deleted plugin sleeper 1.0\n"
    );

    let out = finish(spawn(&dir, &["list", "--json"]), "list after the delete");
    let mut listed = loaded_names(&out);
    listed.sort();
    assert_eq!(
        listed,
        [
            ("another".to_string(), "loaded".to_string()),
            ("steady".to_string(), "loaded".to_string())
        ]
    );
}

#[test]
fn a_plugin_whose_import_crashes_the_process_can_still_be_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    PluginSrc::new("crasher", "1.0")
        .plugin_py("import ctypes\nctypes.string_at(0)\n\nclass Plugin:\n    pass\n")
        .write_into(&dir);
    who("steady").write_into(&dir);

    // Loading it takes the whole process down: nothing a timeout can help with.
    let out = run_bounded(&dir, &["list"], LIMIT);
    assert!(!out.status.success(), "the crash is visible");
    assert_eq!(
        out.status.code(),
        None,
        "killed by a signal: {:?}",
        out.status
    );

    let other = who("another");
    let zip = tmp.path().join(other.file_name());
    std::fs::write(&zip, other.zip_bytes()).unwrap();
    let out = run_bounded(&dir, &["install", zip.to_str().unwrap()], LIMIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_bounded(&dir, &["delete", "crasher"], LIMIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.join("crasher-1.0.zip").exists());
    assert!(!dir.join("extracted/crasher-1.0").exists());

    let out = finish(spawn(&dir, &["list", "--json"]), "list after the delete");
    let mut listed = loaded_names(&out);
    listed.sort();
    assert_eq!(
        listed,
        [
            ("another".to_string(), "loaded".to_string()),
            ("steady".to_string(), "loaded".to_string())
        ]
    );
}
