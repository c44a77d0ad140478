//! Hook arguments: Rust values or a Python caller's own objects ([`HookArgs`]), and
//! the form a call hands them to Python in ([`PyCallArgs`]): converted once per call,
//! the same objects passed to every plugin. Decides nothing about which plugin gets
//! which argument (each implementation's call policy does).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple, PyType};
use serde::Serialize;
use smallvec::SmallVec;

use super::frozen_call::{serializes_the_same, FrozenCall};
use super::hook::interned_name;
use super::{support_module, PyFailure};

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

/// A keyword argument, with its name interned on first use: a host that passes the
/// same `HookArgs` again does not look the name up again.
#[derive(Clone)]
struct Keyword {
    name: String,
    interned: Arc<PyOnceLock<Py<PyString>>>,
    value: Arg,
}

impl Keyword {
    fn new(name: String, value: Arg) -> Self {
        Self {
            name,
            interned: Arc::new(PyOnceLock::new()),
            value,
        }
    }

    fn interned<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        self.interned
            .get_or_init(py, || interned_name(py, &self.name).unbind())
            .bind(py)
            .clone()
    }
}

/// Arguments of a hook call. Rust values are converted once per call (pythonize, maps
/// with attribute access) and the same objects are passed to every plugin. When every
/// value is plain data (strings, numbers, `bool`, JSON values) and converts to an
/// immutable scalar (a `str`, a number, a `bool`, `None`), the converted call is
/// kept, and calls made again with these `HookArgs` reuse it, as a Python caller reuses its own objects; containers are built afresh
/// for each call, so what one call's plugins do to them never reaches the next.
#[derive(Default)]
pub struct HookArgs {
    positional: Vec<Arg>,
    keyword: Vec<Keyword>,
    /// A Python host's own argument tuple and keyword dict, passed on as they are;
    /// the two lists above are then empty.
    native: Option<Arc<NativeArgs>>,
    /// The converted call, kept from the second call on (one-off arguments are not
    /// worth keeping): `Some` when it holds only immutable scalars. Every builder
    /// method and every clone starts without one.
    frozen: PyOnceLock<Option<FrozenCall>>,
    /// Converted once already.
    used: AtomicBool,
    /// Holds a value that may convert differently per call: never frozen.
    volatile: bool,
}

impl Clone for HookArgs {
    fn clone(&self) -> Self {
        Self {
            positional: self.positional.clone(),
            keyword: self.keyword.clone(),
            native: self.native.clone(),
            frozen: PyOnceLock::new(),
            used: AtomicBool::new(false),
            volatile: self.volatile,
        }
    }
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
                &self.keyword.iter().map(|k| &k.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl HookArgs {
    pub fn new() -> Self {
        Self::default()
    }

    /// After a change, the next call is a first one again.
    fn forget_conversion(&mut self) {
        self.frozen = PyOnceLock::new();
        self.used = AtomicBool::new(false);
    }

    /// Appends a positional argument.
    pub fn arg<T: Serialize + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.forget_conversion();
        self.volatile |= !serializes_the_same::<T>();
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
        self.forget_conversion();
        self.volatile |= !serializes_the_same::<T>();
        self.keyword.push(Keyword::new(
            name.into(),
            Arg::Value(Arc::new(Serialized(value))),
        ));
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
        self.forget_conversion();
        self.positional.push(Arg::Value(Arc::new(value)));
        self
    }

    pub fn py_kwarg(mut self, name: impl Into<String>, value: Py<PyAny>) -> Self {
        self.forget_conversion();
        self.keyword
            .push(Keyword::new(name.into(), Arg::Value(Arc::new(value))));
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
        let call = self.to_call(py)?;
        let kwargs = call.kwargs(py).map_err(|e| PyFailure::from_err(py, &e))?;
        Ok((call.args, kwargs))
    }

    /// The arguments of one call in Python, keywords as names and values (a dict is
    /// built only if the call needs one).
    pub(crate) fn to_call<'py>(&self, py: Python<'py>) -> Result<PyCallArgs<'py>, PyFailure> {
        if let Some(native) = &self.native {
            return PyCallArgs::native(
                native.args.bind(py),
                native.kwargs.as_ref().map(|k| k.bind(py)),
            )
            .map_err(|e| PyFailure::from_err(py, &e));
        }
        if let Some(Some(frozen)) = self.frozen.get(py) {
            return Ok(frozen.bind(py));
        }
        let run = || -> PyResult<_> {
            let mut items = Vec::with_capacity(self.positional.len());
            for Arg::Value(v) in &self.positional {
                items.push(v.to_python(py)?);
            }
            let mut names = KeywordList::with_capacity(self.keyword.len());
            let mut values = KeywordList::with_capacity(self.keyword.len());
            for keyword in &self.keyword {
                let Arg::Value(v) = &keyword.value;
                // Interned, as the parameter names of the hooks are: CPython then
                // matches keywords by identity, not by comparing text, per plugin.
                names.push(keyword.interned(py));
                values.push(v.to_python(py)?);
            }
            Ok(PyCallArgs::new(PyTuple::new(py, items)?, names, values))
        };
        let call = run().map_err(|e| PyFailure::from_err(py, &e))?;
        if !self.volatile {
            // Plain load and store: two threads racing here at worst both freeze, and
            // one of them wins.
            if !self.used.load(Ordering::Relaxed) {
                self.used.store(true, Ordering::Relaxed);
            } else if self.frozen.get(py).is_none() {
                let _ = self.frozen.set(py, FrozenCall::of(&call));
            }
        }
        Ok(call)
    }
}

/// A call's keyword names or values: hosts pass a few, kept inline.
pub(crate) type KeywordList<T> = SmallVec<[T; 6]>;

/// One call's arguments in Python: the positional tuple, and the keywords as names
/// and values in order. Rust callers' keywords never need a dict unless a plugin is
/// called the generic way; a Python caller's dict is kept as it came.
pub(crate) struct PyCallArgs<'py> {
    pub args: Bound<'py, PyTuple>,
    /// Empty when `odd_keys`.
    pub names: KeywordList<Bound<'py, PyString>>,
    pub values: KeywordList<Bound<'py, PyAny>>,
    /// A Python caller's own keyword dict.
    dict: Option<Bound<'py, PyDict>>,
    /// Some key of the caller's dict is not a str: only the dict can carry it.
    pub odd_keys: bool,
}

impl<'py> PyCallArgs<'py> {
    /// A call with these positional values and keywords.
    pub(super) fn new(
        args: Bound<'py, PyTuple>,
        names: KeywordList<Bound<'py, PyString>>,
        values: KeywordList<Bound<'py, PyAny>>,
    ) -> Self {
        Self {
            args,
            names,
            values,
            dict: None,
            odd_keys: false,
        }
    }

    fn native(args: &Bound<'py, PyTuple>, kwargs: Option<&Bound<'py, PyDict>>) -> PyResult<Self> {
        let mut call = Self {
            args: args.clone(),
            names: KeywordList::new(),
            values: KeywordList::new(),
            dict: kwargs.filter(|k| !k.is_empty()).cloned(),
            odd_keys: false,
        };
        if let Some(dict) = &call.dict {
            call.names.reserve(dict.len());
            call.values.reserve(dict.len());
            for (key, value) in dict.iter() {
                match key.cast_into::<PyString>() {
                    Ok(name) => {
                        call.names.push(name);
                        call.values.push(value);
                    }
                    Err(_) => {
                        call.odd_keys = true;
                        call.names.clear();
                        call.values.clear();
                        break;
                    }
                }
            }
        }
        Ok(call)
    }

    /// The keywords as a dict (`None` when there are none).
    pub fn kwargs(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        if let Some(dict) = &self.dict {
            return Ok(Some(dict.clone()));
        }
        if self.names.is_empty() {
            return Ok(None);
        }
        let dict = PyDict::new(py);
        for (name, value) in self.names.iter().zip(&self.values) {
            dict.set_item(name, value)?;
        }
        Ok(Some(dict))
    }
}
