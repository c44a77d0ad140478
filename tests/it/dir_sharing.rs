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
    for round in 0..3 {
        // Each worker: install its two plugins, list, delete the first one.
        let installs: Vec<Child> = zips
            .iter()
            .flatten()
            .map(|zip| spawn(&dir, &["install", zip.to_str().unwrap()]))
            .collect();
        for child in installs {
            finish(child, &format!("round {round}: install"));
        }
        let mut mixed: Vec<(String, Child)> = Vec::new();
        for w in 0..3 {
            mixed.push((
                format!("delete w{w}p0"),
                spawn(&dir, &["delete", &format!("w{w}p0")]),
            ));
            mixed.push((format!("list {w}"), spawn(&dir, &["list", "--json"])));
        }
        for (what, child) in mixed {
            let out = finish(child, &format!("round {round}: {what}"));
            if what.starts_with("list") {
                for (name, status) in loaded_names(&out) {
                    assert_eq!(status, "loaded", "round {round}: {name}");
                }
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
