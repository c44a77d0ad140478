//! `plugin-manifest.yaml`: parsing, validation and writing.
//!
//! One validator serves the engine (when a zip is installed or loaded) and the bundler
//! (before a zip is written), so a bundle that builds is a bundle that loads.

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

/// `priority` as Racetrack's pydantic model reads it (lax mode): an integer, an integer
/// written as a string (`"7"`), a float without fraction (`7.0`) or a boolean; anything
/// else is refused with the reason pydantic would give.
mod lax_int {
    use serde::de::{self, Deserializer, Visitor};
    use std::fmt;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        d.deserialize_any(LaxInt)
    }

    struct LaxInt;

    impl<'de> Visitor<'de> for LaxInt {
        type Value = i64;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an integer")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom(format!("priority {v} is out of range")))
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<i64, E> {
            Ok(i64::from(v))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
            // i64's range as f64 bounds: beyond it the cast would saturate silently.
            if v.fract() == 0.0 && (-9.2e18..=9.2e18).contains(&v) {
                Ok(v as i64)
            } else {
                Err(E::custom(format!(
                    "priority {v} is not a whole number; an integer is expected"
                )))
            }
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            let trimmed = v.trim();
            let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
            let parsed = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                trimmed.parse::<i64>().ok()
            } else {
                None
            };
            parsed.ok_or_else(|| {
                E::custom(format!(
                    "priority {v:?} is not an integer (unable to parse string as an integer)"
                ))
            })
        }
    }
}

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
mod tests {
    use super::*;

    #[test]
    fn parses_seed_example() {
        let m = PluginManifest::parse(
            "name: skynet-watcher\nversion: 1.2.3\nurl: https://example.org\npriority: -1\n",
            "x",
        )
        .expect("valid");
        assert_eq!(m.name, "skynet-watcher");
        assert_eq!(m.priority, -1);
        assert_eq!(m.id(), "skynet-watcher-1.2.3");
    }

    #[test]
    fn priority_defaults_to_zero_and_extras_accepted() {
        let m = PluginManifest::parse(
            "name: a\nversion: '1'\nbuild_date: 2024-01-01T000000Z\ncategory: core\ncomponents: [lifecycle]\n",
            "x",
        )
        .expect("valid");
        assert_eq!(m.priority, 0);
        assert!(m.runs_in("lifecycle"));
        assert!(!m.runs_in("image-builder"));
    }

    #[test]
    fn unknown_field_is_named() {
        let e = PluginManifest::parse("name: a\nversion: '1'\nprio: 3\n", "bundle.zip")
            .expect_err("unknown field");
        let text = e.to_string();
        assert!(text.contains("bundle.zip"), "{text}");
        assert!(text.contains("prio"), "{text}");
        for field in ALLOWED_FIELDS {
            assert!(
                text.contains(&format!("`{field}`")),
                "{field} not listed: {text}"
            );
        }
    }

    #[test]
    fn unsafe_names_rejected() {
        for bad in ["../x", "a/b", "", ".hidden", "a b", "-x"] {
            let text = format!("name: {bad:?}\nversion: '1'\n");
            assert!(
                PluginManifest::parse(&text, "x").is_err(),
                "{bad:?} accepted"
            );
        }
        assert!(PluginManifest::parse("name: a\nversion: 1/2\n", "x").is_err());
    }

    #[test]
    fn missing_version_rejected() {
        let e = PluginManifest::parse("name: a\n", "x").expect_err("missing");
        assert!(e.to_string().contains("version"), "{e}");
    }

    #[test]
    fn yaml_round_trip() {
        let m = PluginManifest::parse("name: a\nversion: '1.0'\ncomponents: [x]\n", "x")
            .expect("valid");
        let again = PluginManifest::parse(&m.to_yaml(), "y").expect("valid");
        assert_eq!(m, again);
    }
}

#[cfg(test)]
mod coercion {
    use super::*;

    fn priority(value: &str) -> Result<i64, String> {
        PluginManifest::parse(&format!("name: a\nversion: '1'\npriority: {value}\n"), "m")
            .map(|m| m.priority)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn priority_coerced_like_pydantic() {
        assert_eq!(priority("7"), Ok(7));
        assert_eq!(priority("'7'"), Ok(7));
        assert_eq!(priority("\"-3\""), Ok(-3));
        assert_eq!(priority("' 12 '"), Ok(12));
        assert_eq!(priority("7.0"), Ok(7));
        assert_eq!(priority("true"), Ok(1));
    }

    #[test]
    fn priority_refused_where_pydantic_refuses() {
        for bad in ["x", "'x'", "'7.5'", "7.5", "[1]", "~", "''"] {
            let e = priority(bad).expect_err(bad);
            assert!(e.starts_with("m: invalid plugin-manifest.yaml: "), "{e}");
            assert!(
                e.contains("priority") || e.contains("integer"),
                "{bad}: {e}"
            );
        }
        assert!(priority("'x'")
            .unwrap_err()
            .contains("\"x\" is not an integer"));
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        let m = PluginManifest::parse("\u{feff}name: a\nversion: '1'\n", "m").expect("valid");
        assert_eq!((m.name.as_str(), m.version.as_str()), ("a", "1"));
    }

    #[test]
    fn id_too_long_for_file_names() {
        let long = "n".repeat(120);
        let text = format!("name: {long}\nversion: '{}'\n", "1".repeat(100));
        let e = PluginManifest::parse(&text, "m")
            .expect_err("too long")
            .to_string();
        assert!(e.contains("221 characters long; at most 200"), "{e}");
    }
}

#[cfg(test)]
mod pinned {
    //! Behaviour pinned before the YAML library changed: these must hold across it.
    use super::*;

    #[test]
    fn unquoted_numbers_stay_text() {
        let m = PluginManifest::parse("name: a\nversion: 1.0\n", "x").expect("valid");
        assert_eq!(m.version, "1.0");
        let m = PluginManifest::parse("name: a\nversion: 2\n", "x").expect("valid");
        assert_eq!(m.version, "2");
        let m = PluginManifest::parse("name: a\nversion: 1.10\n", "x").expect("valid");
        assert_eq!(m.version, "1.10");
    }

    #[test]
    fn unknown_field_message() {
        let e = PluginManifest::parse("name: a\nversion: '1'\nprio: 3\n", "bundle.zip")
            .expect_err("unknown field");
        assert_eq!(
            e.to_string(),
            "bundle.zip: invalid plugin-manifest.yaml: unknown field `prio`, expected one of \
             `name`, `version`, `url`, `priority`, `build_date`, `category`, `components` \
             at line 3 column 1"
        );
    }

    #[test]
    fn missing_field_message() {
        let e = PluginManifest::parse("name: a\n", "m.yaml").expect_err("missing");
        assert_eq!(
            e.to_string(),
            "m.yaml: invalid plugin-manifest.yaml: missing field `version`"
        );
    }

    #[test]
    fn written_yaml() {
        let m = PluginManifest::parse(
            "name: a\nversion: 1.0\npriority: -2\ncomponents: [lifecycle]\n",
            "x",
        )
        .expect("valid");
        assert_eq!(
            m.to_yaml(),
            "name: a\nversion: '1.0'\npriority: -2\ncomponents:\n- lifecycle\n"
        );
    }
}
