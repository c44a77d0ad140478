//! `racetrack-plugin-bundler bundle [WORKDIR] [--out DIR] [--out-filename NAME]
//! [--plugin-version V]`: builds a plugin zip from its source folder.

use std::io::IsTerminal;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    ExitCode::from(racetrack_plugins::bundle_cli::bundler_from_args(
        std::env::args_os(),
    ))
}
