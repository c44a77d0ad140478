//! Building one venv from scratch, the steps both installers share: clearing what was
//! there, choosing the installer, running each step as a bounded, cancellable child,
//! and writing the ready marker. The tool-specific steps are in `pip.rs` and `uv.rs`.
//! The caller holds the venv's lock.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::cancel::installs_cancelled;
use super::error::{io_error, DepsError, Step};
use super::interpreter::{find_base_interpreter, RunningPython};
use super::metadata::installed_distributions;
use super::options::Installer;
use super::process::{self, Finish, RunOutcome};
use super::venv::{
    find_site_packages, remove_path, site_packages_of, venv_python, write_ready_marker,
    READY_MARKER,
};
use super::Venv;

static INSTALLER_RUNS: AtomicU64 = AtomicU64::new(0);

/// How many times this process has started pip or uv to install requirements.
pub(crate) fn installer_runs() -> u64 {
    INSTALLER_RUNS.load(Ordering::Relaxed)
}

pub(crate) struct Build<'a> {
    pub plugin_id: &'a str,
    pub dir: &'a Path,
    pub venvs_root: &'a Path,
    pub plugin_dir: &'a Path,
    pub requirements: &'a Path,
    pub running: &'a RunningPython,
    pub find_links: &'a [PathBuf],
    pub no_index: bool,
    pub timeout: Duration,
    /// `None`: no limit (the timeout is too large to represent).
    pub deadline: Option<Instant>,
}

impl Build<'_> {
    pub(crate) fn io_err(
        &self,
        action: &'static str,
        path: &Path,
    ) -> impl FnOnce(std::io::Error) -> DepsError {
        io_error(self.plugin_id, action, path)
    }

    pub(crate) fn run(&self, requested: Installer, key: &str) -> Result<Venv, DepsError> {
        // Whatever is there is not a usable venv: start clean, marker first, so no
        // reader (they take no lock) sees a ready venv being emptied.
        if std::fs::symlink_metadata(self.dir).is_ok() {
            remove_path(&self.dir.join(READY_MARKER))
                .map_err(self.io_err("remove the ready marker in", self.dir))?;
            tracing::info!(plugin = self.plugin_id, venv = %self.dir.display(), "removing the previous venv");
            remove_path(self.dir).map_err(self.io_err("remove the old venv", self.dir))?;
        }
        fs_err::create_dir_all(self.venvs_root).map_err(self.io_err("create", self.venvs_root))?;

        let uv = match requested {
            Installer::Pip => None,
            Installer::Uv => {
                Some(
                    which::which("uv").map_err(|_| DepsError::InstallerNotFound {
                        plugin_id: self.plugin_id.to_owned(),
                        installer: Installer::Uv,
                    })?,
                )
            }
            Installer::Auto => which::which("uv").ok(),
        };
        let base = find_base_interpreter(self.running).map_err(|e| match e {
            // Its probes were stopped, not failed.
            _ if installs_cancelled() => DepsError::Cancelled {
                plugin_id: self.plugin_id.to_owned(),
            },
            DepsError::NoInterpreter { wanted, tried, .. } => DepsError::NoInterpreter {
                plugin_id: Some(self.plugin_id.to_owned()),
                wanted,
                tried,
            },
            other => other,
        })?;
        tracing::info!(
            plugin = self.plugin_id,
            venv = %self.dir.display(),
            base = %base.display(),
            installer = if uv.is_some() { "uv" } else { "pip" },
            "building the plugin's venv"
        );
        let python = venv_python(self.dir);
        let installer = match uv {
            Some(uv) => {
                self.build_with_uv(&uv, &base, &python)?;
                Installer::Uv
            }
            None => {
                self.build_with_pip(&base, &python)?;
                Installer::Pip
            }
        };

        let mut site = site_packages_of(self.dir, self.running);
        if !site.is_dir() {
            site = find_site_packages(self.dir).ok_or_else(|| DepsError::Io {
                plugin_id: self.plugin_id.to_owned(),
                action: "find site-packages in",
                path: self.dir.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the venv has no lib/python*/site-packages",
                ),
            })?;
        }
        write_ready_marker(self.dir, key)
            .map_err(self.io_err("write the ready marker in", self.dir))?;
        Ok(Venv {
            dir: self.dir.to_path_buf(),
            python,
            distributions: installed_distributions(&site),
            site_packages: vec![site],
            installer_ran: Some(installer),
        })
    }

    /// What is left of the time limit; `None` for no limit.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Runs one step of the build; anything but a clean exit is the step's error.
    pub(crate) fn step(
        &self,
        installer: Installer,
        step: Step,
        cmd: Command,
    ) -> Result<(), DepsError> {
        let program = cmd.get_program().to_string_lossy().into_owned();
        let label = format!("{} {installer} {}", self.plugin_id, step_label(step));
        let counter = (step == Step::Install).then_some(&INSTALLER_RUNS);
        let outcome: RunOutcome = process::run_counted(cmd, &label, self.remaining(), counter)
            .map_err(|source| DepsError::Spawn {
                plugin_id: self.plugin_id.to_owned(),
                step,
                program,
                source,
            })?;
        tracing::debug!(plugin = self.plugin_id, %installer, ?step, elapsed = ?outcome.elapsed, "step done");
        let plugin_id = self.plugin_id.to_owned();
        let output_tail = outcome.tail_text();
        match outcome.finish {
            Finish::Exited(status) if status.success() => Ok(()),
            Finish::Exited(status) => Err(match step {
                Step::CreateVenv => DepsError::VenvFailed {
                    plugin_id,
                    installer,
                    status,
                    output_tail,
                },
                Step::Install => DepsError::InstallFailed {
                    plugin_id,
                    installer,
                    status,
                    output_tail,
                },
            }),
            Finish::TimedOut => Err(DepsError::TimedOut {
                plugin_id,
                installer,
                step,
                timeout: self.timeout,
                output_tail,
            }),
            Finish::Cancelled => Err(DepsError::Cancelled { plugin_id }),
        }
    }

    /// Options both installers take the same way. The installer runs in the plugin's
    /// folder, so relative entries such as `./wheels/x.whl` resolve there.
    pub(crate) fn add_install_args(&self, cmd: &mut Command) {
        cmd.arg("-r").arg(self.requirements);
        for dir in self.find_links {
            cmd.arg("--find-links").arg(dir);
        }
        if self.no_index {
            cmd.arg("--no-index");
        }
        cmd.current_dir(self.plugin_dir);
    }
}

fn step_label(step: Step) -> &'static str {
    match step {
        Step::CreateVenv => "venv",
        Step::Install => "install",
    }
}
