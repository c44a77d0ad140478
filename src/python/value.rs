//! Values crossing the seam: hook results ([`PyValue`], live objects converted on
//! demand) and the manifest plugins see (`self.plugin_manifest`). Hook arguments are
//! `args.rs`'s.

use std::collections::BTreeMap;
use std::mem::ManuallyDrop;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde::de::DeserializeOwned;

use super::args::HookArgs;
use super::release::{release, while_attached};
use super::{support_module, PyFailure};
use crate::manifest::PluginManifest;

/// `self.plugin_manifest` as plugins see it: read-only attributes.
#[pyclass(
    name = "PluginManifest",
    module = "racetrack_plugins",
    frozen,
    get_all,
    skip_from_py_object
)]
#[derive(Debug, Clone)]
pub struct ManifestView {
    pub name: String,
    pub version: String,
    pub url: Option<String>,
    pub priority: i64,
    pub build_date: Option<String>,
    pub category: Option<String>,
    pub components: Vec<String>,
}

impl From<&PluginManifest> for ManifestView {
    fn from(m: &PluginManifest) -> Self {
        Self {
            name: m.name.clone(),
            version: m.version.clone(),
            url: m.url.clone(),
            priority: m.priority,
            build_date: m.build_date.clone(),
            category: m.category.clone(),
            components: m.components.clone(),
        }
    }
}

#[pymethods]
impl ManifestView {
    fn __repr__(&self) -> String {
        format!(
            "PluginManifest(name={:?}, version={:?}, priority={})",
            self.name, self.version, self.priority
        )
    }

    /// The manifest as a plain dict (pydantic-style `dict()`).
    fn dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("name", &self.name)?;
        d.set_item("version", &self.version)?;
        d.set_item("url", &self.url)?;
        d.set_item("priority", self.priority)?;
        d.set_item("build_date", &self.build_date)?;
        d.set_item("category", &self.category)?;
        d.set_item("components", &self.components)?;
        Ok(d)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.extract::<PyRef<'_, ManifestView>>().is_ok_and(|o| {
            o.name == self.name && o.version == self.version && o.priority == self.priority
        })
    }
}

/// A plugin's `Plugin` instance, opaque to the engine. Dropped as any pyo3 reference
/// is (at once, or by the next thread to attach), never kept waiting on one thread as
/// a [`PyValue`] may be: a set let go of must not keep its plugins alive.
#[derive(Debug)]
pub struct PluginInstance(Py<PyAny>);

impl PluginInstance {
    pub fn new(object: Py<PyAny>) -> Self {
        Self(object)
    }

    /// The underlying Python object.
    pub fn as_py(&self) -> &Py<PyAny> {
        &self.0
    }
}

/// A value returned by a hook: the live Python object, convertible on demand.
///
/// Dropping one needs the interpreter. On a thread not attached to it (a Rust host's),
/// the reference waits in a list of that thread's own, given back the next time the
/// thread calls into the runtime (a hook call, a load, any `PyValue` method), when the
/// thread ends, or once 64 are waiting (`release.rs`): pyo3's own queue for these
/// costs a lock per object.
#[derive(Debug)]
pub struct PyValue {
    /// Taken only by `Drop` and `into_py`. One word: a `PyValue` moves as a pointer.
    object: ManuallyDrop<Py<PyAny>>,
}

impl Clone for PyValue {
    fn clone(&self) -> Self {
        while_attached(|py| Self {
            object: ManuallyDrop::new(self.object.clone_ref(py)),
        })
    }
}

impl Drop for PyValue {
    fn drop(&mut self) {
        // SAFETY: `object` is not used again: this is the value's end.
        let object = unsafe { ManuallyDrop::take(&mut self.object) };
        release(object);
    }
}

impl PyValue {
    pub fn new(object: Py<PyAny>) -> Self {
        Self {
            object: ManuallyDrop::new(object),
        }
    }

    /// The underlying Python object.
    pub fn as_py(&self) -> &Py<PyAny> {
        &self.object
    }

    pub fn into_py(self) -> Py<PyAny> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so `object` is taken exactly once.
        unsafe { ManuallyDrop::take(&mut this.object) }
    }

    pub fn is_none(&self) -> bool {
        while_attached(|py| self.object.is_none(py))
    }

    /// JSON view: paths become strings, models their dicts, anything else its repr.
    /// What JSON cannot hold faithfully (NaN, integers beyond 2^53, colliding keys,
    /// cycles, too large or deep, lone surrogates, a raising `repr`) is an error
    /// (`NotJsonable`) naming where in the value it is.
    pub fn to_json(&self) -> Result<serde_json::Value, PyFailure> {
        while_attached(|py| self.to_json_with(py))
    }

    pub(crate) fn to_json_with(&self, py: Python<'_>) -> Result<serde_json::Value, PyFailure> {
        let run = || -> PyResult<serde_json::Value> {
            let plain = support_module(py, "_jsonable")?
                .call_method1("to_jsonable", (self.object.bind(py),))?;
            Ok(pythonize::depythonize(&plain)?)
        };
        run().map_err(|e| PyFailure::from_err(py, &e))
    }

    /// Converts into a Rust type through its JSON view.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, String> {
        let json = self.to_json().map_err(|e| e.summary())?;
        serde_json::from_value(json).map_err(|e| e.to_string())
    }

    /// Calls a method of the object (e.g. a deployer returned by `fatman_deployers`).
    pub fn call_method(&self, name: &str, args: &HookArgs) -> Result<PyValue, PyFailure> {
        while_attached(|py| {
            let (a, k) = args.to_python(py)?;
            self.object
                .bind(py)
                .call_method(name, a, k.as_ref())
                .map(|v| PyValue::new(v.unbind()))
                .map_err(|e| PyFailure::from_err(py, &e))
        })
    }

    /// Reads an attribute of the object.
    pub fn getattr(&self, name: &str) -> Result<PyValue, PyFailure> {
        while_attached(|py| {
            self.object
                .bind(py)
                .getattr(name)
                .map(|v| PyValue::new(v.unbind()))
                .map_err(|e| PyFailure::from_err(py, &e))
        })
    }
}

impl PyValue {
    /// Merges a plain `dict` of `str` to `str` into `merged` (later values override),
    /// the common result of `fatman_runtime_env_vars`, with no JSON detour. `false` for
    /// anything else, having merged at most some entries (which the caller's slow path
    /// then merges again with the same values).
    pub fn merge_str_dict_into(&self, merged: &mut BTreeMap<String, String>) -> bool {
        while_attached(|py| {
            let Ok(dict) = self.object.bind(py).cast_exact::<PyDict>() else {
                return false;
            };
            for (k, v) in dict.iter() {
                let (Ok(k), Ok(v)) = (k.cast_exact::<PyString>(), v.cast_exact::<PyString>())
                else {
                    return false;
                };
                let (Ok(k), Ok(v)) = (k.to_str(), v.to_str()) else {
                    return false;
                };
                match merged.get_mut(k) {
                    Some(existing) => {
                        existing.clear();
                        existing.push_str(v);
                    }
                    None => {
                        merged.insert(k.to_owned(), v.to_owned());
                    }
                }
            }
            true
        })
    }

    /// The entries of a dict result with string keys, values kept as live objects.
    pub fn dict_items(&self) -> Result<Vec<(String, PyValue)>, String> {
        while_attached(|py| {
            let object = self.object.bind(py);
            let dict = object
                .cast::<PyDict>()
                .map_err(|_| format!("expected a dict, got {}", type_name(object)))?;
            dict.iter()
                .map(|(k, v)| {
                    k.extract::<String>()
                        .map(|k| (k, PyValue::new(v.unbind())))
                        .map_err(|_| format!("expected str keys, got {}", type_name(&k)))
                })
                .collect()
        })
    }
}

fn type_name(object: &Bound<'_, PyAny>) -> String {
    object
        .get_type()
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}
