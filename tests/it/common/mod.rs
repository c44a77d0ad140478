//! Test helpers: plugin zips written for real, from sources declared in the test.
#![allow(dead_code)]

pub mod wheels;

use std::io::Write;
use std::path::{Path, PathBuf};

use racetrack_plugins::PluginEngine;
use zip::write::SimpleFileOptions;

/// A plugin's files, to be zipped.
#[derive(Clone, Debug)]
pub struct PluginSrc {
    pub name: String,
    pub version: String,
    pub manifest_extra: String,
    pub files: Vec<(String, String)>,
}

impl PluginSrc {
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            manifest_extra: String::new(),
            files: Vec::new(),
        }
    }

    /// `plugin.py` with this source.
    pub fn plugin_py(self, code: &str) -> Self {
        self.file("plugin.py", code)
    }

    pub fn file(mut self, path: &str, content: &str) -> Self {
        self.files.retain(|(p, _)| p != path);
        self.files.push((path.into(), content.into()));
        self
    }

    pub fn priority(self, priority: i64) -> Self {
        self.manifest_line(&format!("priority: {priority}"))
    }

    pub fn manifest_line(mut self, line: &str) -> Self {
        self.manifest_extra.push_str(line);
        self.manifest_extra.push('\n');
        self
    }

    pub fn manifest_text(&self) -> String {
        format!(
            "name: {}\nversion: '{}'\n{}",
            self.name, self.version, self.manifest_extra
        )
    }

    pub fn zip_bytes(&self) -> Vec<u8> {
        let mut entries: Vec<(String, String)> =
            vec![("plugin-manifest.yaml".into(), self.manifest_text())];
        entries.extend(self.files.iter().cloned());
        zip_of(&entries)
    }

    pub fn file_name(&self) -> String {
        format!("{}-{}.zip", self.name, self.version)
    }

    /// Writes `<name>-<version>.zip` into `dir` (as if copied there by hand).
    pub fn write_into(&self, dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).expect("plugins dir");
        let path = dir.join(self.file_name());
        std::fs::write(&path, self.zip_bytes()).expect("write zip");
        path
    }
}

/// A zip with these (path, text) entries.
pub fn zip_of(entries: &[(String, String)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, content) in entries {
        writer
            .start_file(path.as_str(), SimpleFileOptions::default())
            .expect("start file");
        writer.write_all(content.as_bytes()).expect("write entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

/// A plugin whose hooks report what they got; common base for many tests.
pub fn simple_plugin(name: &str, version: &str, body: &str) -> PluginSrc {
    PluginSrc::new(name, version).plugin_py(&format!("class Plugin:\n{body}\n"))
}

/// An engine on `dir` that does not watch for changes (tests reload explicitly).
pub fn engine(dir: &Path) -> PluginEngine {
    PluginEngine::builder(dir)
        .watch_interval(None)
        .build()
        .expect("engine opens")
}

pub fn info<'a>(
    infos: &'a [racetrack_plugins::PluginInfo],
    name: &str,
) -> &'a racetrack_plugins::PluginInfo {
    infos
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("plugin {name} not listed in {infos:#?}"))
}

pub fn names(engine: &PluginEngine) -> Vec<String> {
    engine
        .loaded_plugins()
        .iter()
        .map(|p| p.manifest.name.clone())
        .collect()
}

/// Results of a hook as (plugin name, JSON result).
pub fn call_json(
    engine: &PluginEngine,
    hook: &str,
    args: &racetrack_plugins::HookArgs,
) -> Vec<(String, serde_json::Value)> {
    engine
        .invoke(hook, args)
        .expect("hook succeeds")
        .into_iter()
        .map(|o| (o.plugin.name.clone(), o.value.to_json().expect("json")))
        .collect()
}

/// Whether `uv` is on PATH; says SKIP when it is not, and fails under CI (`CI` set),
/// where a missing uv means the uv half of these tests silently stopped running.
pub fn uv_available(test: &str) -> bool {
    if which::which("uv").is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: uv is not on PATH, and CI is set (scripts/test.sh puts .venv/bin on PATH)"
    );
    eprintln!("SKIP: uv not on PATH ({test})");
    false
}

/// A temp folder with `plugins/` (the engine's directory) and `wheels/` (an offline
/// wheelhouse). Test files add their own methods in `impl Area` blocks of their own.
pub struct Area {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
}

impl Area {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        // Canonical, so paths Python reports (`__file__`) compare as they are.
        let root = tmp.path().canonicalize().expect("canonical tempdir");
        std::fs::create_dir_all(root.join("plugins")).expect("mkdir plugins");
        std::fs::create_dir_all(root.join("wheels")).expect("mkdir wheels");
        Self { _tmp: tmp, root }
    }

    pub fn plugins(&self) -> PathBuf {
        self.root.join("plugins")
    }

    pub fn wheels(&self) -> PathBuf {
        self.root.join("wheels")
    }
}
