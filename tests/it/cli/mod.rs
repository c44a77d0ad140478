//! The `racetrack-plugin` binary: commands, JSON output, exit codes.

mod commands;
mod output;

use std::path::Path;
use std::process::{Command, Output};

use crate::common::*;

fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_racetrack-plugin"))
        .arg("--plugins-dir")
        .arg(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(out), stderr(out)))
}
