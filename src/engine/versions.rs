//! Which loaded plugin a name and optional version mean: Racetrack's semantic-version
//! order, used when no version is given. Pure functions over a [`PluginSet`].

use std::sync::Arc;

use super::{LoadedPlugin, PluginSet};

/// A loaded plugin of `set` by name and version; without a version, the newest.
pub fn find_in<'a>(
    set: &'a PluginSet,
    name: &str,
    version: Option<&str>,
) -> Option<&'a Arc<LoadedPlugin>> {
    let mut matching = set.loaded().iter().filter(|p| p.name() == name);
    match version {
        Some(v) => matching.find(|p| p.version() == v),
        // max_by keeps the last of equals: the one later in call order, like Racetrack.
        None => matching.max_by(|a, b| compare_versions(a.version(), b.version())),
    }
}

/// Racetrack's `SemanticVersion` order: `MAJOR.MINOR.PATCH` numerically, then a
/// version without a label above any with one, labels as text. Versions that are not
/// `X.Y.Z[label]` (Racetrack refuses them) rank below all others, as text.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    fn parse(v: &str) -> Option<([u64; 3], &str)> {
        let mut numbers = [0u64; 3];
        let mut rest = v;
        for (i, n) in numbers.iter_mut().enumerate() {
            if i > 0 {
                rest = rest.strip_prefix('.')?;
            }
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            *n = rest.get(..digits)?.parse().ok()?;
            rest = &rest[digits..];
        }
        Some((numbers, rest))
    }
    match (parse(a), parse(b)) {
        (Some((na, la)), Some((nb, lb))) => {
            na.cmp(&nb)
                .then_with(|| match (la.is_empty(), lb.is_empty()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    (false, false) => la.cmp(lb),
                })
        }
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::compare_versions;
    use std::cmp::Ordering::*;

    #[test]
    fn racetrack_version_order() {
        assert_eq!(compare_versions("1.10.0", "1.9.0"), Greater);
        assert_eq!(compare_versions("2.0.0", "2.0.0-dev"), Greater);
        assert_eq!(compare_versions("2.0.0-alpha", "2.0.0-beta"), Less);
        assert_eq!(compare_versions("1.0.0", "1.0.0"), Equal);
        assert_eq!(compare_versions("0.0.1", "latest"), Greater);
    }
}
