//! The directory lock, and plugin identity: colliding and overlong ids.

use super::*;

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
