//! How the commands print: the plugin table, JSON on stdout, `error:` lines on stderr.

use std::io::Write;

use crate::cli::EXIT_FAILED;
use crate::engine::PluginInfo;

pub(super) fn fail(message: impl std::fmt::Display) -> u8 {
    eprintln!("error: {message}");
    EXIT_FAILED
}

/// The rows of `list --json`: `PluginInfo`'s one serialised shape.
pub(super) fn list_json(plugins: &[PluginInfo]) -> serde_json::Value {
    serde_json::to_value(plugins).unwrap_or_default()
}

pub(super) fn print_json(value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

pub(super) fn print_table(plugins: &[PluginInfo]) {
    if plugins.is_empty() {
        println!("No plugins installed.");
        return;
    }
    println!(
        "{:<28} {:<12} {:>8}  {:<8} VENV",
        "NAME", "VERSION", "PRIORITY", "STATUS"
    );
    for p in plugins {
        let venv = p
            .venv
            .as_ref()
            .map(|v| v.display().to_string())
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<28} {:<12} {:>8}  {:<8} {venv}",
            p.name,
            p.version,
            p.priority,
            p.status.to_string()
        );
        if let Some(error) = &p.error {
            for line in error.report().lines() {
                println!("    {line}");
            }
        }
        for warning in &p.warnings {
            println!("    warning: {warning}");
        }
    }
}
