//! The command-line grammar of `racetrack-plugin`: global options and subcommands.
//! Owns parsing only; what a command does lives in `commands` and `demo`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::bundle_cli::BundleArgs;
use crate::deps::Installer;
use crate::engine::{DEFAULT_PLUGINS_DIR, PLUGINS_DIR_ENV};

#[derive(Debug, Parser)]
#[command(
    name = "racetrack-plugin",
    version,
    about = "Install, list, call and bundle Racetrack plugins",
    after_help = "Exit codes: 0 ok, 1 a plugin or hook failed, 2 bad usage."
)]
pub struct Cli {
    /// Plugins directory.
    #[arg(
        long,
        global = true,
        env = PLUGINS_DIR_ENV,
        default_value = DEFAULT_PLUGINS_DIR
    )]
    pub plugins_dir: PathBuf,
    /// Host component (e.g. lifecycle); plugins made for other components are skipped.
    #[arg(long, global = true)]
    pub component: Option<String>,
    /// Tool installing requirements.txt: auto (uv when on PATH), pip or uv.
    #[arg(long, global = true, default_value = "auto")]
    pub installer: Installer,
    /// Install requirements from this folder of wheels only, without any index.
    #[arg(long, global = true, value_name = "DIR")]
    pub wheelhouse: Option<PathBuf>,
    /// Folder of host-provided Python packages every plugin may import (repeatable);
    /// added to sys.path when the engine starts.
    #[arg(long = "python-path", global = true, value_name = "DIR")]
    pub python_path: Vec<PathBuf>,
    /// Time limit for installing one plugin's requirements, in seconds.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = crate::deps::DEFAULT_DEPS_TIMEOUT.as_secs())]
    pub deps_timeout: u64,
    /// Time limit for importing one plugin, in seconds (fractions allowed): a plugin
    /// whose import takes longer is `failed` and the others load. No limit by default.
    #[arg(long, global = true, value_name = "SECONDS", value_parser = parse_seconds)]
    pub load_timeout: Option<std::time::Duration>,
    /// Let plugins' requirements.txt choose indexes and find-links (never offline).
    #[arg(long, global = true)]
    pub allow_requirement_options: bool,
    /// Logs on stderr (-v info, -vv debug; none by default); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install a plugin zip (validated and loaded before it becomes active).
    Install {
        file: PathBuf,
        /// Remove every other version of the plugin.
        #[arg(long)]
        replace: bool,
    },
    /// List installed plugins with their status.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a plugin (all versions, or one).
    Delete {
        name: String,
        version: Option<String>,
        /// Delete its config folder too (kept by default).
        #[arg(long)]
        purge_config: bool,
    },
    /// Call a hook on every plugin implementing it, in order.
    Call {
        hook: String,
        /// Keyword arguments as a JSON object.
        #[arg(long, value_name = "JSON")]
        kwargs: Option<String>,
        /// Positional arguments as a JSON array.
        #[arg(long, value_name = "JSON")]
        args: Option<String>,
        /// Call only this plugin.
        #[arg(long, value_name = "NAME")]
        plugin: Option<String>,
        /// Call every plugin even when one raises.
        #[arg(long)]
        collect_all: bool,
        /// Longest each plugin's hook may run (seconds, e.g. 2.5); then it is a
        /// timeout error and the call moves on.
        #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
        timeout: Option<std::time::Duration>,
        #[arg(long)]
        json: bool,
    },
    /// Print a plugin's Markdown documentation.
    Docs { name: String },
    /// Rebuild a plugin's venv from its requirements.txt.
    RebuildVenv {
        name: String,
        version: Option<String>,
    },
    /// Bundle a plugin folder into NAME-VERSION.zip.
    Bundle(BundleArgs),
    /// Bundle plugin_sample into a temporary plugins dir, load it and call every hook.
    Demo {
        /// Plugin folder to demonstrate.
        #[arg(long, value_name = "DIR")]
        sample: Option<PathBuf>,
    },
    /// Serve Racetrack's plugin API and the Administration page.
    #[cfg(feature = "admin")]
    Serve(crate::admin::serve::ServeArgs),
    /// Manage the users of `serve` (tokens, staff flag).
    #[cfg(feature = "admin")]
    Users(crate::admin::serve::UsersArgs),
}

/// A positive number of seconds, refused (not a panic) when it cannot be a `Duration`.
fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if seconds <= 0.0 {
        return Err(format!("{text} is not a positive number of seconds"));
    }
    std::time::Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("{text} seconds is not a usable duration"))
}
