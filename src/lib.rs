//! racetrack-plugins: Racetrack's plugin engine.
//!
//! Data flow, one module per step:
//! [`bundle`] (source folder → zip) → [`store`] (the plugins dir) → [`archive`] (safe
//! extraction) → [`deps`] (requirements → venv) → [`engine`] (ordered plugin set,
//! reload, hooks), which runs plugin code through its `Runtime` interface, implemented
//! in-process by [`python`]. Front ends, each behind a cargo feature: `cli` (feature
//! `cli`, on by default) and the Python module `pymodule` (feature `python-module`,
//! turned on by maturin). Only `python` and `pymodule` use pyo3.

#[cfg(feature = "admin")]
pub mod admin;
pub mod archive;
pub mod bundle;
#[cfg(feature = "cli")]
pub mod bundle_cli;
#[cfg(feature = "cli")]
pub mod cli;
pub mod deps;
pub mod engine;
pub mod error;
pub mod manifest;
#[cfg(feature = "python-module")]
pub mod pymodule;
pub mod python;
pub mod store;
pub mod types;

pub use engine::{
    CallMode, CallOptions, EngineBuilder, EngineOptions, HookError, HookOutput, JobType,
    LoadedPlugin, PluginEngine, PluginInfo, PluginObject, PluginRef, PluginStatus,
    DEFAULT_PLUGINS_DIR, DEFAULT_WATCH_INTERVAL, PLUGINS_DIR_ENV,
};
pub use error::{EngineError, LoadError, LoadErrorKind};
pub use manifest::PluginManifest;
pub use python::{HookArgs, PyFailure, PyValue};
pub use types::{FatmanDto, GitDefinition, Manifest};
