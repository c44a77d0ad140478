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

mod lines;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use lines::{
    is_plain, is_url, logical_lines, normalize, percent_decode, quote, split_option,
    strip_prefix_ignore_case,
};

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
