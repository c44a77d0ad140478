//! Installing and deleting through the engine.

mod uploads;
mod versions;

use std::fs;

use crate::common::*;
use racetrack_plugins::{EngineError, HookArgs, PluginStatus};

fn versioned(version: &str) -> PluginSrc {
    simple_plugin(
        "tool",
        version,
        &format!("    def version(self):\n        return '{version}'\n    def __init__(self):\n        self.config_text = self.config_path.read_text()\n    def current_config(self):\n        return self.config_text"),
    )
}

fn versions(engine: &racetrack_plugins::PluginEngine) -> Vec<String> {
    call_json(engine, "version", &HookArgs::new())
        .into_iter()
        .map(|(_, v)| v.as_str().unwrap().to_string())
        .collect()
}
