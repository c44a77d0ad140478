//! Building a venv with pip: `python -m venv`, then pip from outside the venv
//! (`--python`) when the host's pip is recent enough, else from inside. pip's
//! configuration files are ignored (`PIP_CONFIG_FILE` set to the null device), and
//! the plugin's folder, pip's working directory, is kept off `sys.path`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::build::Build;
use super::error::{DepsError, Step};
use super::options::Installer;
use super::process;

const PIP_PROBE_TIMEOUT: Duration = Duration::from_secs(60);
/// First pip release with `--python`.
const PIP_WITH_PYTHON_OPTION: (u32, u32) = (22, 3);

/// How pip gets at the venv.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PipMode {
    /// The base interpreter's pip installs into the venv (`--python`): no pip copy
    /// in every venv, and the venv is created in milliseconds.
    Outside,
    /// Old pip (< 22.3): the venv's interpreter runs the host's pip, which it sees
    /// through the system site-packages.
    InsideHostPip,
    /// No pip on the host: the venv gets its own (ensurepip).
    InsideOwnPip,
}

impl Build<'_> {
    pub(crate) fn build_with_pip(&self, base: &Path, python: &Path) -> Result<(), DepsError> {
        let mode = self.pip_mode(base);
        tracing::debug!(plugin = self.plugin_id, ?mode, "pip mode");
        let mut venv = Command::new(base);
        venv.args(["-m", "venv", "--system-site-packages"]);
        if mode != PipMode::InsideOwnPip {
            venv.arg("--without-pip");
        }
        venv.arg(self.dir).current_dir(self.venvs_root);
        self.step(Installer::Pip, Step::CreateVenv, venv)?;

        let mut install = match mode {
            PipMode::Outside => {
                let mut cmd = self.pip_command(base);
                cmd.arg("--python").arg(python);
                cmd
            }
            PipMode::InsideHostPip | PipMode::InsideOwnPip => self.pip_command(python),
        };
        install.args(["install", "--disable-pip-version-check", "--no-input"]);
        self.add_install_args(&mut install);
        self.step(Installer::Pip, Step::Install, install)
    }

    /// `python -m pip`, without the working directory (the plugin's folder) on
    /// `sys.path`: a plugin file named like a module must not hijack pip.
    fn pip_command(&self, python: &Path) -> Command {
        let mut cmd = Command::new(python);
        // pip reads no configuration file when this names the null device.
        cmd.env("PIP_CONFIG_FILE", null_device());
        if self.running.version >= (3, 11, 0) {
            cmd.args(["-P", "-m", "pip"]);
        } else {
            cmd.arg("-c").arg(
                "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; \
                 import runpy; runpy.run_module('pip', run_name='__main__', alter_sys=True)",
            );
        }
        cmd
    }

    fn pip_mode(&self, base: &Path) -> PipMode {
        let mut cmd = Command::new(base);
        cmd.args(["-m", "pip", "--version"])
            .env("PIP_CONFIG_FILE", null_device())
            .current_dir(self.venvs_root);
        let timeout = match self.remaining() {
            Some(left) => PIP_PROBE_TIMEOUT.min(left),
            None => PIP_PROBE_TIMEOUT,
        };
        match process::run(cmd, "pip version probe", Some(timeout)) {
            Ok(outcome) if outcome.success() => {
                let version = outcome.tail.iter().find_map(|l| parse_pip_version(l));
                match version {
                    Some(v) if v >= PIP_WITH_PYTHON_OPTION => PipMode::Outside,
                    _ => PipMode::InsideHostPip,
                }
            }
            _ => PipMode::InsideOwnPip,
        }
    }
}

fn null_device() -> &'static str {
    if cfg!(windows) {
        "nul"
    } else {
        "/dev/null"
    }
}

/// `pip 23.2.1 from ...` → (23, 2).
fn parse_pip_version(line: &str) -> Option<(u32, u32)> {
    let version = line
        .trim()
        .strip_prefix("pip ")?
        .split_whitespace()
        .next()?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()
        .and_then(|m| {
            m.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()
        })
        .unwrap_or(0);
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pip_versions() {
        assert_eq!(
            parse_pip_version("pip 23.2.1 from /x/site-packages/pip (python 3.11)"),
            Some((23, 2))
        );
        assert_eq!(parse_pip_version("pip 22.3 from /x"), Some((22, 3)));
        assert_eq!(parse_pip_version("pip 24.1b1 from /x"), Some((24, 1)));
        assert_eq!(parse_pip_version("Looking in links: /opt/wheels"), None);
    }
}
