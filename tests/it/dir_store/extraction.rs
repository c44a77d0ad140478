//! What extraction trusts: bytecode left out, one path named twice, replacements of
//! the same size and mtime, an unlimited budget.

use super::*;

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
