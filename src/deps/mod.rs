//! Plugin requirements → one virtualenv per plugin.
//!
//! Racetrack used to install every plugin's `requirements.txt` into one shared user
//! site, so plugins pinning different versions broke each other and every restart ran
//! pip again. Here each plugin gets `<venvs_root>/<plugin_id>/`, a venv that also sees
//! the host's packages (`--system-site-packages`), built by uv or pip running as child
//! processes (never in-process: no Python is touched from this module).
//!
//! A venv is reused while its *cache key* is unchanged: sha256 over the requirements
//! file, the running interpreter (version and base prefix) and the installer options.
//! The key is written to `<venv>/.racetrack-ready` only after a successful install, so
//! a venv without a matching marker (crash, kill, failed install, other options) is
//! deleted and rebuilt from scratch, never used half-populated. It is rebuilt in place
//! because venvs hardcode their own path.
//!
//! Not covered by the key: files a requirements file points at (`-r other.txt`,
//! `./local.whl`) and what the indexes serve. A plugin's files change with its
//! version, which is part of its id, so a new version gets a new venv anyway.
//!
//! Venvs of one process are built one at a time per folder; separate processes must
//! not build the same plugin's venv concurrently.

mod interpreter;
mod metadata;
mod process;

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use thiserror::Error;

pub use interpreter::{find_base_interpreter, Candidate, CandidateOutcome, RunningPython};
pub use metadata::{
    find_conflicts, installed_distributions, normalize_name, Distribution, VersionConflict,
};

use interpreter::describe_candidates;
use process::{Finish, RunOutcome};

/// Written into a venv, holding its cache key, once its requirements are installed.
pub const READY_MARKER: &str = ".racetrack-ready";

/// Bumped when the cache key's contents change meaning.
const KEY_FORMAT: &str = "racetrack-plugins venv v1";
const PIP_PROBE_TIMEOUT: Duration = Duration::from_secs(60);
/// First pip release with `--python`.
const PIP_WITH_PYTHON_OPTION: (u32, u32) = (22, 3);

static INSTALLER_RUNS: AtomicU64 = AtomicU64::new(0);

/// How many times this process has started pip or uv to install requirements. A warm
/// restart (every venv reused) leaves it unchanged.
pub fn installer_runs() -> u64 {
    INSTALLER_RUNS.load(Ordering::Relaxed)
}

/// Every child process this module has started (interpreter probes, venv creation,
/// installs). Reusing a venv starts none.
pub fn child_processes() -> u64 {
    process::child_processes()
}

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
/// the installers inherit this process's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepsOptions {
    pub installer: Installer,
    /// Extra wheel folders (`--find-links DIR`); relative paths are taken from the
    /// current directory.
    pub find_links: Vec<PathBuf>,
    /// Install from `find_links` only (`--no-index`): an offline wheelhouse.
    pub no_index: bool,
    /// Limit for building one venv (creation and install together); the installer is
    /// killed when it is reached.
    pub timeout: Duration,
}

impl Default for DepsOptions {
    fn default() -> Self {
        Self {
            installer: Installer::Auto,
            find_links: Vec::new(),
            no_index: false,
            timeout: Duration::from_secs(15 * 60),
        }
    }
}

/// A plugin's ready venv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Venv {
    pub dir: PathBuf,
    /// The venv's own interpreter (`<dir>/bin/python`).
    pub python: PathBuf,
    /// Folders to hand to `site.addsitedir` (in order).
    pub site_packages: Vec<PathBuf>,
    /// The installer that just built it (never `Auto`); `None` when it was reused.
    pub installer_ran: Option<Installer>,
    /// What the venv itself holds (not the host's packages it can also see).
    pub distributions: Vec<Distribution>,
}

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

/// `<venvs_root>/<plugin_id>`.
pub fn venv_dir(venvs_root: &Path, plugin_id: &str) -> PathBuf {
    venvs_root.join(plugin_id)
}

/// Deletes a plugin's venv; nothing to delete is fine.
pub fn remove_venv(venvs_root: &Path, plugin_id: &str) -> io::Result<()> {
    if !valid_plugin_id(plugin_id) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("plugin id {plugin_id:?} cannot name a venv folder"),
        ));
    }
    remove_path(&venv_dir(venvs_root, plugin_id))
}

fn remove_path(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn valid_plugin_id(plugin_id: &str) -> bool {
    !plugin_id.is_empty()
        && plugin_id != "."
        && plugin_id != ".."
        && !plugin_id.contains(['/', '\\', '\0'])
}

/// The venv's interpreter.
fn venv_python(dir: &Path) -> PathBuf {
    if cfg!(windows) {
        dir.join("Scripts").join("python.exe")
    } else {
        dir.join("bin").join("python")
    }
}

fn site_packages_of(dir: &Path, running: &RunningPython) -> PathBuf {
    if cfg!(windows) {
        dir.join("Lib").join("site-packages")
    } else {
        dir.join(running.site_packages_rel())
    }
}

/// Makes sure `plugin_id`'s venv under `venvs_root` holds `requirements` (a path
/// relative to the current directory, usually `<plugin_dir>/requirements.txt`),
/// building it when it is missing or stale. The installer runs in `plugin_dir`, so
/// relative entries such as `./wheels/x.whl` resolve there.
pub fn ensure_venv(
    venvs_root: &Path,
    plugin_id: &str,
    plugin_dir: &Path,
    requirements: &Path,
    running: &RunningPython,
    opts: &DepsOptions,
) -> Result<Venv, DepsError> {
    if !valid_plugin_id(plugin_id) {
        return Err(DepsError::InvalidPluginId {
            plugin_id: plugin_id.to_owned(),
        });
    }
    let io_err = |action: &'static str, path: &Path| io_error(plugin_id, action, path);
    // Children run elsewhere (cwd = plugin dir), so every path they get is absolute.
    let venvs_root = std::path::absolute(venvs_root).map_err(io_err("locate", venvs_root))?;
    let plugin_dir = std::path::absolute(plugin_dir).map_err(io_err("locate", plugin_dir))?;
    let requirements = std::path::absolute(requirements).map_err(io_err("locate", requirements))?;
    let find_links = opts
        .find_links
        .iter()
        .map(|p| std::path::absolute(p).map_err(io_err("locate", p)))
        .collect::<Result<Vec<_>, _>>()?;

    let content = fs::read(&requirements).map_err(io_err("read", &requirements))?;
    let key = cache_key(
        &content,
        running,
        opts.installer,
        &find_links,
        opts.no_index,
    );
    let dir = venv_dir(&venvs_root, plugin_id);
    let _busy = BusyGuard::acquire(&dir);

    if is_ready(&dir, &key, running) {
        let site = site_packages_of(&dir, running);
        tracing::debug!(plugin = plugin_id, venv = %dir.display(), "requirements unchanged; reusing the venv");
        return Ok(Venv {
            python: venv_python(&dir),
            distributions: installed_distributions(&site),
            site_packages: vec![site],
            installer_ran: None,
            dir,
        });
    }

    let build = Build {
        plugin_id,
        dir: &dir,
        venvs_root: &venvs_root,
        plugin_dir: &plugin_dir,
        requirements: &requirements,
        running,
        find_links: &find_links,
        no_index: opts.no_index,
        timeout: opts.timeout,
        deadline: Instant::now() + opts.timeout,
    };
    let started = Instant::now();
    match build.run(opts.installer, &key) {
        Ok(venv) => {
            tracing::info!(
                plugin = plugin_id,
                venv = %dir.display(),
                installer = ?venv.installer_ran,
                distributions = venv.distributions.len(),
                elapsed = ?started.elapsed(),
                "venv ready"
            );
            Ok(venv)
        }
        Err(e) => {
            if let Err(rm) = remove_path(&dir) {
                tracing::warn!(plugin = plugin_id, venv = %dir.display(), "cannot remove the failed venv: {rm}");
            }
            Err(e)
        }
    }
}

/// Hex sha256 over everything a venv's content depends on.
fn cache_key(
    requirements: &[u8],
    running: &RunningPython,
    installer: Installer,
    find_links: &[PathBuf],
    no_index: bool,
) -> String {
    let mut h = Sha256::new();
    let mut field = |name: &str, value: &[u8]| {
        // Length-prefixed, so no two different inputs hash the same text.
        h.update(format!("{name} {}\n", value.len()).as_bytes());
        h.update(value);
        h.update(b"\n");
    };
    field("format", KEY_FORMAT.as_bytes());
    let (major, minor, micro) = running.version;
    field("python", format!("{major}.{minor}.{micro}").as_bytes());
    field(
        "base_prefix",
        running.base_prefix.as_os_str().as_encoded_bytes(),
    );
    field("installer", installer.as_str().as_bytes());
    for dir in find_links {
        field("find_links", dir.as_os_str().as_encoded_bytes());
    }
    field("no_index", if no_index { b"1" } else { b"0" });
    field("requirements", requirements);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn is_ready(dir: &Path, key: &str, running: &RunningPython) -> bool {
    let Ok(marker) = fs::read_to_string(dir.join(READY_MARKER)) else {
        return false;
    };
    if marker.trim() != key {
        tracing::info!(venv = %dir.display(), "venv is stale (requirements, interpreter or installer options changed); rebuilding it");
        return false;
    }
    // The base interpreter may have been removed since; then the venv is dead too.
    if !venv_python(dir).is_file() || !site_packages_of(dir, running).is_dir() {
        tracing::info!(venv = %dir.display(), "venv is broken (interpreter or site-packages missing); rebuilding it");
        return false;
    }
    true
}

/// One process builds one venv folder at a time.
struct BusyGuard(PathBuf);

static BUSY: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static FREED: Condvar = Condvar::new();

impl BusyGuard {
    fn acquire(dir: &Path) -> Self {
        let mut busy = BUSY.lock().unwrap_or_else(|p| p.into_inner());
        while busy.iter().any(|d| d == dir) {
            busy = FREED.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
        busy.push(dir.to_path_buf());
        BusyGuard(dir.to_path_buf())
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let mut busy = BUSY.lock().unwrap_or_else(|p| p.into_inner());
        busy.retain(|d| d != &self.0);
        FREED.notify_all();
    }
}

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

struct Build<'a> {
    plugin_id: &'a str,
    dir: &'a Path,
    venvs_root: &'a Path,
    plugin_dir: &'a Path,
    requirements: &'a Path,
    running: &'a RunningPython,
    find_links: &'a [PathBuf],
    no_index: bool,
    timeout: Duration,
    deadline: Instant,
}

/// The error an I/O failure on `path` becomes, for `map_err`.
fn io_error(
    plugin_id: &str,
    action: &'static str,
    path: &Path,
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

impl Build<'_> {
    fn io_err(&self, action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> DepsError {
        io_error(self.plugin_id, action, path)
    }

    fn run(&self, requested: Installer, key: &str) -> Result<Venv, DepsError> {
        // Whatever is there is not a usable venv: start clean.
        if fs::symlink_metadata(self.dir).is_ok() {
            tracing::info!(plugin = self.plugin_id, venv = %self.dir.display(), "removing the previous venv");
            remove_path(self.dir).map_err(self.io_err("remove the old venv", self.dir))?;
        }
        fs::create_dir_all(self.venvs_root).map_err(self.io_err("create", self.venvs_root))?;

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
                source: io::Error::new(
                    io::ErrorKind::NotFound,
                    "the venv has no lib/python*/site-packages",
                ),
            })?;
        }
        let marker = self.dir.join(READY_MARKER);
        fs::write(&marker, format!("{key}\n")).map_err(self.io_err("write", &marker))?;
        Ok(Venv {
            dir: self.dir.to_path_buf(),
            python,
            distributions: installed_distributions(&site),
            site_packages: vec![site],
            installer_ran: Some(installer),
        })
    }

    fn build_with_uv(&self, uv: &Path, base: &Path, python: &Path) -> Result<(), DepsError> {
        let mut venv = Command::new(uv);
        venv.arg("venv")
            .arg("--system-site-packages")
            .arg("--python")
            .arg(base)
            .arg(self.dir)
            .current_dir(self.venvs_root);
        self.step(Installer::Uv, Step::CreateVenv, venv)?;

        let mut install = Command::new(uv);
        install.args(["pip", "install", "--python"]).arg(python);
        self.add_install_args(&mut install);
        self.step(Installer::Uv, Step::Install, install)
    }

    fn build_with_pip(&self, base: &Path, python: &Path) -> Result<(), DepsError> {
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
            .current_dir(self.venvs_root);
        let timeout = PIP_PROBE_TIMEOUT.min(self.remaining());
        match process::run(cmd, "pip version probe", timeout) {
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

    fn add_install_args(&self, cmd: &mut Command) {
        cmd.arg("-r").arg(self.requirements);
        for dir in self.find_links {
            cmd.arg("--find-links").arg(dir);
        }
        if self.no_index {
            cmd.arg("--no-index");
        }
        cmd.current_dir(self.plugin_dir);
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn step(&self, installer: Installer, step: Step, cmd: Command) -> Result<(), DepsError> {
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
        }
    }
}

fn step_label(step: Step) -> &'static str {
    match step {
        Step::CreateVenv => "venv",
        Step::Install => "install",
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

/// `lib/python*/site-packages` when the expected one is absent (another layout).
fn find_site_packages(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir.join("lib"))
        .ok()?
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    found.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> RunningPython {
        RunningPython {
            version: (3, 11, 7),
            base_prefix: PathBuf::from("/usr"),
            executable: None,
        }
    }

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
        assert_eq!(opts.timeout, Duration::from_secs(900));
    }

    #[test]
    fn cache_key_depends_on_every_input() {
        let r = running();
        let wh = vec![PathBuf::from("/wh")];
        let base = cache_key(b"a==1\n", &r, Installer::Auto, &wh, true);
        assert_eq!(base, cache_key(b"a==1\n", &r, Installer::Auto, &wh, true));
        assert_eq!(base.len(), 64);
        let mut other = r.clone();
        other.version = (3, 11, 8);
        let variants = [
            cache_key(b"a==2\n", &r, Installer::Auto, &wh, true),
            cache_key(b"a==1\n", &other, Installer::Auto, &wh, true),
            cache_key(b"a==1\n", &r, Installer::Pip, &wh, true),
            cache_key(b"a==1\n", &r, Installer::Auto, &[], true),
            cache_key(b"a==1\n", &r, Installer::Auto, &wh, false),
        ];
        for v in variants {
            assert_ne!(base, v);
        }
    }

    #[test]
    fn plugin_ids_must_be_one_path_component() {
        assert!(valid_plugin_id("my-plugin-1.0.0"));
        for bad in ["", ".", "..", "a/b", "a\\b", "../x"] {
            assert!(!valid_plugin_id(bad), "{bad:?}");
        }
        let err = ensure_venv(
            Path::new("/tmp"),
            "../escape",
            Path::new("/tmp"),
            Path::new("/tmp/requirements.txt"),
            &running(),
            &DepsOptions::default(),
        )
        .expect_err("rejected");
        assert!(matches!(err, DepsError::InvalidPluginId { .. }));
        assert!(remove_venv(Path::new("/tmp"), "..").is_err());
    }

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

    #[test]
    fn missing_requirements_file_names_the_plugin() {
        let root = tempfile::tempdir().expect("tempdir");
        let err = ensure_venv(
            root.path(),
            "demo-1.0",
            root.path(),
            &root.path().join("requirements.txt"),
            &running(),
            &DepsOptions::default(),
        )
        .expect_err("no file");
        let text = err.to_string();
        assert!(text.starts_with("plugin demo-1.0: cannot read "), "{text}");
        assert!(text.contains("requirements.txt"), "{text}");
    }
}
