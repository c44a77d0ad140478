//! Loading: directory layout, manifest validation, extraction, import, failure isolation.

mod extraction;
mod isolation;
mod loading;

use std::fs;

use crate::common::*;
use racetrack_plugins::archive::ExtractLimits;
use racetrack_plugins::{HookArgs, LoadError, LoadErrorKind, PluginEngine, PluginStatus};
