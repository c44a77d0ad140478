//! What the operator chooses about installing requirements: the installer, offline
//! wheelhouses, what a plugin's `requirements.txt` may ask for, and the time limit.
//! Plain data; nothing here runs anything.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;

/// The default limit for building one venv (creation and install together).
pub const DEFAULT_DEPS_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Which tool installs requirements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Installer {
    /// uv when `uv` is on PATH, else pip.
    #[default]
    Auto,
    Pip,
    Uv,
}

impl Installer {
    pub fn as_str(self) -> &'static str {
        match self {
            Installer::Auto => "auto",
            Installer::Pip => "pip",
            Installer::Uv => "uv",
        }
    }
}

impl fmt::Display for Installer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown installer {0:?}: expected auto, pip or uv")]
pub struct ParseInstallerError(pub String);

impl FromStr for Installer {
    type Err = ParseInstallerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Installer::Auto),
            "pip" => Ok(Installer::Pip),
            "uv" => Ok(Installer::Uv),
            _ => Err(ParseInstallerError(s.to_owned())),
        }
    }
}

/// How requirements are installed. Standard pip/uv environment variables
/// (`PIP_INDEX_URL`, `UV_INDEX_URL`, `HTTPS_PROXY`, `SSL_CERT_FILE`, ...) apply too:
/// the installers inherit this process's environment. Their configuration *files*
/// (user, site and project) are ignored, so a file shipped in a plugin has no effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepsOptions {
    pub installer: Installer,
    /// Extra wheel folders (`--find-links DIR`); relative paths are taken from the
    /// current directory.
    pub find_links: Vec<PathBuf>,
    /// Install from `find_links` only (`--no-index`): an offline wheelhouse. A
    /// plugin's requirements may then hold only plain requirement specifiers (with
    /// markers and `--hash`), and files inside the plugin.
    pub no_index: bool,
    /// Let a plugin's requirements choose indexes and wheel folders (`--index-url`,
    /// `--extra-index-url`, `--find-links`, `--trusted-host`). Never in offline mode.
    pub allow_requirement_options: bool,
    /// Limit for building one venv (creation and install together, and waiting for
    /// another process building it); the installer is killed when it is reached.
    /// A limit too large to represent means no limit.
    pub timeout: Duration,
}

impl Default for DepsOptions {
    fn default() -> Self {
        Self {
            installer: Installer::Auto,
            find_links: Vec::new(),
            no_index: false,
            allow_requirement_options: false,
            timeout: DEFAULT_DEPS_TIMEOUT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installer_round_trips() {
        for i in [Installer::Auto, Installer::Pip, Installer::Uv] {
            assert_eq!(i.to_string().parse::<Installer>(), Ok(i));
        }
        assert_eq!(" UV ".parse::<Installer>(), Ok(Installer::Uv));
        let err = "conda".parse::<Installer>().expect_err("not an installer");
        assert_eq!(
            err.to_string(),
            "unknown installer \"conda\": expected auto, pip or uv"
        );
    }

    #[test]
    fn default_options() {
        let opts = DepsOptions::default();
        assert_eq!(opts.installer, Installer::Auto);
        assert!(opts.find_links.is_empty());
        assert!(!opts.no_index);
        assert!(!opts.allow_requirement_options);
        assert_eq!(opts.timeout, Duration::from_secs(900));
    }
}
