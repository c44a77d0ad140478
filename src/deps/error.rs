//! Everything that can go wrong while making a plugin's venv, worded for an operator:
//! each error names the plugin and, where there is one, the file, the installer and
//! the last lines the installer printed.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use thiserror::Error;

use super::interpreter::{describe_candidates, Candidate};
use super::options::Installer;
use super::requirements::PolicyViolation;

/// The step of a venv build that went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    CreateVenv,
    Install,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::CreateVenv => "creating its venv",
            Step::Install => "installing its requirements",
        })
    }
}

#[derive(Debug, Error)]
pub enum DepsError {
    #[error("plugin id {plugin_id:?} cannot name a venv folder (it is empty, `.`, `..` or holds a path separator)")]
    InvalidPluginId { plugin_id: String },
    #[error("plugin {plugin_id}: cannot {action} {}: {source}", path.display())]
    Io {
        plugin_id: String,
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("plugin {plugin_id}: {violation}")]
    Refused {
        plugin_id: String,
        violation: PolicyViolation,
    },
    #[error(
        "{}no Python {wanted} interpreter found to build venvs with (the running interpreter is Python {wanted}, and packages must match it); tried: {}",
        plugin_prefix(.plugin_id),
        describe_candidates(.tried)
    )]
    NoInterpreter {
        plugin_id: Option<String>,
        wanted: String,
        tried: Vec<Candidate>,
    },
    #[error(
        "plugin {plugin_id}: installer {installer} was asked for, but `{installer}` is not on PATH"
    )]
    InstallerNotFound {
        plugin_id: String,
        installer: Installer,
    },
    #[error("plugin {plugin_id}: {step} failed: cannot start {program}: {source}")]
    Spawn {
        plugin_id: String,
        step: Step,
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("plugin {plugin_id}: creating its venv with {installer} failed ({status}){}", show_tail(.output_tail))]
    VenvFailed {
        plugin_id: String,
        installer: Installer,
        status: ExitStatus,
        output_tail: String,
    },
    #[error("plugin {plugin_id}: installing its requirements with {installer} failed ({status}){}", show_tail(.output_tail))]
    InstallFailed {
        plugin_id: String,
        installer: Installer,
        status: ExitStatus,
        output_tail: String,
    },
    #[error(
        "plugin {plugin_id}: {step} with {installer} did not finish within {}s and was stopped{}",
        timeout.as_secs(),
        show_tail(.output_tail)
    )]
    TimedOut {
        plugin_id: String,
        installer: Installer,
        step: Step,
        timeout: Duration,
        output_tail: String,
    },
    #[error(
        "plugin {plugin_id}: another process ({holder}) was still building its venv {} after {timeout:?}; gave up waiting",
        path.display()
    )]
    LockTimedOut {
        plugin_id: String,
        path: PathBuf,
        holder: String,
        timeout: Duration,
    },
    #[error("plugin {plugin_id}: installing its requirements was cancelled (interrupted by a signal); the installer was stopped")]
    Cancelled { plugin_id: String },
}

fn plugin_prefix(plugin_id: &Option<String>) -> String {
    plugin_id
        .as_ref()
        .map(|id| format!("plugin {id}: "))
        .unwrap_or_default()
}

fn show_tail(tail: &str) -> String {
    if tail.trim().is_empty() {
        return ". It printed nothing.".to_owned();
    }
    let mut text = String::from(". Last lines of its output:");
    for line in tail.lines() {
        text.push_str("\n    ");
        text.push_str(line);
    }
    text
}

/// The error an I/O failure on `path` becomes, for `map_err`.
pub(crate) fn io_error(
    plugin_id: &str,
    action: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(io::Error) -> DepsError {
    let plugin_id = plugin_id.to_owned();
    let path = path.to_path_buf();
    move |source| DepsError::Io {
        plugin_id,
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn install_failure_reads_well() {
        use std::os::unix::process::ExitStatusExt;
        let err = DepsError::InstallFailed {
            plugin_id: "demo-1.0".into(),
            installer: Installer::Pip,
            status: ExitStatus::from_raw(1 << 8),
            output_tail: "ERROR: Could not find a version that satisfies the requirement nope\nERROR: No matching distribution found for nope".into(),
        };
        assert_eq!(
            err.to_string(),
            "plugin demo-1.0: installing its requirements with pip failed (exit status: 1). Last lines of its output:\n    \
             ERROR: Could not find a version that satisfies the requirement nope\n    \
             ERROR: No matching distribution found for nope"
        );
    }
}
