//! What a venv holds (read from `*.dist-info` metadata), and version conflicts between
//! venvs: all plugins share one interpreter, so one package at two versions means one
//! plugin silently gets the other's.

use std::fmt;
use std::fs;
use std::path::Path;
use std::str::FromStr;

use pep440_rs::Version;

/// An installed distribution (a "package" as pip lists it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Distribution {
    /// Normalized per PEP 503: lowercase, runs of `-`, `_`, `.` become one `-`.
    pub name: String,
    pub version: String,
}

/// PEP 503 name normalization: `Foo__Bar.baz` → `foo-bar-baz`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            in_separator = true;
            continue;
        }
        if in_separator && !out.is_empty() {
            out.push('-');
        }
        in_separator = false;
        out.extend(c.to_lowercase());
    }
    out
}

/// Distributions installed directly in `site_packages` (`*.dist-info/METADATA`, and
/// legacy `*.egg-info`), sorted by name. Unreadable entries are skipped; a missing
/// folder gives an empty list.
pub fn installed_distributions(site_packages: &Path) -> Vec<Distribution> {
    let Ok(entries) = fs::read_dir(site_packages) else {
        return Vec::new();
    };
    let mut dists = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let metadata = if file_name.ends_with(".dist-info") {
            path.join("METADATA")
        } else if file_name.ends_with(".egg-info") {
            if path.is_dir() {
                path.join("PKG-INFO")
            } else {
                path.clone()
            }
        } else {
            continue;
        };
        let Ok(text) = fs::read_to_string(&metadata) else {
            continue;
        };
        if let Some(dist) = parse_metadata(&text) {
            dists.push(dist);
        }
    }
    dists.sort();
    dists.dedup();
    dists
}

/// `Name:` and `Version:` from the header block of core metadata (RFC 822 style).
fn parse_metadata(text: &str) -> Option<Distribution> {
    let mut name = None;
    let mut version = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            break; // the body (long description) starts here
        }
        if let Some((key, value)) = line.split_once(':') {
            let value = value.trim();
            if key.eq_ignore_ascii_case("name") && name.is_none() {
                name = Some(normalize_name(value));
            } else if key.eq_ignore_ascii_case("version") && version.is_none() {
                version = Some(value.to_owned());
            }
        }
    }
    let name = name.filter(|n| !n.is_empty())?;
    Some(Distribution {
        name,
        version: version.unwrap_or_default(),
    })
}

/// One package installed at two different versions by two plugins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionConflict {
    /// Normalized name.
    pub package: String,
    /// `(plugin_id, version)` of the plugin listed first.
    pub first: (String, String),
    pub second: (String, String),
}

impl fmt::Display for VersionConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "package {} is {} in plugin {} but {} in plugin {}",
            self.package, self.first.1, self.first.0, self.second.1, self.second.0
        )
    }
}

/// Whether two version strings name one version under PEP 440 (`1.0` is `1.0.0`,
/// `1.0-alpha1` is `1.0a1`); strings that are not PEP 440 versions compare as written.
fn same_version(a: &str, b: &str) -> bool {
    match (Version::from_str(a.trim()), Version::from_str(b.trim())) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Every pair of plugins (in input order) whose venvs hold the same package at
/// different versions (PEP 440 equality), sorted by package.
pub fn find_conflicts(venvs: &[(String, Vec<Distribution>)]) -> Vec<VersionConflict> {
    let mut conflicts = Vec::new();
    for (i, (first_id, first_dists)) in venvs.iter().enumerate() {
        for (second_id, second_dists) in &venvs[i + 1..] {
            for a in first_dists {
                for b in second_dists.iter().filter(|b| b.name == a.name) {
                    if !same_version(&a.version, &b.version) {
                        conflicts.push(VersionConflict {
                            package: a.name.clone(),
                            first: (first_id.clone(), a.version.clone()),
                            second: (second_id.clone(), b.version.clone()),
                        });
                    }
                }
            }
        }
    }
    // Stable: keeps plugin order within a package.
    conflicts.sort_by(|a, b| a.package.cmp(&b.package));
    conflicts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(name: &str, version: &str) -> Distribution {
        Distribution {
            name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize_name("Foo__Bar.baz"), "foo-bar-baz");
        assert_eq!(normalize_name("typing_extensions"), "typing-extensions");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_name("A-_-B"), "a-b");
        assert_eq!(normalize_name(" Requests "), "requests");
    }

    #[test]
    fn parses_headers_only() {
        let text = "Metadata-Version: 2.1\nName: My_Pkg\nVersion: 1.2.3\n\nName: not-this\n";
        assert_eq!(parse_metadata(text), Some(dist("my-pkg", "1.2.3")));
        assert_eq!(parse_metadata("Version: 1\n"), None);
    }

    #[test]
    fn reads_dist_info_and_egg_info() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("alpha-1.0.dist-info");
        fs::create_dir(&a).expect("mkdir");
        fs::write(a.join("METADATA"), "Name: Alpha\nVersion: 1.0\n").expect("write");
        let b = dir.path().join("beta-2.0.egg-info");
        fs::create_dir(&b).expect("mkdir");
        fs::write(b.join("PKG-INFO"), "Name: beta\nVersion: 2.0\n").expect("write");
        fs::write(
            dir.path().join("gamma-3.egg-info"),
            "Name: Gamma\nVersion: 3\n",
        )
        .expect("write");
        fs::create_dir(dir.path().join("broken.dist-info")).expect("mkdir");
        fs::create_dir(dir.path().join("alpha")).expect("mkdir");
        assert_eq!(
            installed_distributions(dir.path()),
            vec![
                dist("alpha", "1.0"),
                dist("beta", "2.0"),
                dist("gamma", "3")
            ]
        );
        assert!(installed_distributions(&dir.path().join("missing")).is_empty());
    }

    #[test]
    fn equal_versions_under_pep_440_are_no_conflict() {
        let venvs = vec![
            ("a-1".to_owned(), vec![dist("x", "1.0"), dist("y", "2.0a1")]),
            (
                "b-1".to_owned(),
                vec![dist("x", "1.0.0"), dist("y", "2.0-alpha1")],
            ),
            ("c-1".to_owned(), vec![dist("x", "1.0.post1")]),
        ];
        let conflicts = find_conflicts(&venvs);
        let pairs: Vec<_> = conflicts
            .iter()
            .map(|c| (c.first.0.as_str(), c.second.0.as_str()))
            .collect();
        assert_eq!(pairs, vec![("a-1", "c-1"), ("b-1", "c-1")]);
        assert!(same_version("not a version", "not a version"));
        assert!(!same_version("weird-1", "weird-2"));
    }

    #[test]
    fn conflicts_are_pairs_with_different_versions() {
        let venvs = vec![
            (
                "a-1".to_owned(),
                vec![dist("shared", "1.0"), dist("same", "2")],
            ),
            (
                "b-1".to_owned(),
                vec![dist("shared", "2.0"), dist("same", "2")],
            ),
            (
                "c-1".to_owned(),
                vec![dist("shared", "1.0"), dist("other", "1")],
            ),
        ];
        let conflicts = find_conflicts(&venvs);
        assert_eq!(
            conflicts,
            vec![
                VersionConflict {
                    package: "shared".into(),
                    first: ("a-1".into(), "1.0".into()),
                    second: ("b-1".into(), "2.0".into()),
                },
                VersionConflict {
                    package: "shared".into(),
                    first: ("b-1".into(), "2.0".into()),
                    second: ("c-1".into(), "1.0".into()),
                },
            ]
        );
        assert_eq!(
            conflicts[0].to_string(),
            "package shared is 1.0 in plugin a-1 but 2.0 in plugin b-1"
        );
    }
}
