//! The plugins directory as shared state: its lock, plugin identity, what extraction
//! trusts, clean-up at start, file permissions and the change markers.

mod extraction;
mod housekeeping;
mod identity;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::common::*;
use racetrack_plugins::archive::ExtractLimits;
use racetrack_plugins::store::PluginsDir;
use racetrack_plugins::{EngineError, HookArgs, PluginEngine, PluginStatus};

fn set_mtime(path: &Path, when: SystemTime) {
    fs::File::open(path)
        .expect("open")
        .set_modified(when)
        .expect("set mtime");
}
