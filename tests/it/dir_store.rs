//! The plugins directory as shared state: its lock, plugin identity, what extraction
//! trusts, clean-up at start, file permissions and the change markers.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::common::*;
use racetrack_plugins::archive::ExtractLimits;
use racetrack_plugins::store::PluginsDir;
use racetrack_plugins::{EngineError, HookArgs, PluginEngine, PluginStatus};

fn set_mtime(path: &Path, when: SystemTime) {
    fs::File::open(path)
        .expect("open")
        .set_modified(when)
        .expect("set mtime");
}

#[test]
fn lock_wait_is_bounded_and_names_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = PluginsDir::open(tmp.path()).unwrap();
    let held = dir.lock("test holds it").expect("first lock");
    // Nested on the same thread: no wait.
    drop(dir.lock("nested").expect("nested lock"));

    let waiter = dir.clone().with_lock_wait(Duration::from_millis(300));
    let err = std::thread::spawn(move || waiter.lock("second").expect_err("times out"))
        .join()
        .unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    let text = err.to_string();
    assert!(text.contains("state/dir.lock: gave up after"), "{text}");
    assert!(
        text.contains(&format!("held by pid {} on ", std::process::id())),
        "{text}"
    );
    assert!(text.contains("(test holds it)"), "{text}");

    drop(held);
    let waiter = dir.with_lock_wait(Duration::from_millis(300));
    std::thread::spawn(move || drop(waiter.lock("third").expect("free again")))
        .join()
        .unwrap();
}

#[test]
fn ids_that_collide_are_refused_at_install_and_fail_at_load() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let engine = engine(&dir);
    let first = simple_plugin("a", "b-c", "    def who(self):\n        return 'a'\n");
    engine
        .upload_plugin("a-b-c.zip", &first.zip_bytes(), false)
        .expect("first installs");
    engine
        .write_plugin_config("a", "b-c", "owner: a\n")
        .unwrap();

    let second = simple_plugin("a-b", "c", "    def who(self):\n        return 'a-b'\n");
    let err = engine
        .upload_plugin("other.zip", &second.zip_bytes(), false)
        .expect_err("clash refused");
    assert!(matches!(err, EngineError::Refused { .. }), "{err:?}");
    let text = err.report();
    assert!(
        text.contains("plugin a-b c would be stored as `a-b-c`, which is already plugin a b-c"),
        "{text}"
    );
    // Nothing left behind, the first plugin untouched.
    assert_eq!(
        call_json(&engine, "who", &HookArgs::new()),
        [("a".to_string(), serde_json::json!("a"))]
    );
    assert_eq!(engine.read_plugin_config("a", "b-c").unwrap(), "owner: a\n");
    let staging: Vec<_> = fs::read_dir(dir.join("state/staging")).unwrap().collect();
    assert!(staging.is_empty(), "{staging:?}");

    // Copied in by hand: the second zip of that id is failed, with the reason.
    fs::write(dir.join("zz-copied.zip"), second.zip_bytes()).unwrap();
    engine.reload();
    let infos = engine.plugins();
    let copied = infos
        .iter()
        .find(|p| p.zip_path.ends_with("zz-copied.zip"))
        .expect("listed");
    assert_eq!(copied.status, PluginStatus::Failed);
    assert!(
        copied
            .error
            .as_ref()
            .map(|e| e.report())
            .unwrap_or_default()
            .contains("would be stored as `a-b-c`, which is already plugin a b-c"),
        "{copied:?}"
    );
    assert_eq!(info(&infos, "a").status, PluginStatus::Loaded);
}

#[test]
fn id_too_long_is_refused_with_nothing_left() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let engine = engine(&dir);
    let src = simple_plugin(&"n".repeat(128), &"1".repeat(100), "    pass\n");
    let err = engine
        .upload_plugin("long.zip", &src.zip_bytes(), false)
        .expect_err("too long");
    assert!(
        err.to_string()
            .contains("is 229 characters long; at most 200 fit the file names"),
        "{err}"
    );
    assert!(PluginsDir::open(&dir)
        .unwrap()
        .zip_files()
        .unwrap()
        .is_empty());
}

#[test]
fn bytecode_in_a_zip_is_left_out() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let src = simple_plugin(
        "bc",
        "1",
        "    def helper_found(self):\n        import importlib.util\n        return importlib.util.find_spec('helper') is not None\n",
    )
    .file("helper.pyc", "not the shipped source")
    .file("__pycache__/plugin.cpython-311.pyc", "stale bytecode")
    .file("pkg/__pycache__/x.pyc", "stale bytecode");
    src.write_into(&dir);
    let engine = engine(&dir);
    assert_eq!(info(&engine.plugins(), "bc").status, PluginStatus::Loaded);
    assert_eq!(
        call_json(&engine, "helper_found", &HookArgs::new())[0].1,
        false
    );
    let extracted = dir.join("extracted/bc-1");
    assert!(!extracted.join("helper.pyc").exists());
    assert!(!extracted.join("pkg/__pycache__").exists());
    let cache = extracted.join("__pycache__/plugin.cpython-311.pyc");
    assert!(
        fs::read(&cache).map_or(true, |b| b != b"stale bytecode"),
        "bytecode from the zip was extracted"
    );
}

#[test]
fn entries_naming_one_path_twice_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let bytes = zip_of(&[
        (
            "plugin-manifest.yaml".into(),
            "name: twin\nversion: '1'\n".into(),
        ),
        ("plugin.py".into(), "class Plugin:\n    pass\n".into()),
        (
            "a/../plugin.py".into(),
            "class Plugin:\n    evil = True\n".into(),
        ),
    ]);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("twin-1.zip"), &bytes).unwrap();
    let engine = engine(&dir);
    let twin = info(&engine.plugins(), "twin").clone();
    assert_eq!(twin.status, PluginStatus::Failed);
    assert!(
        twin.error
            .as_ref()
            .map(|e| e.report())
            .unwrap_or_default()
            .contains("entries \"plugin.py\" and \"a/../plugin.py\" both name \"plugin.py\""),
        "{twin:?}"
    );
    let err = engine
        .upload_plugin("twin-1.zip", &bytes, false)
        .expect_err("refused");
    assert!(err.to_string().contains("both name"), "{err}");
}

#[test]
fn replacement_with_same_size_and_mtime_is_noticed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let old = simple_plugin("cp", "1", "    def which(self):\n        return 'old'\n");
    let zip = old.write_into(&dir);
    let mtime = fs::metadata(&zip).unwrap().modified().unwrap();
    let first = engine(&dir);
    assert_eq!(call_json(&first, "which", &HookArgs::new())[0].1, "old");

    // As `cp -p` or rsync would leave it: other content, same size, same mtime.
    let new = simple_plugin("cp", "1", "    def which(self):\n        return 'new'\n");
    let staged = tmp.path().join("staged.zip");
    fs::write(&staged, new.zip_bytes()).unwrap();
    assert_eq!(
        fs::metadata(&staged).unwrap().len(),
        fs::metadata(&zip).unwrap().len()
    );
    set_mtime(&staged, mtime);
    fs::rename(&staged, &zip).unwrap();
    assert_eq!(fs::metadata(&zip).unwrap().modified().unwrap(), mtime);

    let second = engine(&dir);
    assert_eq!(call_json(&second, "which", &HookArgs::new())[0].1, "new");
}

#[test]
fn start_cleans_up_what_interrupted_operations_left() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    simple_plugin("kept", "1", "    pass\n").write_into(&dir);
    // A zip copied in under another name is installed too.
    fs::write(
        dir.join("copied.zip"),
        simple_plugin("other", "2", "    pass\n").zip_bytes(),
    )
    .unwrap();
    let long_ago = SystemTime::now() - Duration::from_secs(2 * 3600);
    for folder in [
        "extracted/gone-1",
        "extracted/.extracting-abc",
        "state/staging/upload-dead",
        "state/staging/upload-old",
        "state/staging/.pending-old",
        "state/staging/.pending-new",
        "venvs/gone-1/lib",
        "venvs/new-1/lib",
        "venvs/kept-1/lib",
        "config/gone-1",
    ] {
        fs::create_dir_all(dir.join(folder)).unwrap();
    }
    // A staging folder whose owner died: its owner file is not locked.
    fs::write(dir.join("state/staging/upload-dead/.owner"), "").unwrap();
    set_mtime(&dir.join("state/staging/.pending-old"), long_ago);
    set_mtime(&dir.join("venvs/gone-1"), long_ago);
    fs::create_dir_all(dir.join("state/extracted")).unwrap();
    fs::write(dir.join("state/extracted/gone-1.sha256"), "abc").unwrap();
    fs::write(dir.join("config/gone-1/config.yaml"), "x: 1\n").unwrap();
    fs::write(
        dir.join("state/install-order.txt"),
        "gone-1\nkept-1\nother-2\n",
    )
    .unwrap();

    // An upload in progress in "another process": its staging folder is locked.
    let live = PluginsDir::open(&dir).unwrap().staging_dir().unwrap();

    let engine = engine(&dir);
    assert_eq!(engine.plugins().len(), 2);
    for gone in [
        "extracted/gone-1",
        "extracted/.extracting-abc",
        "state/staging/upload-dead",
        "state/staging/upload-old",
        "state/staging/.pending-old",
        "venvs/gone-1",
        "state/extracted/gone-1.sha256",
    ] {
        assert!(!dir.join(gone).exists(), "{gone} left behind");
    }
    for kept in [
        "state/staging/.pending-new",
        "venvs/new-1",
        "venvs/kept-1",
        "config/gone-1/config.yaml",
        "extracted/kept-1",
        "extracted/other-2",
    ] {
        assert!(dir.join(kept).exists(), "{kept} removed");
    }
    assert!(
        live.path().is_dir(),
        "a live upload's staging folder removed"
    );
    assert_eq!(
        fs::read_to_string(dir.join("state/install-order.txt")).unwrap(),
        "kept-1\nother-2\n"
    );
}

#[cfg(unix)]
#[test]
fn written_files_follow_the_umask_and_keep_their_mode() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let zip = tmp.path().join("shared-1.zip");
    fs::write(&zip, simple_plugin("shared", "1", "    pass\n").zip_bytes()).unwrap();
    // The umask is per process: set it in a child, as a group-shared setup would.
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 002 && exec \"$0\" --plugins-dir \"$1\" install \"$2\"")
        .arg(env!("CARGO_BIN_EXE_racetrack-plugin"))
        .arg(&dir)
        .arg(&zip)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |rel: &str| fs::metadata(dir.join(rel)).unwrap().permissions().mode() & 0o777;
    for file in [
        "shared-1.zip",
        "last-change.txt",
        "state/install-order.txt",
        "state/change-marker",
        "state/extracted/shared-1.sha256",
        "config/shared-1/config.yaml",
        "extracted/shared-1/plugin.py",
    ] {
        assert_eq!(mode(file), 0o664, "{file}");
    }
    for folder in ["extracted/shared-1", "config/shared-1", "state"] {
        assert_eq!(mode(folder), 0o775, "{folder}");
    }

    // Rewriting a config keeps the mode it has.
    let config = dir.join("config/shared-1/config.yaml");
    fs::set_permissions(&config, fs::Permissions::from_mode(0o644)).unwrap();
    let engine = engine(&dir);
    engine.write_plugin_config("shared", "1", "a: 1\n").unwrap();
    assert_eq!(mode("config/shared-1/config.yaml"), 0o644);
    assert_eq!(fs::read_to_string(&config).unwrap(), "a: 1\n");
}

#[test]
fn unreadable_bookkeeping_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = PluginsDir::open(tmp.path()).unwrap();
    // Tests may run as root, which reads any mode: a folder in the file's place is
    // unreadable as a file for everyone.
    fs::create_dir_all(tmp.path().join("state/install-order.txt")).unwrap();
    let err = dir.install_order().expect_err("unreadable");
    assert!(err.to_string().contains("state/install-order.txt"), "{err}");
    let err = dir
        .record_installed(&["x-1".to_string()])
        .expect_err("not written over");
    assert!(err.to_string().contains("state/install-order.txt"), "{err}");
}

#[test]
fn last_change_is_whole_seconds_written_in_place_and_always_grows() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = PluginsDir::open(tmp.path()).unwrap();
    let path = tmp.path().join("last-change.txt");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let before = dir.change_marker();
    dir.bump_change_marker().unwrap();
    let first: u64 = fs::read_to_string(&path)
        .unwrap()
        .parse()
        .expect("int(text)");
    assert!(first >= now && first < now + 5, "{first} vs {now}");
    #[cfg(unix)]
    let inode = {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(&path).unwrap().ino()
    };
    let mut markers = vec![before, dir.change_marker()];
    let mut last = first;
    for _ in 0..3 {
        dir.bump_change_marker().unwrap();
        let value: u64 = fs::read_to_string(&path).unwrap().parse().unwrap();
        assert!(
            value > last,
            "{value} after {last}: a change within a second is lost"
        );
        last = value;
        markers.push(dir.change_marker());
    }
    markers.dedup();
    assert_eq!(markers.len(), 5, "each change is a new marker: {markers:?}");
    // Rewritten, not renamed onto: Racetrack's watcher sees a modification.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(fs::metadata(&path).unwrap().ino(), inode);
    }
}

#[test]
fn a_change_made_by_racetracks_engine_is_picked_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    simple_plugin("first", "1", "    def who(self):\n        return 1\n").write_into(&dir);
    let engine = engine(&dir);
    assert_eq!(engine.plugins().len(), 1);
    let ours = fs::read_to_string(dir.join("last-change.txt")).ok();

    // Racetrack's engine: copy a zip in, then write the current time in seconds, which
    // may well be the value already there.
    simple_plugin("second", "1", "    def who(self):\n        return 2\n").write_into(&dir);
    let same_value = ours.unwrap_or_else(|| "1700000000".to_string());
    fs::write(dir.join("last-change.txt"), &same_value).unwrap();
    assert!(engine.reload_if_changed(), "Racetrack's change not noticed");
    assert_eq!(engine.plugins().len(), 2);
    assert!(!engine.reload_if_changed());
}

#[test]
fn config_of_a_name_leaving_the_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    let engine = engine(&dir);
    // Where `config/<name>-<version>/config.yaml` would land for `../../other`.
    fs::create_dir_all(tmp.path().join("other-1")).unwrap();
    fs::write(tmp.path().join("other-1/config.yaml"), "secret: 1\n").unwrap();
    for (name, version) in [("../../other", "1"), ("a", "../../../x"), ("a/b", "1")] {
        let err = engine
            .read_plugin_config(name, version)
            .expect_err("refused");
        assert!(
            err.to_string().contains(&format!(
                "no plugin can be named {name:?} with version {version:?}"
            )),
            "{err}"
        );
        let err = engine
            .write_plugin_config(name, version, "x: 1\n")
            .expect_err("refused");
        assert!(matches!(err, EngineError::Store(_)), "{err:?}");
    }
    assert_eq!(
        fs::read_to_string(tmp.path().join("other-1/config.yaml")).unwrap(),
        "secret: 1\n"
    );
}

#[test]
fn unlimited_extraction_budget_extracts_whole_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    simple_plugin(
        "big",
        "1",
        "    def data(self):\n        import pathlib\n        return pathlib.Path(self.plugin_dir, 'data.txt').read_text()\n",
    )
    .file("data.txt", "all of it")
    .write_into(&dir);
    let engine = PluginEngine::builder(&dir)
        .watch_interval(None)
        .extract_limits(ExtractLimits {
            max_total_bytes: u64::MAX,
            ..ExtractLimits::default()
        })
        .build()
        .unwrap();
    assert_eq!(
        call_json(&engine, "data", &HookArgs::new())[0].1,
        "all of it"
    );
}
