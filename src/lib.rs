//! racetrack-plugins: Racetrack's plugin engine.
//!
//! Data flow, one module per step:
//! [`bundle`] (source folder → zip) → [`store`] (the plugins dir) → [`archive`] (safe
//! extraction) → [`deps`] (requirements → venv) → [`python`] (import, instantiate, call)
//! → [`engine`] (ordered plugin set, reload, hooks). Front ends: [`cli`] and the Python
//! module in `pymodule`.

pub mod archive;
pub mod bundle;
pub mod deps;
pub mod manifest;

pub use manifest::PluginManifest;
