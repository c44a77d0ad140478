//! Reading requirement lines as pip does, and the small text tests the policy
//! applies to them. No policy here.

use std::path::{Component, Path, PathBuf};

/// Longest quoted line in an error; the rest is elided.
const MAX_QUOTE: usize = 200;
/// Suffixes that make a bare word a file to install rather than a project name.
const ARCHIVE_SUFFIXES: &[&str] = &[
    ".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar",
];

/// A line as pip sees it after joining continuations and removing comments.
pub(super) struct Line {
    /// 1-based; the first physical line of a continued line.
    pub number: usize,
    pub text: String,
}

/// pip's line handling: a trailing `\` continues the line, `#` at the start or after
/// white space starts a comment, blank lines are skipped.
pub(super) fn logical_lines(text: &str) -> Vec<Line> {
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
pub(super) fn split_option<'a>(tokens: &[&'a str]) -> (&'a str, Option<&'a str>) {
    let first = tokens[0];
    if let Some((name, value)) = first.split_once('=').filter(|_| first.starts_with("--")) {
        return (name, Some(value));
    }
    if !first.starts_with("--") && first.len() > 2 && first.is_char_boundary(2) {
        return (&first[..2], Some(&first[2..]));
    }
    (first, tokens.get(1).copied())
}

pub(super) fn is_url(text: &str) -> bool {
    text.contains("://") || strip_prefix_ignore_case(text, "file:").is_some()
}

pub(super) fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// A project name with optional extras and version specifiers (`a[b]>=1,<2`), not a
/// file name (`a.whl`) or a path.
pub(super) fn is_plain(text: &str) -> bool {
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

pub(super) fn percent_decode(text: &str) -> Option<String> {
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
pub(super) fn normalize(path: &Path) -> PathBuf {
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

pub(super) fn quote(text: &str) -> String {
    if text.len() <= MAX_QUOTE {
        return text.to_owned();
    }
    let mut end = MAX_QUOTE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
