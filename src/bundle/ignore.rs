//! `.racetrackignore`: which files of a plugin folder stay out of the bundle.
//!
//! Format, one rule per line (surrounding whitespace trimmed; blank lines and lines
//! starting with `#` skipped):
//!
//! * an optional prefix: `-` excludes (the same as no prefix), `+` or `!` re-includes;
//! * shell wildcards (`*`, `?`, `[...]`), matched case-sensitively against one path
//!   component at a time, so `*` never crosses `/`;
//! * `/pattern` is anchored at the plugin root and covers everything below a matched
//!   directory (`/build` ignores `build/x` but not `sub/build`);
//! * a one-component pattern matches any component of the path (`.git` ignores
//!   `a/.git/x`, `*.zip` ignores `dir/folder/x.zip`);
//! * a multi-component pattern matches the last components of the path or of any of its
//!   ancestors (`venv/x` ignores `venv/x/internals`, `logs/out.txt` ignores
//!   `folder/logs/out.txt`).
//!
//! Rules apply in order and the last one that matches wins, so `-whole_dir` followed by
//! `+whole_dir/but_this` keeps only that subfolder. Default rules
//! ([`DEFAULT_IGNORES`]) come after the file's own, so they always win.

use glob::{MatchOptions, Pattern};

/// File name of the ignore file at the root of a plugin folder.
pub const IGNORE_FILE: &str = ".racetrackignore";

/// Rules applied after the ones of `.racetrackignore`, so they always hold. The manifest
/// is excluded because the bundler writes its own, rewritten copy.
pub const DEFAULT_IGNORES: &[&str] = &[
    "*.zip",
    ".git",
    "*.pyc",
    "__pycache__",
    ".gitignore",
    "/.racetrackignore",
    "/plugin-manifest.yaml",
];

const MATCH_OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// One parsed line of an ignore file.
#[derive(Debug, Clone)]
struct Rule {
    /// `true` for `+`/`!` rules (re-include), `false` for exclusions.
    include: bool,
    /// Pattern started with `/`: matched from the plugin root.
    anchored: bool,
    /// One glob per path component, never empty.
    components: Vec<Pattern>,
}

impl Rule {
    fn parse(line: &str) -> Option<Rule> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let (include, rest) = if let Some(rest) = line.strip_prefix(['+', '!']) {
            (true, rest)
        } else if let Some(rest) = line.strip_prefix('-') {
            (false, rest)
        } else {
            (false, line)
        };
        let rest = rest.trim();
        let anchored = rest.starts_with('/');
        let components: Vec<Pattern> = split_components(rest).map(compile).collect();
        if components.is_empty() {
            // `/`, `+` or `-` alone: nothing to match.
            tracing::warn!("{IGNORE_FILE}: ignoring rule {line:?} that names no path");
            return None;
        }
        Some(Rule {
            include,
            anchored,
            components,
        })
    }

    fn matches(&self, path: &[&str]) -> bool {
        let k = self.components.len();
        if k > path.len() {
            return false;
        }
        if self.anchored {
            // The pattern names the path itself or one of its ancestors.
            return self.window_matches(&path[..k]);
        }
        // The pattern's components equal the last components of the path or of an
        // ancestor: any run of `k` consecutive components.
        path.windows(k).any(|w| self.window_matches(w))
    }

    fn window_matches(&self, window: &[&str]) -> bool {
        self.components
            .iter()
            .zip(window)
            .all(|(pattern, component)| pattern.matches_with(component, MATCH_OPTIONS))
    }
}

/// A wildcard component; text that is not a valid glob (e.g. an unclosed `[`) is matched
/// literally rather than failing the whole file.
fn compile(component: &str) -> Pattern {
    Pattern::new(component).unwrap_or_else(|e| {
        tracing::warn!(
            "{IGNORE_FILE}: {component:?} is not a valid wildcard ({e}); matching it literally"
        );
        // An escaped pattern is always valid; fall back to a never-failing literal.
        Pattern::new(&Pattern::escape(component)).unwrap_or_default()
    })
}

/// Path components, skipping empty ones (`a//b`, leading or trailing `/`) and `.`.
fn split_components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

/// Ordered ignore rules of a plugin folder.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

impl IgnoreRules {
    /// Rules of an ignore file's text, without the defaults.
    pub fn parse(text: &str) -> IgnoreRules {
        IgnoreRules {
            rules: text.lines().filter_map(Rule::parse).collect(),
        }
    }

    /// [`DEFAULT_IGNORES`] followed by the rules of `text`.
    pub fn with_defaults(text: &str) -> IgnoreRules {
        // Defaults last, as Racetrack's bundler has them: the last match wins, so no
        // rule of the file can bring back a repository's .git or compiled files.
        let rules = text
            .lines()
            .chain(DEFAULT_IGNORES.iter().copied())
            .filter_map(Rule::parse)
            .collect();
        IgnoreRules { rules }
    }

    /// Whether `rel_path` (relative to the plugin root, `/`-separated) stays out of the
    /// bundle: the last matching rule decides; a path no rule matches is kept.
    pub fn is_ignored(&self, rel_path: &str) -> bool {
        let path: Vec<&str> = split_components(rel_path).collect();
        if path.is_empty() {
            return false;
        }
        self.rules
            .iter()
            .rev()
            .find(|rule| rule.matches(&path))
            .is_some_and(|rule| !rule.include)
    }

    /// Whether nothing under directory `rel_dir` can be kept, so a walker may skip it.
    /// True only when the directory is ignored and no rule re-includes anything: an
    /// exclusion matching a directory matches every path below it as well.
    pub fn excludes_whole_dir(&self, rel_dir: &str) -> bool {
        !self.rules.iter().any(|r| r.include) && self.is_ignored(rel_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> IgnoreRules {
        IgnoreRules::parse(text)
    }

    #[test]
    fn one_component_matches_any_component() {
        let r = rules("*.zip\n.git\n");
        assert!(r.is_ignored("x.zip"));
        assert!(r.is_ignored("dir/folder/x.zip"));
        assert!(r.is_ignored(".git"));
        assert!(r.is_ignored(".git/config"));
        assert!(r.is_ignored("a/.git/x"));
        assert!(!r.is_ignored("x.zip.txt"));
        assert!(!r.is_ignored("a/.gitx/y"));
        assert!(!r.is_ignored("plugin.py"));
    }

    #[test]
    fn star_does_not_cross_slash() {
        let r = rules("a*b\n");
        assert!(r.is_ignored("axxb"));
        assert!(r.is_ignored("d/ab"));
        assert!(!r.is_ignored("a/b"));
        assert!(!r.is_ignored("ax/xb"));
    }

    #[test]
    fn multi_component_matches_end_of_path_or_ancestor() {
        let r = rules("venv/x\nlogs/out.txt\n");
        assert!(r.is_ignored("venv/x"));
        assert!(r.is_ignored("venv/x/internals"));
        assert!(r.is_ignored("deep/venv/x/internals/more"));
        assert!(r.is_ignored("logs/out.txt"));
        assert!(r.is_ignored("folder/logs/out.txt"));
        assert!(!r.is_ignored("venv/y"));
        assert!(!r.is_ignored("venv"));
        assert!(!r.is_ignored("x"));
        assert!(!r.is_ignored("logs/out.txt2"));
        assert!(!r.is_ignored("logs/sub/out.txt"));
    }

    #[test]
    fn multi_component_wildcards() {
        let r = rules("src/*.log\n");
        assert!(r.is_ignored("src/a.log"));
        assert!(r.is_ignored("pkg/src/b.log"));
        assert!(!r.is_ignored("src/sub/a.log"));
        assert!(!r.is_ignored("a.log"));
    }

    #[test]
    fn anchored_matches_only_from_root() {
        let r = rules("/build\n");
        assert!(r.is_ignored("build"));
        assert!(r.is_ignored("build/out.o"));
        assert!(r.is_ignored("build/deep/er/file"));
        assert!(!r.is_ignored("sub/build"));
        assert!(!r.is_ignored("sub/build/out.o"));
        assert!(!r.is_ignored("builder"));

        let r = rules("/a/b\n");
        assert!(r.is_ignored("a/b"));
        assert!(r.is_ignored("a/b/c"));
        assert!(!r.is_ignored("x/a/b"));
        assert!(!r.is_ignored("a"));
    }

    #[test]
    fn unanchored_build_matches_nested() {
        let r = rules("build\n");
        assert!(r.is_ignored("build/out.o"));
        assert!(r.is_ignored("sub/build"));
        assert!(r.is_ignored("sub/build/out.o"));
    }

    #[test]
    fn include_after_exclude_keeps_subfolder() {
        let r = rules("-whole_dir\n+whole_dir/but_this\n");
        assert!(r.is_ignored("whole_dir/a.txt"));
        assert!(r.is_ignored("whole_dir/other/b.txt"));
        assert!(r.is_ignored("whole_dir/but_this_not/c.txt"));
        assert!(!r.is_ignored("whole_dir/but_this/c.txt"));
        assert!(!r.is_ignored("whole_dir/but_this/deep/d.txt"));
        assert!(!r.is_ignored("other/file.txt"));
    }

    #[test]
    fn last_match_wins() {
        // An exclusion after the re-inclusion wins again.
        let r = rules("-data\n!data/keep\n-data/keep/secret\n");
        assert!(r.is_ignored("data/x"));
        assert!(!r.is_ignored("data/keep/y"));
        assert!(r.is_ignored("data/keep/secret"));
        // Order matters: an include before the exclusion is overridden.
        let r = rules("+data/keep\n-data\n");
        assert!(r.is_ignored("data/keep/y"));
    }

    #[test]
    fn bang_and_plus_both_include_minus_excludes() {
        let r = rules("*.txt\n!keep.txt\n+also.txt\n");
        assert!(r.is_ignored("a.txt"));
        assert!(!r.is_ignored("keep.txt"));
        assert!(!r.is_ignored("d/also.txt"));
        let r = rules("-*.txt\n");
        assert!(r.is_ignored("a.txt"));
        assert!(!r.is_ignored("a.md"));
    }

    #[test]
    fn default_ignores_cannot_be_reopened() {
        let r = IgnoreRules::with_defaults("+vendor/keep.pyc\n!.git\n+__pycache__\n+.gitignore\n");
        for path in [
            "vendor/keep.pyc",
            "vendor/other.pyc",
            ".git/config",
            "sub/__pycache__/m.cpython-311.pyc",
            ".gitignore",
            "old.zip",
        ] {
            assert!(r.is_ignored(path), "{path} must stay out");
        }
        assert!(!r.is_ignored("vendor/keep.py"));
    }

    #[test]
    fn case_sensitive() {
        let r = rules("README.md\n*.LOG\n");
        assert!(r.is_ignored("README.md"));
        assert!(!r.is_ignored("readme.md"));
        assert!(!r.is_ignored("Readme.MD"));
        assert!(r.is_ignored("x.LOG"));
        assert!(!r.is_ignored("x.log"));
    }

    #[test]
    fn question_mark_and_brackets() {
        let r = rules("file?.txt\n[ab].py\ndata[0-9]\n");
        assert!(r.is_ignored("file1.txt"));
        assert!(r.is_ignored("d/fileX.txt"));
        assert!(!r.is_ignored("file.txt"));
        assert!(!r.is_ignored("file12.txt"));
        assert!(r.is_ignored("a.py"));
        assert!(r.is_ignored("sub/b.py"));
        assert!(!r.is_ignored("c.py"));
        assert!(!r.is_ignored("ab.py"));
        assert!(r.is_ignored("data7/x"));
        assert!(!r.is_ignored("datax/x"));
        let r = rules("[!a].py\n");
        assert!(r.is_ignored("b.py"));
        assert!(!r.is_ignored("a.py"));
    }

    #[test]
    fn comments_blanks_and_whitespace() {
        let r = rules("# *.py\n\n   \n  secret.txt  \n\t# indented comment\n");
        assert!(!r.is_ignored("plugin.py"));
        assert!(r.is_ignored("secret.txt"));
        assert!(!r.is_ignored("# indented comment"));
        assert_eq!(r.rules.len(), 1);
        // CRLF line endings are trimmed too.
        let r = rules("a.txt\r\nb.txt\r\n");
        assert!(r.is_ignored("a.txt"));
        assert!(r.is_ignored("b.txt"));
    }

    #[test]
    fn trailing_slash_and_degenerate_rules() {
        let r = rules("build/\n/\n+\n-\n");
        assert!(r.is_ignored("build/x"));
        assert!(r.is_ignored("a/build/x"));
        assert_eq!(r.rules.len(), 1);
    }

    #[test]
    fn invalid_wildcard_is_literal() {
        let r = rules("weird[name\n");
        assert!(r.is_ignored("weird[name"));
        assert!(!r.is_ignored("weirdn"));
    }

    #[test]
    fn defaults() {
        let r = IgnoreRules::with_defaults("");
        for ignored in [
            "old-1.0.zip",
            "dir/folder/x.zip",
            ".git/HEAD",
            "sub/.git/config",
            "pkg/mod.pyc",
            "__pycache__/mod.cpython-312.pyc",
            "pkg/__pycache__/x",
            ".gitignore",
            "sub/.gitignore",
            ".racetrackignore",
            "plugin-manifest.yaml",
        ] {
            assert!(r.is_ignored(ignored), "{ignored} kept");
        }
        for kept in [
            "plugin.py",
            "sub/.racetrackignore",
            "sub/plugin-manifest.yaml",
            "requirements.txt",
            "zip.py",
        ] {
            assert!(!r.is_ignored(kept), "{kept} ignored");
        }
        // Without defaults nothing is ignored.
        assert!(!IgnoreRules::parse("").is_ignored("x.zip"));
    }

    #[test]
    fn whole_dir_pruning_only_without_includes() {
        let r = IgnoreRules::with_defaults("");
        assert!(r.excludes_whole_dir(".git"));
        assert!(!r.excludes_whole_dir("src"));
        let r = IgnoreRules::with_defaults("-whole_dir\n+whole_dir/but_this\n");
        assert!(!r.excludes_whole_dir("whole_dir"));
    }
}
