//! The integration tests, in one binary: each test binary links libpython, so one
//! binary builds and links once. Tests here share one embedded interpreter and the
//! process's working directory: a test must not assume it is alone in either (look
//! only at your own plugins' folders, never compare all of `sys.path`).
//! `tests/dropin.rs` stays a binary of its own: it puts host packages on `sys.path`
//! (`EngineBuilder::python_path`), which would change what every other test imports.

mod common;

mod admin_router;
mod bundle;
mod cli;
mod concurrency;
mod deps;
mod deps_cli;
mod dir_sharing;
mod dir_store;
mod engine_batch;
mod engine_deps;
mod engine_hot_path;
mod engine_install;
mod engine_invoke;
mod engine_load;
mod engine_order;
