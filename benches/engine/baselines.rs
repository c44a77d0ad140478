//! The Python baselines (`baselines.py`, compiled into the bench) and the helpers
//! that hand them the same bound methods the engine calls.

use std::ffi::CString;
use std::time::Duration;

use pyo3::call::PyCallArgs;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyModule};
use racetrack_plugins::PluginEngine;

/// Read at compile time, so the bench binary runs from any working directory.
const BASELINES: &str = include_str!("baselines.py");

pub(crate) fn baselines(py: Python<'_>) -> Bound<'_, PyModule> {
    PyModule::from_code(
        py,
        &CString::new(BASELINES).expect("code"),
        c"bench_baselines.py",
        c"bench_baselines",
    )
    .expect("baselines compile")
}

/// The bound methods of `hook`, one per loaded plugin, in call order.
pub(crate) fn bound_methods<'py>(
    py: Python<'py>,
    engine: &PluginEngine,
    hook: &str,
) -> Bound<'py, PyList> {
    let methods: Vec<Bound<'py, PyAny>> = engine
        .loaded_plugins()
        .iter()
        .map(|p| {
            p.instance
                .as_py()
                .bind(py)
                .getattr(hook)
                .expect("hook exists")
        })
        .collect();
    PyList::new(py, methods).expect("list")
}

/// Calls a baseline that returns the nanoseconds its loop took.
pub(crate) fn python_timed<'py, A: PyCallArgs<'py>>(f: &Bound<'py, PyAny>, args: A) -> Duration {
    let ns: u64 = f
        .call1(args)
        .and_then(|v| v.extract())
        .expect("baseline runs");
    Duration::from_nanos(ns)
}
