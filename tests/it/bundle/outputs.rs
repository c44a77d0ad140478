//! What the bundler writes: the files a folder's ignore rules keep, output folder,
//! file name and version options, the working directory, reproducible zips.

use super::*;

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

fn assert_build_date_format(manifest: &PluginManifest) {
    let date = manifest.build_date.as_deref().expect("build_date set");
    assert!(
        chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H%M%SZ").is_ok(),
        "build_date {date:?} not in %Y-%m-%dT%H%M%SZ"
    );
    assert_eq!(date.len(), "2024-01-01T000000Z".len(), "{date}");
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
