//! Extracting plugin zips: unsafe entries refused, each content extracted once.

use super::*;

#[test]
fn unsafe_zip_entries_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    fs::create_dir_all(&dir).unwrap();
    let manifest = |n: &str| {
        (
            "plugin-manifest.yaml".to_string(),
            format!("name: {n}\nversion: '1'\n"),
        )
    };
    let plugin = ("plugin.py".to_string(), "class Plugin: pass\n".to_string());
    fs::write(
        dir.join("escape-1.zip"),
        zip_of(&[
            manifest("escape"),
            plugin.clone(),
            ("../../outside.txt".into(), "x".into()),
        ]),
    )
    .unwrap();
    fs::write(
        dir.join("absolute-1.zip"),
        zip_of(&[
            manifest("absolute"),
            plugin.clone(),
            ("/tmp/abs-racetrack.txt".into(), "x".into()),
        ]),
    )
    .unwrap();
    // A symlink entry, pointing outside.
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for (path, text) in [manifest("linked"), plugin.clone()] {
        writer.start_file(path, opts).unwrap();
        std::io::Write::write_all(&mut writer, text.as_bytes()).unwrap();
    }
    writer.add_symlink("secrets", "/etc/passwd", opts).unwrap();
    fs::write(
        dir.join("linked-1.zip"),
        writer.finish().unwrap().into_inner(),
    )
    .unwrap();
    // Highly compressible content beyond the limits below.
    fs::write(
        dir.join("bomb-1.zip"),
        zip_of(&[
            manifest("bomb"),
            plugin.clone(),
            ("big.txt".into(), "0".repeat(3 * 1024 * 1024)),
        ]),
    )
    .unwrap();
    simple_plugin("fine", "1", "    pass").write_into(&dir);

    let engine = PluginEngine::builder(&dir)
        .watch_interval(None)
        .extract_limits(ExtractLimits {
            max_total_bytes: 2 * 1024 * 1024,
            ..ExtractLimits::default()
        })
        .build()
        .unwrap();
    let infos = engine.plugins();
    let err = |n: &str| {
        let error = info(&infos, n)
            .error
            .as_ref()
            .expect("a failed plugin's error");
        assert_eq!(error.kind(), LoadErrorKind::Archive, "{n}: {error:?}");
        error.report()
    };
    assert!(
        err("escape").contains("outside the plugin folder"),
        "{}",
        err("escape")
    );
    assert!(err("escape").contains("escape-1.zip"));
    assert!(
        err("absolute").contains("outside the plugin folder"),
        "{}",
        err("absolute")
    );
    assert!(err("linked").contains("symbolic link"), "{}", err("linked"));
    assert!(err("bomb").contains("too large"), "{}", err("bomb"));
    assert!(!tmp.path().join("outside.txt").exists());
    assert!(!dir.join("extracted/linked-1").exists());
    assert_eq!(names(&engine), vec!["fine"]);

    // The ratio limit catches a bomb below the size limit.
    let engine = PluginEngine::builder(&dir)
        .watch_interval(None)
        .build()
        .unwrap();
    assert!(info(&engine.plugins(), "bomb")
        .error
        .as_ref()
        .map(LoadError::report)
        .unwrap_or_default()
        .contains("ratio"));
}

#[test]
fn extraction_happens_once_per_content() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let v1 = simple_plugin("once", "1", "    def which(self):\n        return 'first'");
    v1.write_into(dir);
    let engine1 = engine(dir);
    assert_eq!(call_json(&engine1, "which", &HookArgs::new())[0].1, "first");
    let stamp = dir.join("extracted/once-1/stamp.txt");
    fs::write(&stamp, "left by the test").unwrap();

    // Restart with the same zip: the extracted folder is reused as it is.
    let engine2 = engine(dir);
    assert!(stamp.is_file(), "unchanged zip must not be re-extracted");
    assert_eq!(call_json(&engine2, "which", &HookArgs::new())[0].1, "first");

    // Same name and version, new content: re-extracted although the folder exists.
    simple_plugin("once", "1", "    def which(self):\n        return 'second'").write_into(dir);
    let engine3 = engine(dir);
    assert!(!stamp.exists(), "changed zip must be re-extracted");
    assert_eq!(
        call_json(&engine3, "which", &HookArgs::new())[0].1,
        "second"
    );
}
