//! Unusual plugin folders: `plugin.py` ignored or symlinked, symlinks leaving the
//! folder, a manifest with a byte order mark.

use super::*;

/// A plugin folder with just a manifest and `plugin.py`.
fn minimal_plugin(root: &Path) {
    write(root, "plugin-manifest.yaml", "name: mini\nversion: 1.0\n");
    write(root, "plugin.py", "class Plugin:\n    pass\n");
}

#[test]
fn ignoring_plugin_py_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("plugin");
    minimal_plugin(&root);
    write(&root, ".racetrackignore", "*\n");
    let before = files_in(&root);

    let err = bundle_plugin(&root, &BundleOptions::default()).expect_err("must fail");
    assert!(matches!(err, BundleError::PluginFileExcluded(_)), "{err:?}");
    let out = bundler(&["bundle", s(&root)], None);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains(&format!(
            "{}: plugin.py would not be in the bundle",
            root.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(files_in(&root), before, "nothing written");
}

#[cfg(unix)]
#[test]
fn symlinked_plugin_py_is_stored_with_its_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("plugin");
    minimal_plugin(&root);
    fs::remove_file(root.join("plugin.py")).expect("rm");
    write(&root, "src/real.py", "class Plugin:\n    linked = True\n");
    std::os::unix::fs::symlink("src/real.py", root.join("plugin.py")).expect("symlink");

    let out = bundler(&["bundle", s(&root)], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let zip = root.join("mini-1.0.zip");
    assert_eq!(
        read_entry(&zip, "plugin.py"),
        "class Plugin:\n    linked = True\n"
    );
    assert_eq!(
        read_entry(&zip, "src/real.py"),
        "class Plugin:\n    linked = True\n"
    );
}

#[cfg(unix)]
#[test]
fn symlink_leaving_the_plugin_folder_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("plugin");
    minimal_plugin(&root);
    write(dir.path(), "secret.txt", "not for the bundle");
    let link = root.join("data.txt");
    std::os::unix::fs::symlink("../secret.txt", &link).expect("symlink");
    let before = files_in(&root);

    let err = bundle_plugin(&root, &BundleOptions::default()).expect_err("must fail");
    assert!(matches!(err, BundleError::SymlinkOutside { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{}: symbolic link to ", link.display())),
        "{text}"
    );
    assert!(text.contains("outside the plugin folder"), "{text}");
    assert_eq!(files_in(&root), before, "nothing written");

    // Ignored, it is no problem.
    write(&root, ".racetrackignore", "data.txt\n");
    bundle_plugin(&root, &BundleOptions::default()).expect("ignored link is skipped");
}

#[test]
fn manifest_with_byte_order_mark_bundles() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("plugin");
    minimal_plugin(&root);
    write(
        &root,
        "plugin-manifest.yaml",
        "\u{feff}name: mini\nversion: 2.0\n",
    );
    let path = bundle_plugin(&root, &BundleOptions::default()).expect("bundles");
    let manifest = bundled_manifest(&path);
    assert_eq!(
        (manifest.name.as_str(), manifest.version.as_str()),
        ("mini", "2.0")
    );
}
