//! Plugin requirements → one virtualenv per plugin.
//!
//! Racetrack used to install every plugin's `requirements.txt` into one shared user
//! site, so plugins pinning different versions broke each other and every restart ran
//! pip again. Here each plugin gets `<venvs_root>/<plugin_id>/`, a venv that also sees
//! the host's packages (`--system-site-packages`), built by uv or pip running as child
//! processes (never in-process: no Python is touched from this module). It is rebuilt
//! in place because venvs hardcode their own path.
//!
//! This file owns the entry points ([`ensure_venv`], [`remove_venv`]); the pieces:
//! - `options`: what the operator chooses ([`DepsOptions`], [`Installer`]);
//! - `error`: [`DepsError`];
//! - `requirements`: what a plugin's `requirements.txt` may ask for;
//! - `venv`: paths, cache key and ready marker (when a venv is reused);
//! - `lock`: one builder per venv across threads and processes;
//! - `build`, `pip`, `uv`: building a venv; `process`: running the installers;
//! - `cancel`: stopping installs on a signal; `interpreter`, `metadata`.
//!
//! Not covered by the cache key: files a requirements file points at (`-r other.txt`,
//! `./local.whl`) and what the indexes serve. A plugin's files change with its
//! version, which is part of its id, so a new version gets a new venv anyway.

mod build;
mod cancel;
mod error;
mod interpreter;
mod lock;
mod metadata;
mod options;
mod pip;
mod process;
mod requirements;
mod uv;
mod venv;

use std::path::{Path, PathBuf};
use std::time::Instant;

#[cfg(unix)]
pub use cancel::stop_installs_on_signals;
pub use cancel::{cancel_flag, cancel_installs, cancelled_by_signal, installs_cancelled};
pub use error::{DepsError, Step};
pub use interpreter::{find_base_interpreter, Candidate, CandidateOutcome, RunningPython};
pub use metadata::{
    find_conflicts, installed_distributions, normalize_name, Distribution, VersionConflict,
};
pub use options::{DepsOptions, Installer, ParseInstallerError, DEFAULT_DEPS_TIMEOUT};
pub use requirements::{check_requirements, PolicyViolation, Reason, RequirementsPolicy};
pub use venv::{venv_dir, READY_MARKER};
// The engine moves and removes whole venvs (installs, rebuilds) under the builders' lock.
pub(crate) use lock::{lock_venv, VenvLock};

use build::Build;
use error::io_error;
use venv::{cache_key, is_ready, remove_path, site_packages_of, valid_plugin_id, venv_python};

/// How many times this process has started pip or uv to install requirements. A warm
/// restart (every venv reused) leaves it unchanged.
pub fn installer_runs() -> u64 {
    build::installer_runs()
}

/// Every child process this module has started (interpreter probes, venv creation,
/// installs). Reusing a venv starts none.
pub fn child_processes() -> u64 {
    process::child_processes()
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

/// Deletes a plugin's venv; nothing to delete is fine. Errors name the path.
pub fn remove_venv(venvs_root: &Path, plugin_id: &str) -> std::io::Result<()> {
    if !valid_plugin_id(plugin_id) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("plugin id {plugin_id:?} cannot name a venv folder"),
        ));
    }
    remove_path(&venv_dir(venvs_root, plugin_id))
}

/// Makes sure `plugin_id`'s venv under `venvs_root` holds `requirements` (a path
/// relative to the current directory, usually `<plugin_dir>/requirements.txt`),
/// building it when it is missing or stale. The requirements are first checked
/// against the operator's policy (see [`check_requirements`]). The installer runs in
/// `plugin_dir`, so relative entries such as `./wheels/x.whl` resolve there.
///
/// Safe to call from several threads and processes at once for one venv: one builds
/// it, the others wait (within `opts.timeout`) and reuse it.
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
    let _span = tracing::info_span!("venv", plugin = plugin_id).entered();
    let started = Instant::now();
    // `None` when the limit is too far away to represent: no limit.
    let deadline = started.checked_add(opts.timeout);
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

    let content = std::fs::read(&requirements).map_err(io_err("read", &requirements))?;
    let policy = RequirementsPolicy {
        offline: opts.no_index,
        allow_source_options: opts.allow_requirement_options,
    };
    check_requirements(&plugin_dir, &requirements, policy).map_err(|violation| {
        DepsError::Refused {
            plugin_id: plugin_id.to_owned(),
            violation,
        }
    })?;
    let key = cache_key(
        &content,
        running,
        opts.installer,
        &find_links,
        opts.no_index,
    );
    let dir = venv_dir(&venvs_root, plugin_id);
    // A warm start takes no lock and writes nothing: the marker is written last and
    // removed first by a rebuild, so a venv with the right marker is complete.
    if is_ready(&dir, &key, running) {
        return Ok(reused(plugin_id, dir, running));
    }
    let _running = cancel::Running::start();
    let _lock = lock::lock_venv(plugin_id, &dir, deadline, opts.timeout)?;
    // Another process may have built it while this one waited.
    if is_ready(&dir, &key, running) {
        return Ok(reused(plugin_id, dir, running));
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
        deadline,
    };
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
                tracing::warn!(plugin = plugin_id, "cannot remove the failed venv: {rm}");
            }
            Err(e)
        }
    }
}

fn reused(plugin_id: &str, dir: PathBuf, running: &RunningPython) -> Venv {
    let site = site_packages_of(&dir, running);
    tracing::debug!(plugin = plugin_id, venv = %dir.display(), "requirements unchanged; reusing the venv");
    Venv {
        python: venv_python(&dir),
        distributions: installed_distributions(&site),
        site_packages: vec![site],
        installer_ran: None,
        dir,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn running() -> RunningPython {
        RunningPython {
            version: (3, 11, 7),
            base_prefix: PathBuf::from("/usr"),
            executable: None,
        }
    }

    #[test]
    fn invalid_plugin_ids_are_refused() {
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

    #[test]
    fn an_unrepresentable_timeout_does_not_panic() {
        let root = tempfile::tempdir().expect("tempdir");
        let plugin = root.path().join("plugin");
        std::fs::create_dir(&plugin).expect("mkdir");
        std::fs::write(plugin.join("requirements.txt"), "-r /etc/passwd\n").expect("write");
        let opts = DepsOptions {
            timeout: Duration::from_secs(u64::MAX),
            ..DepsOptions::default()
        };
        let err = ensure_venv(
            &root.path().join("venvs"),
            "demo-1.0",
            &plugin,
            &plugin.join("requirements.txt"),
            &running(),
            &opts,
        )
        .expect_err("refused");
        assert!(matches!(err, DepsError::Refused { .. }), "{err}");
    }
}
