//! `racetrack-plugin-bundler bundle [WORKDIR] [--out DIR] [--out-filename NAME]
//! [--plugin-version V]`: builds a plugin zip from its source folder.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use racetrack_plugins::bundle_cli::{run_bundle, BundleArgs};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "racetrack-plugin-bundler",
    version,
    about = "Bundle Racetrack plugins into ZIP files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bundle a plugin folder into <name>-<version>.zip
    Bundle(BundleArgs),
}

fn main() -> ExitCode {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    match &cli.command {
        Command::Bundle(args) => run_bundle(args),
    }
}
