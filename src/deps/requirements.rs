//! What a plugin's `requirements.txt` may ask of the installer, checked before pip or
//! uv ever sees it.
//!
//! A plugin is code from an upload, so its requirements must not widen what the
//! operator chose: in offline mode (`no_index`) only plain specifiers (with markers
//! and `--hash`) and files inside the plugin; online, no index or find-links options
//! unless the operator allows them. Never, in any mode: files outside the plugin
//! (`-r /etc/passwd`, `../x.whl`, `file:///…`), editable installs (they would point
//! into the upload's staging folder, which is gone after the install), environment
//! variables (`${HOME}`), or options this module does not know.
//!
//! The lines are parsed as pip does (continuations, comments, `-r`/`-c` of files
//! inside the plugin checked recursively). A refusal quotes the plugin's own line and
//! its number, never the content of a file that line points at.

use std::collections::HashSet;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use thiserror::Error;

/// Longest quoted line in an error; the rest is elided.
const MAX_QUOTE: usize = 200;
/// `-r` nesting deeper than this is refused (a loop, or an abuse).
const MAX_DEPTH: usize = 8;

/// Options that only narrow or tune what is installed; harmless in any mode.
const BENIGN_OPTIONS: &[&str] = &[
    "--no-index",
    "--pre",
    "--prefer-binary",
    "--only-binary",
    "--no-binary",
    "--require-hashes",
];
/// Options that choose where packages come from.
const SOURCE_OPTIONS: &[&str] = &[
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
];
/// Options pointing at another requirements or constraints file.
const FILE_OPTIONS: &[&str] = &["-r", "--requirement", "-c", "--constraint"];
const EDITABLE_OPTIONS: &[&str] = &["-e", "--editable"];
/// Suffixes that make a bare word a file to install rather than a project name.
const ARCHIVE_SUFFIXES: &[&str] = &[
    ".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar",
];

/// Which requirements a plugin may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequirementsPolicy {
    /// Offline: the wheelhouse only.
    pub offline: bool,
    /// Online: the plugin may choose indexes and find-links.
    pub allow_source_options: bool,
}

/// One refused line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file} line {line}: `{text}` is refused: {reason}")]
pub struct PolicyViolation {
    /// The requirements file, relative to the plugin folder.
    pub file: String,
    /// 1-based; the first physical line of a continued line.
    pub line: usize,
    /// The line as written (continuations joined, comment removed), cut when long.
    pub text: String,
    pub reason: Reason,
}

/// Why a line is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A source option (`--index-url` …) in offline mode.
    SourceOptionOffline,
    /// A source option online without the operator's permission.
    SourceOptionNotAllowed,
    /// A URL (other than a `file:` URL inside the plugin) in offline mode.
    UrlOffline,
    /// A path or `file:` URL outside the plugin folder.
    OutsidePlugin,
    /// A file `-r`/`-c` names is missing or unreadable (its content is never shown).
    UnreadableFile,
    Editable,
    EnvironmentVariable,
    /// An option that is neither known nor harmless; holds its name.
    UnknownOption(String),
    /// Something other than `--hash` after a requirement.
    RequirementOption(String),
    TooDeep,
    NotUtf8,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::SourceOptionOffline => f.write_str(
                "in offline mode (--wheelhouse) packages come from the wheelhouse only; a plugin may not add indexes or find-links",
            ),
            Reason::SourceOptionNotAllowed => f.write_str(
                "a plugin may choose indexes or find-links only when the operator allows it (--allow-requirement-options)",
            ),
            Reason::UrlOffline => f.write_str(
                "in offline mode (--wheelhouse) packages come from the wheelhouse only, not from URLs",
            ),
            Reason::OutsidePlugin => f.write_str(
                "it points outside the plugin's folder; requirements may only name files shipped in the plugin",
            ),
            Reason::UnreadableFile => f.write_str("the file it names is missing or unreadable"),
            Reason::Editable => f.write_str(
                "editable installs (-e) are not supported: the venv would link into the upload's staging folder, which is removed after the install; list the folder without -e (it is then copied into the venv) or ship a wheel",
            ),
            Reason::EnvironmentVariable => f.write_str(
                "environment variables (${...}) are not expanded in a plugin's requirements",
            ),
            Reason::UnknownOption(name) => write!(f, "option {name} is not supported in a plugin's requirements"),
            Reason::RequirementOption(name) => write!(
                f,
                "only --hash may follow a requirement, not {name}"
            ),
            Reason::TooDeep => write!(f, "requirements files nest deeper than {MAX_DEPTH} levels"),
            Reason::NotUtf8 => f.write_str("the file is not UTF-8 text"),
        }
    }
}

/// Checks `requirements` (inside `plugin_dir`; both absolute) and every file it
/// includes against `policy`.
pub fn check_requirements(
    plugin_dir: &Path,
    requirements: &Path,
    policy: RequirementsPolicy,
) -> Result<(), PolicyViolation> {
    let checker = Checker {
        plugin_dir: normalize(plugin_dir),
        policy,
    };
    let mut visited = HashSet::new();
    checker.check_file(&normalize(requirements), 0, &mut visited, None)
}

struct Checker {
    plugin_dir: PathBuf,
    policy: RequirementsPolicy,
}

/// A line as pip sees it after joining continuations and removing comments.
struct Line {
    number: usize,
    text: String,
}

impl Checker {
    fn check_file(
        &self,
        path: &Path,
        depth: usize,
        visited: &mut HashSet<PathBuf>,
        // The line that included this file, to blame when the file cannot be read.
        included_from: Option<&PolicyViolation>,
    ) -> Result<(), PolicyViolation> {
        if !visited.insert(path.to_path_buf()) {
            return Ok(()); // already checked; pip itself reports the loop
        }
        let file = self.display(path);
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(_) => {
                return Err(match included_from {
                    Some(blame) => PolicyViolation {
                        reason: Reason::UnreadableFile,
                        ..blame.clone()
                    },
                    None => PolicyViolation {
                        file,
                        line: 0,
                        text: String::new(),
                        reason: Reason::UnreadableFile,
                    },
                })
            }
        };
        let Ok(text) = String::from_utf8(bytes) else {
            return Err(PolicyViolation {
                file,
                line: 0,
                text: String::new(),
                reason: Reason::NotUtf8,
            });
        };
        for line in logical_lines(&text) {
            let violation = |reason| PolicyViolation {
                file: file.clone(),
                line: line.number,
                text: quote(&line.text),
                reason,
            };
            if line.text.contains("${") {
                return Err(violation(Reason::EnvironmentVariable));
            }
            let tokens: Vec<&str> = line.text.split_whitespace().collect();
            let Some(first) = tokens.first() else {
                continue;
            };
            if first.starts_with('-') {
                let (name, value) = split_option(&tokens);
                if FILE_OPTIONS.contains(&name) {
                    let Some(value) = value else {
                        return Err(violation(Reason::UnknownOption(name.to_owned())));
                    };
                    if is_url(value) {
                        // pip fetches remote requirement files; a plugin ships its own.
                        return Err(violation(Reason::OutsidePlugin));
                    }
                    let base = path.parent().unwrap_or(&self.plugin_dir);
                    let target = normalize(&base.join(value));
                    if !self.inside(&target) {
                        return Err(violation(Reason::OutsidePlugin));
                    }
                    if depth + 1 > MAX_DEPTH {
                        return Err(violation(Reason::TooDeep));
                    }
                    let blame = violation(Reason::UnreadableFile);
                    self.check_file(&target, depth + 1, visited, Some(&blame))?;
                } else if EDITABLE_OPTIONS.contains(&name) {
                    return Err(violation(Reason::Editable));
                } else if SOURCE_OPTIONS.contains(&name) {
                    if self.policy.offline {
                        return Err(violation(Reason::SourceOptionOffline));
                    }
                    if !self.policy.allow_source_options {
                        return Err(violation(Reason::SourceOptionNotAllowed));
                    }
                } else if !BENIGN_OPTIONS.contains(&name) {
                    return Err(violation(Reason::UnknownOption(name.to_owned())));
                }
                continue;
            }
            self.check_requirement(&tokens).map_err(violation)?;
        }
        Ok(())
    }

    fn check_requirement(&self, tokens: &[&str]) -> Result<(), Reason> {
        let spec_len = tokens
            .iter()
            .position(|t| t.starts_with("--"))
            .unwrap_or(tokens.len());
        let mut options = tokens[spec_len..].iter();
        while let Some(option) = options.next() {
            let name = option.split('=').next().unwrap_or(option);
            if name != "--hash" {
                return Err(Reason::RequirementOption(name.to_owned()));
            }
            if !option.contains('=') {
                options.next(); // `--hash sha256:…`
            }
        }
        let spec = tokens[..spec_len].join(" ");
        // A direct reference: `name[extras] @ url ; marker`.
        if let Some((name, rest)) = spec.split_once('@') {
            if is_plain(name.trim()) {
                let url = rest.split_whitespace().next().unwrap_or("");
                return self.check_url(url);
            }
        }
        let head = spec.split(';').next().unwrap_or("").trim();
        if is_url(head) {
            let url = spec.split_whitespace().next().unwrap_or("");
            return self.check_url(url);
        }
        if is_plain(head) {
            return Ok(());
        }
        // Anything else names a file or folder; pip resolves it from its working
        // directory, the plugin folder.
        let word = head.split_whitespace().next().unwrap_or(head);
        if word.starts_with('~') || !self.inside(&normalize(&self.plugin_dir.join(word))) {
            return Err(Reason::OutsidePlugin);
        }
        Ok(())
    }

    fn check_url(&self, url: &str) -> Result<(), Reason> {
        if let Some(rest) = strip_prefix_ignore_case(url, "file:") {
            let rest = rest.split(['#', '?']).next().unwrap_or("");
            let path = match rest.strip_prefix("//") {
                // `file://host/path`: only the local host names a file here.
                Some(after) => match after.find('/') {
                    Some(0) => after.to_owned(),
                    Some(i) if after[..i].eq_ignore_ascii_case("localhost") => {
                        after[i..].to_owned()
                    }
                    _ => return Err(Reason::OutsidePlugin),
                },
                None => rest.to_owned(),
            };
            let Some(path) = percent_decode(&path) else {
                return Err(Reason::OutsidePlugin);
            };
            if !self.inside(&normalize(&self.plugin_dir.join(path))) {
                return Err(Reason::OutsidePlugin);
            }
            return Ok(());
        }
        if self.policy.offline {
            return Err(Reason::UrlOffline);
        }
        Ok(())
    }

    fn inside(&self, path: &Path) -> bool {
        path.starts_with(&self.plugin_dir)
    }

    fn display(&self, path: &Path) -> String {
        path.strip_prefix(&self.plugin_dir)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// pip's line handling: a trailing `\` continues the line, `#` at the start or after
/// white space starts a comment, blank lines are skipped.
fn logical_lines(text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut current: Option<Line> = None;
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let (body, continued) = match raw.strip_suffix('\\') {
            Some(body) => (body, true),
            None => (raw, false),
        };
        let line = current.get_or_insert_with(|| Line {
            number: i + 1,
            text: String::new(),
        });
        line.text.push_str(body);
        if !continued {
            if let Some(mut done) = current.take() {
                done.text = strip_comment(&done.text).trim().to_owned();
                if !done.text.is_empty() {
                    lines.push(done);
                }
            }
        }
    }
    if let Some(mut done) = current.take() {
        done.text = strip_comment(&done.text).trim().to_owned();
        if !done.text.is_empty() {
            lines.push(done);
        }
    }
    lines
}

fn strip_comment(line: &str) -> &str {
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_space {
            return &line[..i];
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// `--name=value`, `--name value`, `-xvalue`, `-x value`.
fn split_option<'a>(tokens: &[&'a str]) -> (&'a str, Option<&'a str>) {
    let first = tokens[0];
    if let Some((name, value)) = first.split_once('=').filter(|_| first.starts_with("--")) {
        return (name, Some(value));
    }
    if !first.starts_with("--") && first.len() > 2 && first.is_char_boundary(2) {
        return (&first[..2], Some(&first[2..]));
    }
    (first, tokens.get(1).copied())
}

fn is_url(text: &str) -> bool {
    text.contains("://") || strip_prefix_ignore_case(text, "file:").is_some()
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// A project name with optional extras and version specifiers (`a[b]>=1,<2`), not a
/// file name (`a.whl`) or a path.
fn is_plain(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " ._-[],<>=!~*()+".contains(c))
        && !ARCHIVE_SUFFIXES
            .iter()
            .any(|s| text.to_ascii_lowercase().ends_with(s))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Lexically resolves `.` and `..` (the plugin folder holds no symlinks: extraction
/// refuses them).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn quote(text: &str) -> String {
    if text.len() <= MAX_QUOTE {
        return text.to_owned();
    }
    let mut end = MAX_QUOTE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFLINE: RequirementsPolicy = RequirementsPolicy {
        offline: true,
        allow_source_options: false,
    };
    const ONLINE: RequirementsPolicy = RequirementsPolicy {
        offline: false,
        allow_source_options: false,
    };
    const ONLINE_ALLOWED: RequirementsPolicy = RequirementsPolicy {
        offline: false,
        allow_source_options: true,
    };

    fn check(text: &str, policy: RequirementsPolicy) -> Result<(), PolicyViolation> {
        let dir = tempfile::tempdir().expect("tempdir");
        let plugin = dir.path().join("plugin");
        std::fs::create_dir_all(plugin.join("sub")).expect("mkdir");
        std::fs::write(plugin.join("sub/more.txt"), "b==1\n").expect("write");
        std::fs::write(plugin.join("sub/bad.txt"), "# fine\n--index-url http://x\n")
            .expect("write");
        let req = plugin.join("requirements.txt");
        std::fs::write(&req, text).expect("write");
        check_requirements(&plugin, &req, policy)
    }

    #[test]
    fn plain_specifiers_pass_everywhere() {
        let text = "# comment\n\
                    a==1.0  # trailing comment\n\
                    B_c[extra1,extra2] >= 2, < 3 ; python_version >= \"3.8\"\n\
                    d~=1.4 \\\n    --hash=sha256:abc \\\n    --hash sha256:def\n\
                    \n\
                    --require-hashes\n\
                    -r sub/more.txt\n\
                    -c./sub/more.txt\n\
                    ./wheels/x-1.0-py3-none-any.whl\n\
                    file:./wheels/x-1.0-py3-none-any.whl\n";
        for policy in [OFFLINE, ONLINE, ONLINE_ALLOWED] {
            assert_eq!(check(text, policy), Ok(()), "{policy:?}");
        }
    }

    fn refused(text: &str, policy: RequirementsPolicy) -> PolicyViolation {
        check(text, policy).expect_err(text)
    }

    #[test]
    fn offline_refuses_sources_and_urls() {
        for line in [
            "--find-links http://127.0.0.1:1/",
            "-f http://127.0.0.1:1/",
            "-fhttp://127.0.0.1:1/",
            "--index-url=http://127.0.0.1:1/simple",
            "-i http://127.0.0.1:1/simple",
            "--extra-index-url http://127.0.0.1:1/simple",
            "--trusted-host 127.0.0.1",
        ] {
            let v = refused(&format!("a==1\n{line}\n"), OFFLINE);
            assert_eq!(v.reason, Reason::SourceOptionOffline, "{line}");
            assert_eq!((v.line, v.text.as_str()), (2, line));
            assert_eq!(v.file, "requirements.txt");
            // Allowed online only with the operator's permission.
            assert_eq!(refused(line, ONLINE).reason, Reason::SourceOptionNotAllowed);
            assert_eq!(check(line, ONLINE_ALLOWED), Ok(()));
        }
        for line in [
            "pkg @ http://127.0.0.1:1/pkg-1.0-py3-none-any.whl",
            "http://127.0.0.1:1/pkg-1.0-py3-none-any.whl",
            "git+https://127.0.0.1:1/repo.git#egg=pkg",
        ] {
            assert_eq!(refused(line, OFFLINE).reason, Reason::UrlOffline, "{line}");
            assert_eq!(check(line, ONLINE), Ok(()), "{line}");
        }
    }

    #[test]
    fn files_outside_the_plugin_are_refused_without_reading_them() {
        for line in [
            "-r /etc/passwd",
            "-r ../../../../etc/passwd",
            "--requirement=/etc/passwd",
            "-c /etc/passwd",
            "/etc/passwd",
            "../outside.whl",
            "~/x.whl",
            "file:///etc/passwd",
            "pkg @ file:///tmp/pkg.whl",
            "file://otherhost/x.whl",
            "-r https://127.0.0.1:1/r.txt",
        ] {
            for policy in [OFFLINE, ONLINE_ALLOWED] {
                let v = refused(line, policy);
                assert_eq!(v.reason, Reason::OutsidePlugin, "{line}");
                let text = v.to_string();
                assert!(!text.contains("root:"), "{text}");
                assert!(text.contains(&format!("`{line}`")), "{text}");
            }
        }
    }

    #[test]
    fn included_files_are_checked_and_blamed_precisely() {
        let v = refused("a==1\n-r sub/bad.txt\n", ONLINE);
        assert_eq!(v.file, "sub/bad.txt");
        assert_eq!(v.line, 2);
        assert_eq!(v.text, "--index-url http://x");
        let v = refused("-r sub/missing.txt\n", ONLINE);
        assert_eq!(v.reason, Reason::UnreadableFile);
        assert_eq!((v.file.as_str(), v.line), ("requirements.txt", 1));
    }

    #[test]
    fn editables_env_vars_and_unknown_options_are_refused() {
        assert_eq!(refused("-e ./pkg", ONLINE).reason, Reason::Editable);
        assert_eq!(refused("--editable=./pkg", ONLINE).reason, Reason::Editable);
        assert_eq!(
            refused("-r ${HOME}/x.txt", ONLINE).reason,
            Reason::EnvironmentVariable
        );
        assert_eq!(
            refused("--use-pep517", ONLINE).reason,
            Reason::UnknownOption("--use-pep517".into())
        );
        assert_eq!(
            refused("a==1 --config-settings=x=y", ONLINE).reason,
            Reason::RequirementOption("--config-settings".into())
        );
    }

    #[test]
    fn the_message_quotes_the_line() {
        let v = refused("a==1\n\n-r /etc/passwd  # read it\n", OFFLINE);
        assert_eq!(
            v.to_string(),
            "requirements.txt line 3: `-r /etc/passwd` is refused: it points outside the plugin's folder; requirements may only name files shipped in the plugin"
        );
    }
}
