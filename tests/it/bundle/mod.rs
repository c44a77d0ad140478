//! End-to-end tests of the bundler: the library function and the
//! `racetrack-plugin-bundler` binary on real plugin folders.

mod edge_cases;
mod errors;
mod outputs;

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

fn open_zip(path: &Path) -> zip::ZipArchive<fs::File> {
    zip::ZipArchive::new(fs::File::open(path).expect("open zip")).expect("read zip")
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
