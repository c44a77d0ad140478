//! What the bundler refuses, and how it says so: bad `SOURCE_DATE_EPOCH`, missing or
//! invalid files, bad options and usage.

use super::*;

#[test]
fn bad_source_date_epoch_is_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_plugin(dir.path());
    let out = bundler(&["bundle", s(dir.path())], Some("yesterday"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("SOURCE_DATE_EPOCH"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("demo-1.0.0.zip").exists());
}

#[test]
fn missing_plugin_py_names_the_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("plugin");
    make_plugin(&root);
    fs::remove_file(root.join("plugin.py")).expect("rm");
    let before = files_in(&root);

    let err = bundle_plugin(&root, &BundleOptions::default()).expect_err("must fail");
    assert!(
        matches!(
            err,
            BundleError::MissingFile {
                file: "plugin.py",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("{}: missing plugin.py", root.display())
    );

    let out = bundler(&["bundle", s(&root)], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let msg = stderr(&out);
    assert!(
        msg.contains(&format!("{}: missing plugin.py", root.display())),
        "{msg}"
    );
    assert_eq!(files_in(&root), before, "nothing written");
}

#[test]
fn missing_manifest_names_the_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_plugin(dir.path());
    fs::remove_file(dir.path().join("plugin-manifest.yaml")).expect("rm");
    let err = bundle_plugin(dir.path(), &BundleOptions::default()).expect_err("must fail");
    assert_eq!(
        err.to_string(),
        format!("{}: missing plugin-manifest.yaml", dir.path().display())
    );
}

#[test]
fn invalid_manifest_names_the_file_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("plugin");
    make_plugin(&root);
    write(
        &root,
        "plugin-manifest.yaml",
        "name: demo\nversion: 1.0.0\nprio: 3\n",
    );

    let err = bundle_plugin(&root, &BundleOptions::default()).expect_err("must fail");
    assert!(matches!(err, BundleError::Manifest(_)), "{err:?}");

    let out = bundler(&["bundle", s(&root)], None);
    assert_eq!(out.status.code(), Some(1));
    let msg = stderr(&out);
    assert!(msg.contains(s(&root.join("plugin-manifest.yaml"))), "{msg}");
    assert!(msg.contains("prio"), "{msg}");
    assert!(msg.contains("unknown field"), "{msg}");
    assert!(!root.join("demo-1.0.0.zip").exists());
}

#[test]
fn invalid_version_override_is_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_plugin(dir.path());
    let before = files_in(dir.path());
    let opts = BundleOptions {
        plugin_version: Some("../escape".into()),
        ..Default::default()
    };
    let err = bundle_plugin(dir.path(), &opts).expect_err("must fail");
    let msg = err.to_string();
    assert!(msg.contains("plugin-manifest.yaml"), "{msg}");
    assert!(msg.contains("version"), "{msg}");
    assert!(msg.contains("../escape"), "{msg}");
    assert_eq!(files_in(dir.path()), before, "nothing written");
}

#[test]
fn missing_output_dir_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("plugin");
    make_plugin(&root);
    let missing = dir.path().join("no-such-dir");

    let opts = BundleOptions {
        out_dir: Some(missing.clone()),
        ..Default::default()
    };
    let err = bundle_plugin(&root, &opts).expect_err("must fail");
    assert!(matches!(err, BundleError::OutDirMissing(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("{}: output directory does not exist", missing.display())
    );

    let out = bundler(&["bundle", s(&root), "--out", s(&missing)], None);
    assert_eq!(out.status.code(), Some(1));
    let msg = stderr(&out);
    assert!(msg.contains(s(&missing)), "{msg}");
    assert!(msg.contains("output directory does not exist"), "{msg}");
    assert!(!missing.exists());
}

#[test]
fn out_filename_must_not_be_a_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_plugin(dir.path());
    let opts = BundleOptions {
        out_filename: Some("../x.zip".into()),
        ..Default::default()
    };
    let err = bundle_plugin(dir.path(), &opts).expect_err("must fail");
    assert!(matches!(err, BundleError::BadOutFilename { .. }), "{err:?}");
    assert!(err.to_string().contains("../x.zip"), "{err}");
}

#[test]
fn missing_workdir_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing: PathBuf = dir.path().join("nope");
    let out = bundler(&["bundle", s(&missing)], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(s(&missing)), "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn bad_usage_exits_with_2() {
    let out = bundler(&["bundle", "--no-such-flag"], None);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    let out = bundler(&[], None);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
}
