//! racetrack-plugins: Racetrack's plugin engine.
//!
//! Data flow, one module per step:
//! [`bundle`] (source folder → zip) → [`store`] (the plugins dir) → [`archive`] (safe
//! extraction) → [`deps`] (requirements → venv) → [`python`] (import, instantiate, call)
//! → [`engine`] (ordered plugin set, reload, hooks). Front ends: [`cli`] and the Python
//! module in `pymodule`.

#[cfg(feature = "admin")]
pub mod admin;
pub mod archive;
pub mod bundle;
pub mod bundle_cli;
pub mod cli;
pub mod deps;
pub mod engine;
pub mod error;
pub mod manifest;
pub mod pymodule;
pub mod python;
pub mod store;
pub mod types;

pub use engine::{
    CallMode, EngineBuilder, EngineOptions, HookError, HookOutput, JobType, LoadedPlugin,
    PluginEngine, PluginInfo, PluginObject, PluginRef, PluginStatus,
};
pub use error::EngineError;
pub use manifest::PluginManifest;
pub use python::{HookArgs, PyFailure, PyValue};
pub use types::{FatmanDto, GitDefinition, Manifest};
