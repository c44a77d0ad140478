//! Values crossing the seam: hook arguments ([`HookArgs`], Rust values or Python
//! objects), hook results ([`PyValue`], live objects converted on demand) and the
//! manifest plugins see (`self.plugin_manifest`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple, PyType};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::hook::interned_name;
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

/// A Rust value that becomes a Python object when a hook is called.
trait ToPython: Send + Sync {
    fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>>;
}

struct Serialized<T>(T);

impl<T: Serialize + Send + Sync> ToPython for Serialized<T> {
    fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let plain = pythonize::pythonize(py, &self.0)?;
        // Maps become attribute-accessible dicts (`manifest.name`), as plugins expect.
        wrap(py, plain)
    }
}

static RECORD_VIEW: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `_jsonable.py`'s `RecordView` class, looked up once per interpreter.
fn record_view(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    RECORD_VIEW
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(
                support_module(py, "_jsonable")?
                    .getattr("RecordView")?
                    .cast_into::<PyType>()?
                    .unbind(),
            )
        })
        .map(|t| t.bind(py))
}

/// Exact dicts become `RecordView`s (attribute access) and exact lists are rebuilt,
/// both recursively; anything else is returned as is. Done in Rust: no Python call
/// at all for scalars, no interpreter frames for containers.
fn wrap<'py>(py: Python<'py>, value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(dict) = value.cast_exact::<PyDict>() {
        let view = record_view(py)?.call0()?;
        {
            let target = view.cast::<PyDict>()?;
            for (k, v) in dict.iter() {
                target.set_item(k, wrap(py, v)?)?;
            }
        }
        Ok(view)
    } else if let Ok(list) = value.cast_exact::<PyList>() {
        let items = list
            .iter()
            .map(|v| wrap(py, v))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyList::new(py, items)?.into_any())
    } else {
        Ok(value)
    }
}

impl ToPython for Py<PyAny> {
    fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.bind(py).clone())
    }
}

#[derive(Clone)]
enum Arg {
    Value(Arc<dyn ToPython>),
}

/// Arguments of a hook call. Rust values are converted once per call (pythonize, maps
/// with attribute access) and the same objects are passed to every plugin.
#[derive(Clone, Default)]
pub struct HookArgs {
    positional: Vec<Arg>,
    keyword: Vec<(String, Arg)>,
    /// A Python host's own argument tuple and keyword dict, passed on as they are;
    /// the two lists above are then empty.
    native: Option<Arc<NativeArgs>>,
}

struct NativeArgs {
    args: Py<PyTuple>,
    kwargs: Option<Py<PyDict>>,
}

impl fmt::Debug for HookArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookArgs")
            .field("positional", &self.positional.len())
            .field(
                "keyword",
                &self.keyword.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl HookArgs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a positional argument.
    pub fn arg<T: Serialize + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.positional
            .push(Arg::Value(Arc::new(Serialized(value))));
        self
    }

    /// Adds a keyword argument; implementations that do not declare it do not get it.
    pub fn kwarg<T: Serialize + Send + Sync + 'static>(
        mut self,
        name: impl Into<String>,
        value: T,
    ) -> Self {
        self.keyword
            .push((name.into(), Arg::Value(Arc::new(Serialized(value)))));
        self
    }

    /// Adds every entry of a JSON object as a keyword argument.
    pub fn kwargs_from_json(mut self, object: serde_json::Map<String, serde_json::Value>) -> Self {
        for (name, value) in object {
            self = self.kwarg(name, value);
        }
        self
    }

    /// Passes a live Python object as is (no conversion).
    pub fn py_arg(mut self, value: Py<PyAny>) -> Self {
        self.positional.push(Arg::Value(Arc::new(value)));
        self
    }

    pub fn py_kwarg(mut self, name: impl Into<String>, value: Py<PyAny>) -> Self {
        self.keyword
            .push((name.into(), Arg::Value(Arc::new(value))));
        self
    }

    /// A Python caller's arguments, passed to every plugin as they are (no conversion,
    /// no copy).
    pub fn from_python(args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        Self {
            native: Some(Arc::new(NativeArgs {
                args: args.clone().unbind(),
                kwargs: kwargs.map(|k| k.clone().unbind()),
            })),
            ..Self::default()
        }
    }

    /// Builds the Python argument tuple and keyword dict.
    pub fn to_python<'py>(
        &self,
        py: Python<'py>,
    ) -> Result<(Bound<'py, PyTuple>, Option<Bound<'py, PyDict>>), PyFailure> {
        if let Some(native) = &self.native {
            return Ok((
                native.args.bind(py).clone(),
                native.kwargs.as_ref().map(|k| k.bind(py).clone()),
            ));
        }
        let run = || -> PyResult<_> {
            let mut items = Vec::with_capacity(self.positional.len());
            for Arg::Value(v) in &self.positional {
                items.push(v.to_python(py)?);
            }
            let args = PyTuple::new(py, items)?;
            let kwargs = if self.keyword.is_empty() {
                None
            } else {
                let d = PyDict::new(py);
                for (name, Arg::Value(v)) in &self.keyword {
                    // Interned, as the parameter names of the hooks are: CPython then
                    // matches keywords by identity, not by comparing text, per plugin.
                    d.set_item(interned_name(py, name), v.to_python(py)?)?;
                }
                Some(d)
            };
            Ok((args, kwargs))
        };
        run().map_err(|e| PyFailure::from_err(py, &e))
    }
}

/// A value returned by a hook: the live Python object, convertible on demand.
#[derive(Debug)]
pub struct PyValue {
    object: Py<PyAny>,
}

impl Clone for PyValue {
    fn clone(&self) -> Self {
        Python::attach(|py| Self {
            object: self.object.clone_ref(py),
        })
    }
}

impl PyValue {
    pub fn new(object: Py<PyAny>) -> Self {
        Self { object }
    }

    /// The underlying Python object.
    pub fn as_py(&self) -> &Py<PyAny> {
        &self.object
    }

    pub fn into_py(self) -> Py<PyAny> {
        self.object
    }

    pub fn is_none(&self) -> bool {
        Python::attach(|py| self.object.is_none(py))
    }

    /// JSON view: paths become strings, models their dicts, anything else its repr.
    /// What JSON cannot hold faithfully (NaN, integers beyond 2^53, colliding keys,
    /// cycles, too large or deep, lone surrogates, a raising `repr`) is an error
    /// (`NotJsonable`) naming where in the value it is.
    pub fn to_json(&self) -> Result<serde_json::Value, PyFailure> {
        Python::attach(|py| self.to_json_with(py))
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
        Python::attach(|py| {
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
        Python::attach(|py| {
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
        Python::attach(|py| {
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
        Python::attach(|py| {
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
