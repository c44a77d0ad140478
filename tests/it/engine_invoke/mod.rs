//! Calling hooks: results with origin, argument pruning, errors, typed seed hooks.

mod errors;
mod results;
mod seed_hooks;

use std::collections::BTreeMap;

use crate::common::*;
use racetrack_plugins::{FatmanDto, GitDefinition, HookArgs, HookError, Manifest};
