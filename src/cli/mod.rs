//! The `racetrack-plugin` command line, shared by the Rust binary and
//! `python -m racetrack_plugins` (same parser, same output, same exit codes).
//! This module owns the entry points and the engine the global options configure;
//! `parser` holds the grammar, `commands` and `demo` what commands do, `output` how
//! they print. `serve` and `users` are front ends in `crate::admin::serve`.

mod commands;
mod demo;
mod output;
mod parser;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use crate::bundle_cli::run_bundle;
use crate::deps::DepsOptions;
use crate::engine::{EngineBuilder, PluginEngine};

use output::fail;
pub use parser::{Cli, Command};

/// Exit code: a plugin or hook failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage (clap uses it for parse errors too).
pub const EXIT_USAGE: u8 = 2;

/// Parses `argv` (program name first) and runs the command; returns the exit code.
pub fn run_from_args<I, T>(argv: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { 0 };
        }
    };
    // A server logs its requests' failures and audit events unless told otherwise.
    #[cfg(feature = "admin")]
    let verbose = match cli.command {
        Command::Serve(_) => cli.verbose.max(1),
        _ => cli.verbose,
    };
    #[cfg(not(feature = "admin"))]
    let verbose = cli.verbose;
    init_logging(verbose);
    run(cli)
}

pub fn main_exit_code() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Ctrl-C and SIGTERM stop a running pip/uv (and its children) instead of leaving it.
    // A server handles both itself, to finish the requests in flight first.
    #[cfg(unix)]
    if !is_server(&argv) {
        if let Err(e) = crate::deps::stop_installs_on_signals() {
            eprintln!("warning: cannot handle Ctrl-C and SIGTERM: {e}");
        }
    }
    #[cfg(unix)]
    if !is_server(&argv) {
        die_quietly_on_closed_stdout();
    }
    let code = run_from_args(argv);
    match crate::deps::cancelled_by_signal() {
        Some(sig) => {
            eprintln!("error: interrupted (signal {sig}); the installs in progress were stopped");
            ExitCode::from(u8::try_from(128 + sig).unwrap_or(EXIT_FAILED))
        }
        None => ExitCode::from(code),
    }
}

/// `racetrack-plugin list | head -1`: once the reader is gone, the command ends as
/// Unix tools do (by SIGPIPE, silently) instead of panicking in `println!` on EPIPE.
/// Rust ignores SIGPIPE at start-up for the sake of servers, which is why `serve` keeps
/// that; only the stand-alone binary does this, never a Python host's process.
#[cfg(unix)]
fn die_quietly_on_closed_stdout() {
    // SAFETY: only sets SIGPIPE's disposition back to the default; no handler of ours
    // is replaced (Rust's runtime merely ignored it).
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Whether `argv` runs `serve`, which shuts down gracefully on its own signals.
fn is_server(argv: &[std::ffi::OsString]) -> bool {
    #[cfg(feature = "admin")]
    if let Ok(cli) = Cli::try_parse_from(argv) {
        return matches!(cli.command, Command::Serve(_));
    }
    let _ = argv;
    false
}

fn init_logging(verbose: u8) {
    // Without -v the commands report failures themselves (table, `error:` lines);
    // logging them too would print each twice.
    let default = match verbose {
        0 => "off",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The engine as the global options configure it, for `dir`; without watching for
/// other processes' changes (a command is over before they matter).
pub(crate) fn engine_builder(cli: &Cli, dir: &Path) -> EngineBuilder {
    let mut deps = DepsOptions {
        installer: cli.installer,
        timeout: std::time::Duration::from_secs(cli.deps_timeout),
        allow_requirement_options: cli.allow_requirement_options,
        ..DepsOptions::default()
    };
    if let Some(wheelhouse) = &cli.wheelhouse {
        deps.find_links.push(wheelhouse.clone());
        deps.no_index = true;
    }
    let mut builder = PluginEngine::builder(dir)
        .deps_options(deps)
        .watch_interval(None)
        .load_timeout(cli.load_timeout)
        .python_path(cli.python_path.iter().cloned());
    if let Some(component) = &cli.component {
        builder = builder.component(component.clone());
    }
    builder
}

fn open_engine(cli: &Cli, dir: &Path) -> Result<PluginEngine, u8> {
    let builder = engine_builder(cli, dir);
    // Deleting and installing work on the directory: they run no installed plugin's
    // code (an install imports just the upload), so a plugin whose import hangs or
    // crashes the process cannot stop an operator from removing it or adding others.
    let opened = match cli.command {
        Command::Install { .. } | Command::Delete { .. } => builder.build_unloaded(),
        _ => builder.build(),
    };
    opened.map_err(|e| fail(e.report()))
}

pub fn run(cli: Cli) -> u8 {
    let result = match &cli.command {
        Command::Bundle(args) => return exit_code_of(run_bundle(args)),
        Command::Demo { sample } => demo::demo(&cli, sample.as_deref()),
        #[cfg(feature = "admin")]
        Command::Serve(args) => return crate::admin::serve::run_serve(&cli, args),
        #[cfg(feature = "admin")]
        Command::Users(args) => return crate::admin::serve::run_users(&cli, args),
        _ => match open_engine(&cli, &cli.plugins_dir) {
            Ok(engine) => commands::dispatch(&cli, &engine),
            Err(code) => Err(code),
        },
    };
    result.err().unwrap_or(0)
}

fn exit_code_of(code: ExitCode) -> u8 {
    if code == ExitCode::SUCCESS {
        0
    } else {
        EXIT_FAILED
    }
}
