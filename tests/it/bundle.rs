//! End-to-end tests of the bundler: the library function and the
//! `racetrack-plugin-bundler` binary on real plugin folders.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use racetrack_plugins::bundle::{build_bundle, bundle_plugin, BundleError, BundleOptions};
use racetrack_plugins::PluginManifest;

const BUNDLER: &str = env!("CARGO_BIN_EXE_racetrack-plugin-bundler");

const MANIFEST: &str = "name: demo\nversion: 1.0.0\nurl: https://example.org/demo\npriority: 2\n";

const IGNORE: &str = "\
# build leftovers
*.log

/build
venv/x
logs/out.txt
Notes.md
data?.csv
[ab].tmp
-whole_dir
+whole_dir/but_this
";

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(path, content).expect("write");
}

/// A plugin folder exercising every ignore rule.
fn make_plugin(root: &Path) {
    write(root, "plugin-manifest.yaml", MANIFEST);
    write(root, "plugin.py", "class Plugin:\n    pass\n");
    write(root, ".racetrackignore", IGNORE);
    for rel in [
        "requirements.txt",
        "README.md",
        "notes.md", // kept: `Notes.md` is case-sensitive
        "Notes.md", // ignored
        "app.log",  // *.log
        "sub/app.log",
        "build/out.o",        // /build
        "sub/build/keep.txt", // kept: /build is anchored
        "venv/x/internals/a.py",
        "venv/y.py", // kept
        "folder/logs/out.txt",
        "folder/logs/other.txt", // kept
        "data1.csv",             // data?.csv
        "data12.csv",            // kept
        "a.tmp",                 // [ab].tmp
        "c.tmp",                 // kept
        "whole_dir/a.txt",
        "whole_dir/deep/b.txt",
        "whole_dir/but_this/c.txt",      // kept
        "whole_dir/but_this/deep/d.txt", // kept
        ".git/HEAD",
        "sub/.git/config",
        ".gitignore",
        "pkg/__init__.py", // kept
        "pkg/mod.pyc",
        "pkg/__pycache__/mod.cpython-312.pyc",
        "old-0.9.zip",
        "dir/folder/x.zip",
        "sub/plugin-manifest.yaml", // kept: only the root manifest is replaced
    ] {
        write(root, rel, rel);
    }
    write(root, "bin/run.sh", "#!/bin/sh\necho hi\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(root.join("bin/run.sh"), fs::Permissions::from_mode(0o755))
            .expect("chmod");
        // Stored with its target's content, as Racetrack's bundler does.
        std::os::unix::fs::symlink("plugin.py", root.join("link.py")).expect("symlink");
        // A link to a folder inside is not followed.
        std::os::unix::fs::symlink("pkg", root.join("pkg_link")).expect("symlink");
    }
}

const EXPECTED: &[&str] = &[
    "README.md",
    "bin/run.sh",
    "c.tmp",
    "data12.csv",
    "folder/logs/other.txt",
    "link.py",
    "notes.md",
    "pkg/__init__.py",
    "plugin-manifest.yaml",
    "plugin.py",
    "requirements.txt",
    "sub/build/keep.txt",
    "sub/plugin-manifest.yaml",
    "venv/y.py",
    "whole_dir/but_this/c.txt",
    "whole_dir/but_this/deep/d.txt",
];

fn open_zip(path: &Path) -> zip::ZipArchive<fs::File> {
    zip::ZipArchive::new(fs::File::open(path).expect("open zip")).expect("read zip")
}

fn listing(path: &Path) -> Vec<String> {
    let mut zip = open_zip(path);
    (0..zip.len())
        .map(|i| {
            zip.by_index(i)
                .expect("entry")
                .name()
                .expect("entry name")
                .to_string()
        })
        .collect()
}

fn read_entry(path: &Path, name: &str) -> String {
    let mut zip = open_zip(path);
    let mut entry = zip.by_name(name).expect("entry present");
    let mut text = String::new();
    entry.read_to_string(&mut text).expect("utf-8 entry");
    text
}

fn bundled_manifest(path: &Path) -> PluginManifest {
    PluginManifest::parse(&read_entry(path, "plugin-manifest.yaml"), "zip").expect("valid")
}

fn assert_build_date_format(manifest: &PluginManifest) {
    let date = manifest.build_date.as_deref().expect("build_date set");
    assert!(
        chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H%M%SZ").is_ok(),
        "build_date {date:?} not in %Y-%m-%dT%H%M%SZ"
    );
    assert_eq!(date.len(), "2024-01-01T000000Z".len(), "{date}");
}

fn bundler(args: &[&str], epoch: Option<&str>) -> Output {
    let mut cmd = Command::new(BUNDLER);
    cmd.args(args).env_remove("SOURCE_DATE_EPOCH");
    if let Some(epoch) = epoch {
        cmd.env("SOURCE_DATE_EPOCH", epoch);
    }
    cmd.output().expect("run bundler")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[test]
fn binary_bundles_folder_with_ignore_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("plugin");
    make_plugin(&root);

    let out = bundler(&["bundle", s(&root)], None);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let zip_path = root.join("demo-1.0.0.zip");
    let text = stdout(&out);
    assert!(text.contains("Plugin demo 1.0.0 bundled to"), "{text}");
    assert!(text.contains(s(&zip_path)), "{text}");
    assert!(zip_path.is_file());

    assert_eq!(listing(&zip_path), EXPECTED);

    let manifest = bundled_manifest(&zip_path);
    assert_eq!(manifest.name, "demo");
    assert_eq!(manifest.version, "1.0.0");
    assert_eq!(manifest.priority, 2);
    assert_eq!(manifest.url.as_deref(), Some("https://example.org/demo"));
    assert_build_date_format(&manifest);
    // The source manifest is left alone.
    assert_eq!(
        fs::read_to_string(root.join("plugin-manifest.yaml")).expect("read"),
        MANIFEST
    );
    // Source contents survive, nested manifest included.
    assert_eq!(
        read_entry(&zip_path, "sub/plugin-manifest.yaml"),
        "sub/plugin-manifest.yaml"
    );

    // Permissions are normalised; timestamps are fixed at 1980-01-01 without SOURCE_DATE_EPOCH.
    let mut zip = open_zip(&zip_path);
    for i in 0..zip.len() {
        let entry = zip.by_index(i).expect("entry");
        assert!(entry.is_file(), "{}", entry.name().expect("entry name"));
        assert_eq!(
            entry.compression(),
            zip::CompressionMethod::Deflated,
            "{}",
            entry.name().expect("entry name")
        );
        let expected_mode = if cfg!(unix) && entry.name().expect("entry name") == "bin/run.sh" {
            0o755
        } else {
            0o644
        };
        assert_eq!(
            entry.unix_mode().map(|m| m & 0o777),
            Some(expected_mode),
            "{}",
            entry.name().expect("entry name")
        );
        let t = entry.last_modified().expect("timestamp");
        assert_eq!(
            (t.year(), t.month(), t.day(), t.hour(), t.minute()),
            (1980, 1, 1, 0, 0)
        );
    }
    // No temporary file is left behind.
    assert!(!files_in(&root)
        .iter()
        .any(|n| n.starts_with(".racetrack-bundle-")));
}

#[test]
fn previous_bundle_is_not_included() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    make_plugin(root);
    let first = bundle_plugin(root, &BundleOptions::default()).expect("first bundle");
    assert_eq!(first, root.join("demo-1.0.0.zip"));
    let second = bundle_plugin(root, &BundleOptions::default()).expect("second bundle");
    assert_eq!(first, second);
    assert_eq!(listing(&second), EXPECTED);

    // Even under a non-.zip name, and even when the rules re-include it, the output
    // inside the plugin folder never ends up in itself, nor does any zip.
    write(
        root,
        ".racetrackignore",
        &format!("{IGNORE}+*.zip\n+demo.bundle\n"),
    );
    let opts = BundleOptions {
        out_filename: Some("demo.bundle".into()),
        ..Default::default()
    };
    bundle_plugin(root, &opts).expect("bundle");
    let again = bundle_plugin(root, &opts).expect("bundle again");
    let names = listing(&again);
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with(".zip") || n == "demo.bundle"),
        "{names:?}"
    );
    assert_eq!(names, EXPECTED);
}

#[test]
fn library_options_out_dir_filename_and_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("plugin");
    let out_dir = dir.path().join("out");
    make_plugin(&root);
    fs::create_dir(&out_dir).expect("mkdir");

    let opts = BundleOptions {
        out_dir: Some(out_dir.clone()),
        out_filename: None,
        plugin_version: Some("2.0.0-rc1".into()),
    };
    let path = bundle_plugin(&root, &opts).expect("bundle");
    assert_eq!(path, out_dir.join("demo-2.0.0-rc1.zip"));
    let manifest = bundled_manifest(&path);
    assert_eq!(manifest.version, "2.0.0-rc1");
    assert_build_date_format(&manifest);
    assert_eq!(listing(&path), EXPECTED);
    assert!(!root.join("demo-1.0.0.zip").exists());
    assert!(!root.join("demo-2.0.0-rc1.zip").exists());

    let opts = BundleOptions {
        out_filename: Some("custom.zip".into()),
        ..opts
    };
    let bundle = build_bundle(&root, &opts, Some(0)).expect("bundle");
    assert_eq!(bundle.path, out_dir.join("custom.zip"));
    assert_eq!(bundle.manifest.version, "2.0.0-rc1");
    assert_eq!(
        bundle.manifest.build_date.as_deref(),
        Some("1970-01-01T000000Z")
    );
    assert_eq!(bundled_manifest(&bundle.path), bundle.manifest);
    assert_eq!(files_in(&out_dir), ["custom.zip", "demo-2.0.0-rc1.zip"]);
}

#[test]
fn binary_version_override_and_out_options() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("plugin");
    let out_dir = dir.path().join("dist");
    make_plugin(&root);
    fs::create_dir(&out_dir).expect("mkdir");
    let out = bundler(
        &[
            "bundle",
            s(&root),
            "--out",
            s(&out_dir),
            "--out-filename",
            "x.zip",
            "--plugin-version",
            "3.1.4",
        ],
        None,
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let path = out_dir.join("x.zip");
    assert!(
        stdout(&out).contains("Plugin demo 3.1.4 bundled to"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains(s(&path)), "{}", stdout(&out));
    assert_eq!(bundled_manifest(&path).version, "3.1.4");
    assert_eq!(listing(&path), EXPECTED);
}

#[test]
fn workdir_defaults_to_current_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_plugin(dir.path());
    let out = Command::new(BUNDLER)
        .arg("bundle")
        .current_dir(dir.path())
        .output()
        .expect("run bundler");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(listing(&dir.path().join("demo-1.0.0.zip")), EXPECTED);
}

#[test]
fn reproducible_with_source_date_epoch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("plugin");
    make_plugin(&root);
    let (out1, out2) = (dir.path().join("out1"), dir.path().join("out2"));
    fs::create_dir(&out1).expect("mkdir");
    fs::create_dir(&out2).expect("mkdir");

    let run = |out: &Path| {
        let o = bundler(&["bundle", s(&root), "--out", s(out)], Some("1700000000"));
        assert!(o.status.success(), "stderr: {}", stderr(&o));
        out.join("demo-1.0.0.zip")
    };
    let first = run(&out1);
    // Source modification times must not leak into the bundle.
    let touched = fs::File::options()
        .write(true)
        .open(root.join("plugin.py"))
        .expect("open");
    touched
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(3600))
        .expect("set mtime");
    drop(touched);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = run(&out2);

    let (a, b) = (
        fs::read(&first).expect("read"),
        fs::read(&second).expect("read"),
    );
    assert!(a == b, "bundles differ ({} vs {} bytes)", a.len(), b.len());

    let manifest = bundled_manifest(&first);
    assert_eq!(manifest.build_date.as_deref(), Some("2023-11-14T221320Z"));
    let mut zip = open_zip(&first);
    for i in 0..zip.len() {
        let entry = zip.by_index(i).expect("entry");
        let t = entry.last_modified().expect("timestamp");
        assert_eq!(
            (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            (2023, 11, 14, 22, 13, 20),
            "{}",
            entry.name().expect("entry name")
        );
    }

    // The library gives the same bytes for the same epoch.
    let out3 = dir.path().join("out3");
    fs::create_dir(&out3).expect("mkdir");
    let opts = BundleOptions {
        out_dir: Some(out3),
        ..Default::default()
    };
    let lib = build_bundle(&root, &opts, Some(1_700_000_000)).expect("bundle");
    assert!(
        fs::read(&lib.path).expect("read") == a,
        "library and binary bundles differ"
    );
}

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
