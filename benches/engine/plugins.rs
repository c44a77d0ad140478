//! The benchmark plugins on disk (one source for both sides) and engines over them.

use std::ffi::CString;
use std::io::Write;
use std::path::Path;

use pyo3::prelude::*;
use racetrack_plugins::PluginEngine;
use zip::write::SimpleFileOptions;

/// The source every benchmark plugin has: a few seed hooks, returning small values.
pub(crate) fn plugin_source(i: usize) -> String {
    format!(
        r#"class Plugin:
    def fatman_runtime_env_vars(self):
        return {{"PLUGIN_{i}_URL": "http://plugin-{i}.local"}}

    def racetrack_event(self, name, user=None):
        return {i}

    def post_fatman_deploy(self, manifest, fatman, image_name, deployer_username=None):
        return None
"#
    )
}

pub(crate) fn zip_bytes(name: &str, version: &str, priority: usize, source: &str) -> Vec<u8> {
    let manifest = format!("name: {name}\nversion: '{version}'\npriority: {priority}\n");
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, content) in [
        ("plugin-manifest.yaml", manifest.as_str()),
        ("plugin.py", source),
    ] {
        writer
            .start_file(path, SimpleFileOptions::default())
            .expect("zip entry");
        writer.write_all(content.as_bytes()).expect("zip write");
    }
    writer.finish().expect("zip finish").into_inner()
}

/// Writes `count` plugin zips into `dir`.
pub(crate) fn write_plugins(dir: &Path, count: usize) {
    std::fs::create_dir_all(dir).expect("plugins dir");
    for i in 0..count {
        let name = format!("bench-plugin-{i:03}");
        let bytes = zip_bytes(&name, "1.0.0", i, &plugin_source(i));
        std::fs::write(dir.join(format!("{name}-1.0.0.zip")), bytes).expect("write zip");
    }
}

/// An engine with the default options a host runs with (change watch every second).
pub(crate) fn open_engine(dir: &Path) -> PluginEngine {
    let engine = PluginEngine::open(dir).expect("engine opens");
    let loaded = engine.loaded_plugins().len();
    let total = engine.plugins().len();
    assert_eq!(
        loaded,
        total,
        "every benchmark plugin loads: {:#?}",
        engine.plugins()
    );
    engine
}

/// Forgets every plugin module (what a reload does to the old set), so sys.modules
/// does not grow over the samples of the start-up cases.
pub(crate) fn forget_modules(py: Python<'_>, prefix: &str) {
    let code = CString::new(format!(
        "import sys\nfor _k in [k for k in sys.modules if k.startswith({prefix:?})]:\n    del sys.modules[_k]\n"
    ))
    .expect("code");
    py.run(&code, None, None).expect("forget modules");
}
