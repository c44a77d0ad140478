//! Clean-up at start, file permissions, bookkeeping files, the change markers, config
//! names.

use super::*;

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
