//! `plugin-manifest.yaml`: parsing, validation and writing.
//!
//! One validator serves the engine (when a zip is installed or loaded) and the bundler
//! (before a zip is written), so a bundle that builds is a bundle that loads. How
//! `priority` is coerced is `manifest/lax_int.rs`'s; the tests are in `manifest/tests.rs`.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// File name of the manifest at the root of a plugin folder or zip.
pub const MANIFEST_FILE: &str = "plugin-manifest.yaml";

/// Fields a manifest may carry; anything else is rejected so typos surface at upload.
pub const ALLOWED_FIELDS: &[&str] = &[
    "name",
    "version",
    "url",
    "priority",
    "build_date",
    "category",
    "components",
];

/// Longest `name` or `version` accepted: both end up in file names.
const MAX_COMPONENT_LEN: usize = 128;

/// Longest `<name>-<version>` accepted: the id names files (`<id>.zip`,
/// `state/extracted/<id>.sha256`, staging folders with a suffix) and most file systems
/// stop at 255 bytes per name.
pub const MAX_ID_LEN: usize = 200;

/// `<name>-<version>`, the key of a plugin's files in the plugins directory.
pub fn plugin_id(name: &str, version: &str) -> String {
    format!("{name}-{version}")
}

/// Metadata of a plugin, as written in its `plugin-manifest.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginManifest {
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "lax_int::deserialize")]
    pub priority: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
}

/// Why a manifest was refused. `source` names the file (a folder path, a zip path or an
/// uploaded file name) so an operator knows which plugin is at fault.
#[derive(Debug, Error)]
#[error("{source_name}: invalid {MANIFEST_FILE}: {problem}")]
pub struct ManifestError {
    pub source_name: String,
    pub problem: ManifestProblem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestProblem {
    /// Not valid YAML, wrong types, missing required field, unknown field.
    Syntax(String),
    /// `name` or `version` cannot be used as a file name component.
    UnsafeComponent {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    /// `<name>-<version>` is too long to name the plugin's files.
    IdTooLong { id: String },
}

impl fmt::Display for ManifestProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestProblem::Syntax(msg) => f.write_str(msg),
            ManifestProblem::UnsafeComponent {
                field,
                value,
                reason,
            } => write!(f, "field `{field}` = {value:?} {reason}"),
            ManifestProblem::IdTooLong { id } => write!(
                f,
                "the plugin id `{id}` (name-version) is {} characters long; at most {MAX_ID_LEN} fit the file names it is stored under",
                id.len()
            ),
        }
    }
}

impl PluginManifest {
    /// Parses and validates manifest text. `source_name` is used in error messages only.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, ManifestError> {
        let err = |problem| ManifestError {
            source_name: source_name.to_string(),
            problem,
        };
        // Editors on Windows save with a byte-order mark; YAML would read it as part of
        // the first key.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.trim().is_empty() {
            return Err(err(ManifestProblem::Syntax(
                "the file is empty; `name` and `version` are required".into(),
            )));
        }
        let manifest: PluginManifest =
            serde_norway::from_str(text).map_err(|e| err(ManifestProblem::Syntax(describe(&e))))?;
        manifest.validate().map_err(err)?;
        Ok(manifest)
    }

    /// Reads and validates `plugin-manifest.yaml` inside a plugin folder.
    pub fn from_dir(dir: &Path) -> Result<Self, ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let source_name = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| ManifestError {
            source_name: source_name.clone(),
            problem: ManifestProblem::Syntax(format!("cannot read it: {e}")),
        })?;
        Self::parse(&text, &source_name)
    }

    /// Checks the invariants serde cannot express.
    pub fn validate(&self) -> Result<(), ManifestProblem> {
        check_component("name", &self.name)?;
        check_component("version", &self.version)?;
        let id = self.id();
        if id.len() > MAX_ID_LEN {
            return Err(ManifestProblem::IdTooLong { id });
        }
        Ok(())
    }

    /// `<name>-<version>`: the stem of the zip, the extracted folder and the config folder.
    pub fn id(&self) -> String {
        plugin_id(&self.name, &self.version)
    }

    /// File name of the installed bundle.
    pub fn zip_file_name(&self) -> String {
        format!("{}.zip", self.id())
    }

    /// Whether this plugin should be imported by the host `component` (e.g. `lifecycle`).
    /// A plugin that lists no components runs everywhere.
    pub fn runs_in(&self, component: &str) -> bool {
        self.components.is_empty() || self.components.iter().any(|c| c == component)
    }

    /// YAML text of the manifest, fields in their documented order.
    pub fn to_yaml(&self) -> String {
        // Serialising a struct of strings, integers and lists cannot fail.
        serde_norway::to_string(self).unwrap_or_default()
    }
}

/// `priority` read leniently, as Racetrack's pydantic model reads it.
mod lax_int;

fn describe(e: &serde_norway::Error) -> String {
    // serde's own text already names an unknown field and lists the expected ones.
    e.to_string()
}

/// Whether `value` can be the `field` part of a plugin id (and so of file names).
pub(crate) fn check_component(field: &'static str, value: &str) -> Result<(), ManifestProblem> {
    let bad = |reason| {
        Err(ManifestProblem::UnsafeComponent {
            field,
            value: value.to_string(),
            reason,
        })
    };
    if value.is_empty() {
        return bad("is empty");
    }
    if value.len() > MAX_COMPONENT_LEN {
        return bad("is longer than 128 characters");
    }
    if value.starts_with('.') || value.starts_with('-') {
        return bad("must not start with '.' or '-'");
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
    {
        return bad("may only contain ASCII letters, digits and . _ - +");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
