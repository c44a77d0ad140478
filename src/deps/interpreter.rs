//! Finding a standalone interpreter to build venvs with.
//!
//! Packages are imported by the interpreter that is actually running (often embedded,
//! so not necessarily the `python3` on PATH), so a venv's base interpreter must have
//! the same major.minor: compiled extensions and `lib/pythonX.Y` depend on it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::error::DepsError;
use super::process::{self, Finish};

/// How long one `python -c` probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
const PROBE: &str =
    "import sys; print('%d.%d.%d' % tuple(sys.version_info[:3])); print(sys.executable)";

/// The interpreter the plugins run in, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningPython {
    /// `sys.version_info[:3]`.
    pub version: (u32, u32, u32),
    /// `sys.base_prefix`: where the base installation lives, even inside a venv.
    pub base_prefix: PathBuf,
    /// `sys.executable` when known. An embedding host may report its own binary here;
    /// it is only considered when its file name starts with `python`.
    pub executable: Option<PathBuf>,
}

impl RunningPython {
    /// `"3.11"`.
    pub fn major_minor(&self) -> String {
        format!("{}.{}", self.version.0, self.version.1)
    }

    /// `lib/python3.11/site-packages`, relative to a venv.
    pub fn site_packages_rel(&self) -> PathBuf {
        Path::new("lib")
            .join(format!("python{}", self.major_minor()))
            .join("site-packages")
    }
}

/// One interpreter looked at while searching for a base interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Where it was looked for (`/usr/bin/python3`, or `python3 on PATH`).
    pub place: String,
    pub outcome: CandidateOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CandidateOutcome {
    NotFound,
    /// Runs, but is the wrong version.
    Version((u32, u32, u32)),
    /// Exists but could not tell its version.
    Unusable(String),
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            CandidateOutcome::NotFound => write!(f, "{} (not found)", self.place),
            CandidateOutcome::Version((a, b, c)) => {
                write!(f, "{} (Python {a}.{b}.{c})", self.place)
            }
            CandidateOutcome::Unusable(why) => write!(f, "{} ({why})", self.place),
        }
    }
}

pub(crate) fn describe_candidates(tried: &[Candidate]) -> String {
    if tried.is_empty() {
        return "none".to_owned();
    }
    tried
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Finds a standalone interpreter with the running interpreter's major.minor, in this
/// order: `<base_prefix>/bin/pythonX.Y`, `<base_prefix>/bin/python3`, the reported
/// executable (if named `python*`), then `pythonX.Y`, `python3`, `python` on PATH.
/// Each candidate is run to check its version. Returns the path the candidate reports
/// as `sys.executable` (so a pyenv shim resolves to the real interpreter once, here).
pub fn find_base_interpreter(running: &RunningPython) -> Result<PathBuf, DepsError> {
    let wanted = (running.version.0, running.version.1);
    let versioned = format!("python{}", running.major_minor());
    let bin = running.base_prefix.join("bin");

    let mut places: Vec<(String, Option<PathBuf>)> = Vec::new();
    for path in [bin.join(&versioned), bin.join("python3")] {
        let found = path.is_file().then(|| path.clone());
        places.push((path.display().to_string(), found));
    }
    if let Some(exe) = &running.executable {
        let named_python = exe
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("python"));
        if named_python {
            let found = exe.is_file().then(|| exe.clone());
            places.push((exe.display().to_string(), found));
        }
    }
    for name in [versioned.as_str(), "python3", "python"] {
        places.push((format!("{name} on PATH"), which::which(name).ok()));
    }

    let mut tried = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for (place, found) in places {
        let Some(path) = found else {
            tried.push(Candidate {
                place,
                outcome: CandidateOutcome::NotFound,
            });
            continue;
        };
        let identity = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if seen.contains(&identity) {
            continue;
        }
        seen.push(identity);
        match probe(&path) {
            Ok((version, executable)) if (version.0, version.1) == wanted => {
                let chosen = executable
                    .filter(|e| e.is_absolute() && e.is_file())
                    .unwrap_or(path);
                tracing::debug!(interpreter = %chosen.display(), "base interpreter for venvs");
                return Ok(chosen);
            }
            Ok((version, _)) => tried.push(Candidate {
                place: path.display().to_string(),
                outcome: CandidateOutcome::Version(version),
            }),
            Err(why) => tried.push(Candidate {
                place: path.display().to_string(),
                outcome: CandidateOutcome::Unusable(why),
            }),
        }
    }
    Err(DepsError::NoInterpreter {
        plugin_id: None,
        wanted: running.major_minor(),
        tried,
    })
}

/// Runs `python -c PROBE`: its version and `sys.executable`.
/// What a probe learns: `sys.version_info[:3]` and `sys.executable`.
type Probed = ((u32, u32, u32), Option<PathBuf>);

fn probe(python: &Path) -> Result<Probed, String> {
    let mut cmd = Command::new(python);
    cmd.arg("-c").arg(PROBE);
    let outcome = process::run(cmd, "python version probe", Some(PROBE_TIMEOUT))
        .map_err(|e| format!("cannot run: {e}"))?;
    match &outcome.finish {
        Finish::TimedOut => return Err(format!("no answer within {PROBE_TIMEOUT:?}")),
        Finish::Cancelled => return Err("cancelled".to_owned()),
        Finish::Exited(status) if !status.success() => {
            let last = outcome.tail.last().cloned().unwrap_or_default();
            return Err(format!("failed ({status}): {last}"));
        }
        Finish::Exited(_) => {}
    }
    let mut lines = outcome.tail.iter();
    let version = lines
        .next()
        .and_then(|l| parse_version(l))
        .ok_or_else(|| format!("unexpected output: {}", outcome.tail_text()))?;
    let executable = lines
        .next()
        .map(|l| PathBuf::from(l.trim()))
        .filter(|p| !p.as_os_str().is_empty());
    Ok((version, executable))
}

fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(parse_version("3.11.7\n"), Some((3, 11, 7)));
        assert_eq!(parse_version("3.11"), None);
        assert_eq!(parse_version("Python 3"), None);
    }

    #[test]
    fn no_candidate_error_lists_what_was_tried() {
        let running = RunningPython {
            // No interpreter of this version exists anywhere.
            version: (3, 999, 0),
            base_prefix: PathBuf::from("/nonexistent/prefix"),
            executable: Some(PathBuf::from("/nonexistent/racetrack-plugin")),
        };
        let err = find_base_interpreter(&running).expect_err("3.999 does not exist");
        let text = err.to_string();
        eprintln!("{text}");
        assert!(text.contains("3.999"), "{text}");
        assert!(
            text.contains("/nonexistent/prefix/bin/python3.999 (not found)"),
            "{text}"
        );
        assert!(text.contains("python3.999 on PATH (not found)"), "{text}");
        // The host binary is not a python and is not tried.
        assert!(!text.contains("racetrack-plugin"), "{text}");
        if which::which("python3").is_ok() {
            assert!(
                text.contains("(Python 3."),
                "a python3 on PATH shows its version: {text}"
            );
        }
    }
}
