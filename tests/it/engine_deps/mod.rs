//! Plugin requirements through the engine and the CLI: one venv per plugin, built
//! offline from wheels made on the spot (`tests/it/common/wheels.rs`).
//!
//! Needs a `python3` on PATH with pip; the uv variants print "SKIP: uv not on PATH"
//! and pass when `uv` is missing. Every package name starts with `rted` and is unique
//! to its test: all engines of this binary share one interpreter and so one
//! `sys.modules`.
//!
//! `deps::installer_runs()` is process-wide. Tests that assert it did not move hold
//! [`COUNTING`] for writing; every other test building venvs in this process holds it
//! for reading. Keep venv-building engine tests in this module (these files) only, or
//! that count can be disturbed.

mod cli;
mod lifecycle;
mod shadowing;
mod venvs;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::common::wheels::{write_wheelhouse, Wheel};
use crate::common::*;
use racetrack_plugins::deps::{self, Installer, READY_MARKER};
use racetrack_plugins::{HookArgs, PluginEngine, PluginInfo, PluginStatus};
use serde_json::Value;

const CLI: &str = env!("CARGO_BIN_EXE_racetrack-plugin");

static COUNTING: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    COUNTING.read().unwrap_or_else(|p| p.into_inner())
}

impl Area {
    fn venv(&self, id: &str) -> PathBuf {
        self.plugins().join("venvs").join(id)
    }

    fn wheel(&self, wheel: Wheel) -> PathBuf {
        wheel.write_into(&self.wheels())
    }

    fn engine(&self, installer: Installer) -> PluginEngine {
        PluginEngine::builder(self.plugins())
            .installer(installer)
            .offline_wheelhouse(self.wheels())
            .watch_interval(None)
            .build()
            .expect("engine opens")
    }

    /// Runs the CLI on this area, offline, with `installer`.
    fn cli(&self, installer: &str, args: &[&str]) -> Output {
        Command::new(CLI)
            .arg("--plugins-dir")
            .arg(self.plugins())
            .arg("--wheelhouse")
            .arg(self.wheels())
            .args(["--installer", installer])
            .args(args)
            .env_remove("RACETRACK_PLUGINS_DIR")
            .env_remove("RUST_LOG")
            .output()
            .expect("CLI runs")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// One plugin's hook result as JSON.
fn hook(engine: &PluginEngine, plugin: &str, hook: &str) -> Value {
    engine
        .invoke_one(plugin, hook, &HookArgs::new())
        .unwrap_or_else(|e| panic!("{plugin}.{hook} raised: {e}"))
        .unwrap_or_else(|| panic!("{plugin} has no hook {hook}"))
        .value
        .to_json()
        .expect("json result")
}

fn loaded<'a>(infos: &'a [PluginInfo], name: &str) -> &'a PluginInfo {
    let p = info(infos, name);
    assert_eq!(
        p.status,
        PluginStatus::Loaded,
        "{name} did not load: {:?}",
        p.error
    );
    p
}

/// `__file__` reported by a hook, checked to lie inside `venv`.
fn assert_from_venv(file: &Value, venv: &Path) {
    let file = PathBuf::from(file.as_str().expect("__file__ is a string"));
    let file = file.canonicalize().unwrap_or(file);
    assert!(
        file.starts_with(venv),
        "{} is not inside the plugin's venv {}",
        file.display(),
        venv.display()
    );
}

/// A plugin importing `eager` at module level and `lazy` (and `lazy.helper`) only
/// inside a hook; `where` and `lazy` report versions and `__file__`s.
fn importing_plugin(name: &str, version: &str, eager: &str, lazy: &str) -> PluginSrc {
    PluginSrc::new(name, version)
        .file("requirements.txt", &format!("{eager}==1.2\n{lazy}>=0.5\n"))
        .plugin_py(&format!(
            "import {eager}\n\
             \n\
             class Plugin:\n\
             \x20   def eager(self):\n\
             \x20       return {{'version': {eager}.VERSION, 'file': {eager}.__file__}}\n\
             \n\
             \x20   def lazy(self):\n\
             \x20       import {lazy}\n\
             \x20       from {lazy} import helper\n\
             \x20       return {{'version': {lazy}.VERSION, 'file': {lazy}.__file__,\n\
             \x20               'helper': helper.__file__, 'answer': helper.answer()}}\n"
        ))
}

/// The wheels `importing_plugin` needs.
fn importing_wheels(area: &Area, eager: &str, lazy: &str) {
    area.wheel(Wheel::new(eager, "1.2"));
    area.wheel(Wheel::new(eager, "0.9")); // not chosen: the pin says 1.2
    area.wheel(Wheel::new(lazy, "0.7").module("helper", "def answer():\n    return 42\n"));
}
