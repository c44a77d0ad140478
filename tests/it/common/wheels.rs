//! Tiny pure-Python wheels written by hand, so venv tests and benches install
//! offline (`--no-index --find-links <wheelhouse>`) in well under a second.
//!
//! Shared by the test binaries (`mod common;`) and `benches/deps_install.rs`
//! (through `#[path]`), so it depends on nothing but `std` and `zip`.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A wheel to write: distribution `name` at `version`, holding the package `name`
/// (its `__init__.py` sets `VERSION`) plus any extra files.
#[derive(Clone, Debug)]
pub struct Wheel {
    pub name: String,
    pub version: String,
    /// Extra files as (path inside the wheel, text), e.g. `("pkg/sub.py", "X = 1\n")`.
    pub files: Vec<(String, String)>,
}

impl Wheel {
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            files: Vec::new(),
        }
    }

    /// Adds `<name>/<module>.py` with this source.
    pub fn module(self, module: &str, source: &str) -> Self {
        let path = format!("{}/{module}.py", self.name);
        self.file(&path, source)
    }

    pub fn file(mut self, path: &str, content: &str) -> Self {
        self.files.retain(|(p, _)| p != path);
        self.files.push((path.into(), content.into()));
        self
    }

    /// The wheel's file name (`<name>-<version>-py3-none-any.whl`).
    pub fn file_name(&self) -> String {
        format!("{}-{}-py3-none-any.whl", self.name, self.version)
    }

    /// Writes the wheel into `dir` (created if needed) and returns its path.
    pub fn write_into(&self, dir: &Path) -> PathBuf {
        fs::create_dir_all(dir).expect("create wheelhouse");
        let path = dir.join(self.file_name());
        let file = fs::File::create(&path).expect("create wheel");
        let mut zip = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let dist_info = format!("{}-{}.dist-info", self.name, self.version);
        let mut entries: Vec<(String, String)> = vec![(
            format!("{}/__init__.py", self.name),
            format!("VERSION = \"{}\"\n", self.version),
        )];
        for (p, content) in &self.files {
            entries.retain(|(e, _)| e != p);
            entries.push((p.clone(), content.clone()));
        }
        entries.push((
            format!("{dist_info}/METADATA"),
            format!(
                "Metadata-Version: 2.1\nName: {}\nVersion: {}\nSummary: racetrack test package\n",
                self.name, self.version
            ),
        ));
        entries.push((
            format!("{dist_info}/WHEEL"),
            "Wheel-Version: 1.0\nGenerator: racetrack-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .to_owned(),
        ));
        let mut record = String::new();
        for (name, content) in &entries {
            zip.start_file(name.as_str(), options)
                .expect("start wheel entry");
            zip.write_all(content.as_bytes())
                .expect("write wheel entry");
            record.push_str(&format!("{name},,\n"));
        }
        record.push_str(&format!("{dist_info}/RECORD,,\n"));
        zip.start_file(format!("{dist_info}/RECORD"), options)
            .expect("start RECORD");
        zip.write_all(record.as_bytes()).expect("write RECORD");
        zip.finish().expect("finish wheel");
        path
    }
}

/// Writes a plain wheel for each (name, version) into `dir`.
pub fn write_wheelhouse(dir: &Path, wheels: &[(&str, &str)]) -> Vec<PathBuf> {
    wheels
        .iter()
        .map(|(name, version)| Wheel::new(name, version).write_into(dir))
        .collect()
}
