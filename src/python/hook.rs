//! One hook implementation, bound: its call policy (read from the signature once) and
//! the call itself, with surplus arguments pruned. Keyword pruning is shared by every
//! plugin of one call ([`SharedKwargs`]), so the hot path allocates per distinct
//! signature, not per plugin; each implementation remembers its last pruning, and
//! keyword names are interned once per process ([`interned_name`]).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};

use super::{support_module, PyFailure};

/// How a hook implementation accepts arguments, read from its signature once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallPolicy {
    /// Positional parameters it takes; `None` when it has `*args`.
    pub max_positional: Option<usize>,
    /// Keyword names it takes; `None` when it has `**kwargs` (or no signature).
    pub keywords: Option<HashSet<String>>,
}

/// A plugin's bound hook method together with its call policy.
#[derive(Debug)]
pub struct HookMethod {
    pub method: Py<PyAny>,
    pub policy: CallPolicy,
    /// Which of the last call's keywords this implementation keeps. Hosts pass the
    /// same interned names call after call, so the next call checks identities only.
    plan: Mutex<Option<KeywordPlan>>,
}

/// The keys of one call (held, so their identities stay theirs) and the bit set of
/// them an implementation keeps.
#[derive(Debug)]
struct KeywordPlan {
    keys: Vec<Py<PyString>>,
    keep: u64,
}

impl HookMethod {
    /// Looks up `hook` on `instance`. `Ok(None)` when the plugin does not implement
    /// it (or the attribute is not callable).
    pub fn resolve(
        py: Python<'_>,
        instance: &Py<PyAny>,
        hook: &Bound<'_, PyString>,
    ) -> Result<Option<Self>, PyFailure> {
        let run = || -> PyResult<Option<Self>> {
            let Some(method) = instance.bind(py).getattr_opt(hook)? else {
                return Ok(None);
            };
            if !method.is_callable() {
                return Ok(None);
            }
            let (max_positional, keywords): (Option<usize>, Option<Vec<String>>) =
                support_module(py)?
                    .call_method1("call_policy", (&method,))?
                    .extract()?;
            Ok(Some(Self {
                method: method.unbind(),
                policy: CallPolicy {
                    max_positional,
                    keywords: keywords.map(|k| k.into_iter().collect()),
                },
                plan: Mutex::default(),
            }))
        };
        run().map_err(|e| PyFailure::from_err(py, &e))
    }

    /// Calls the hook, dropping surplus positional arguments and keyword arguments the
    /// implementation does not declare (hosts may pass more than old plugins know).
    pub fn call<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
        plugin: &str,
        hook: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call_shared(py, args, &mut SharedKwargs::new(kwargs), plugin, hook)
    }

    /// [`call`](Self::call) for one plugin of a call that reaches several: the same
    /// pruning, with keyword handling shared through `kwargs`.
    pub(crate) fn call_shared<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: &mut SharedKwargs<'py>,
        plugin: &str,
        hook: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let method = self.method.bind(py);
        let sliced = match self.policy.max_positional {
            Some(max) if args.len() > max => {
                tracing::debug!(
                    plugin,
                    hook,
                    "dropping {} positional argument(s) the hook does not take",
                    args.len() - max
                );
                Some(args.get_slice(0, max))
            }
            _ => None,
        };
        let args = sliced.as_ref().unwrap_or(args);
        match kwargs.for_method(py, self, plugin, hook)? {
            Keywords::Prepared(prepared) => call_with_keywords(py, method, args, prepared),
            Keywords::Dict(kwargs) => call_generic(py, method, args, Some(&kwargs)),
            Keywords::None if args.is_empty() => {
                // SAFETY: `method` is alive for the call; the result is a new reference
                // or NULL with an exception set.
                unsafe { owned_or_raised(py, ffi::PyObject_CallNoArgs(method.as_ptr())) }
            }
            Keywords::None => call_generic(py, method, args, None),
        }
    }
}

impl HookMethod {
    /// The bit set of `keys` this implementation declares: the last call's answer
    /// when the keys are the same objects, else worked out and remembered.
    fn keep_mask(&self, keys: &[Bound<'_, PyString>], accepted: &HashSet<String>) -> PyResult<u64> {
        let same_keys = |plan: &KeywordPlan| {
            plan.keys.len() == keys.len()
                && plan
                    .keys
                    .iter()
                    .zip(keys)
                    .all(|(a, b)| a.as_ptr() == b.as_ptr())
        };
        if let Ok(plan) = self.plan.lock() {
            if let Some(plan) = plan.as_ref().filter(|p| same_keys(p)) {
                return Ok(plan.keep);
            }
        }
        // A few names each side: comparing them beats hashing.
        let accepts = |name: &str| {
            if accepted.len() <= 8 {
                accepted.iter().any(|a| a == name)
            } else {
                accepted.contains(name)
            }
        };
        let mut keep = 0u64;
        for (i, key) in keys.iter().enumerate() {
            if accepts(key.to_str()?) {
                keep |= 1 << i;
            }
        }
        if let Ok(mut plan) = self.plan.lock() {
            *plan = Some(KeywordPlan {
                keys: keys.iter().map(|k| k.clone().unbind()).collect(),
                keep,
            });
        }
        Ok(keep)
    }
}

/// The result of a C API call returning a new reference, or the exception it raised,
/// whatever its type. pyo3's own fetch turns a `PanicException` back into a Rust panic,
/// which would take the host down for an exception that a plugin raised (or let
/// escape from a pyo3-built library): here it is the hook's error like any other.
///
/// # Safety
/// The thread is attached and `result` is a new reference, or NULL with an exception set.
unsafe fn owned_or_raised<'py>(
    py: Python<'py>,
    result: *mut ffi::PyObject,
) -> PyResult<Bound<'py, PyAny>> {
    if !result.is_null() {
        return Ok(Bound::from_owned_ptr(py, result));
    }
    Err(take_raised(py))
}

/// Takes the raised exception without pyo3's panic resumption (see [`owned_or_raised`]).
///
/// # Safety
/// The thread is attached.
#[cfg(Py_3_12)]
unsafe fn take_raised(py: Python<'_>) -> PyErr {
    let exc = ffi::PyErr_GetRaisedException();
    if exc.is_null() {
        return pyo3::exceptions::PySystemError::new_err("hook call failed without an exception");
    }
    PyErr::from_value(Bound::from_owned_ptr(py, exc))
}

/// Takes the raised exception without pyo3's panic resumption (see [`owned_or_raised`]).
///
/// # Safety
/// The thread is attached.
#[cfg(not(Py_3_12))]
unsafe fn take_raised(py: Python<'_>) -> PyErr {
    let mut kind = std::ptr::null_mut();
    let mut value = std::ptr::null_mut();
    let mut traceback = std::ptr::null_mut();
    ffi::PyErr_Fetch(&mut kind, &mut value, &mut traceback);
    if kind.is_null() {
        return pyo3::exceptions::PySystemError::new_err("hook call failed without an exception");
    }
    ffi::PyErr_NormalizeException(&mut kind, &mut value, &mut traceback);
    if !traceback.is_null() && !value.is_null() {
        ffi::PyException_SetTraceback(value, traceback);
    }
    ffi::Py_XDECREF(kind);
    ffi::Py_XDECREF(traceback);
    if value.is_null() {
        return pyo3::exceptions::PySystemError::new_err("hook call failed without an exception");
    }
    PyErr::from_value(Bound::from_owned_ptr(py, value))
}

/// A call with a positional tuple and an optional keyword dict (the generic way).
fn call_generic<'py>(
    py: Python<'py>,
    method: &Bound<'py, PyAny>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let kwargs = kwargs.map_or(std::ptr::null_mut(), |k| k.as_ptr());
    // SAFETY: `method`, `args` and `kwargs` (or NULL) are alive for the call; the result
    // is a new reference or NULL with an exception set.
    unsafe {
        owned_or_raised(
            py,
            ffi::PyObject_Call(method.as_ptr(), args.as_ptr(), kwargs),
        )
    }
}

/// Keywords for one implementation, as [`SharedKwargs::for_method`] finds them.
enum Keywords<'a, 'py> {
    None,
    /// Names unusual enough (not all str) to go the generic way.
    Dict(Bound<'py, PyDict>),
    Prepared(&'a Prepared<'py>),
}

/// One pruning of a call's keywords, ready for a vectorcall: names as a tuple, values
/// in the same order.
struct Prepared<'py> {
    mask: u64,
    names: Bound<'py, PyTuple>,
    values: Vec<Bound<'py, PyAny>>,
}

/// Calls with positional `args` and prepared keywords. Through vectorcall where the
/// C API has it: a dict would be unpacked into exactly this by CPython on every call.
#[cfg(all(Py_3_11, not(Py_LIMITED_API)))]
fn call_with_keywords<'py>(
    py: Python<'py>,
    method: &Bound<'py, PyAny>,
    args: &Bound<'py, PyTuple>,
    prepared: &Prepared<'py>,
) -> PyResult<Bound<'py, PyAny>> {
    const INLINE: usize = 16;
    let nargs = args.len();
    let total = 1 + nargs + prepared.values.len();
    let mut inline = [std::ptr::null_mut::<ffi::PyObject>(); INLINE];
    let mut heap = Vec::new();
    let stack: &mut [*mut ffi::PyObject] = if total <= INLINE {
        &mut inline[..total]
    } else {
        heap.resize(total, std::ptr::null_mut());
        &mut heap
    };
    // Slot 0 stays free: with PY_VECTORCALL_ARGUMENTS_OFFSET a bound method may put
    // `self` there instead of copying the arguments.
    for (slot, item) in stack[1..].iter_mut().zip(args.iter_borrowed()) {
        *slot = item.as_ptr();
    }
    for (slot, value) in stack[1 + nargs..].iter_mut().zip(&prepared.values) {
        *slot = value.as_ptr();
    }
    // SAFETY: every pointer in `stack[1..]` is borrowed from `args` or `prepared`,
    // both alive for the whole call; `names` is a tuple of str matching the values;
    // the result is a new reference or NULL with an exception set.
    unsafe {
        let result = ffi::PyObject_Vectorcall(
            method.as_ptr(),
            stack.as_ptr().add(1),
            nargs | ffi::PY_VECTORCALL_ARGUMENTS_OFFSET,
            prepared.names.as_ptr(),
        );
        owned_or_raised(py, result)
    }
}

#[cfg(not(all(Py_3_11, not(Py_LIMITED_API))))]
fn call_with_keywords<'py>(
    py: Python<'py>,
    method: &Bound<'py, PyAny>,
    args: &Bound<'py, PyTuple>,
    prepared: &Prepared<'py>,
) -> PyResult<Bound<'py, PyAny>> {
    let kwargs = PyDict::new(py);
    for (name, value) in prepared.names.iter().zip(&prepared.values) {
        kwargs.set_item(name, value)?;
    }
    call_generic(py, method, args, Some(&kwargs))
}

/// The keyword arguments of one hook call, shared by every plugin of that call: key
/// names are read once, and each distinct pruning is built once and reused by every
/// implementation that accepts the same subset (plugins mostly share signatures).
pub(crate) struct SharedKwargs<'py> {
    /// The non-empty keyword dict as passed, or `None` for no keywords at all.
    kwargs: Option<Bound<'py, PyDict>>,
    /// The keys in dict order, borrowed from the dict (no text copied); `None` when
    /// some key is not a str, or there are more than 64 (then every implementation's
    /// call prunes the dict on its own).
    keys: Option<Vec<Bound<'py, PyString>>>,
    /// Prunings built so far, by the bit set of keys they keep.
    pruned: Vec<Prepared<'py>>,
}

impl<'py> SharedKwargs<'py> {
    pub(crate) fn new(kwargs: Option<&Bound<'py, PyDict>>) -> Self {
        let kwargs = kwargs.filter(|k| !k.is_empty()).cloned();
        let keys = kwargs.as_ref().and_then(|k| {
            if k.len() > 64 {
                return None;
            }
            k.iter()
                .map(|(key, _)| key.cast_into::<PyString>().ok())
                .collect()
        });
        Self {
            kwargs,
            keys,
            pruned: Vec::new(),
        }
    }

    /// The keywords for `method` (all of them when it takes `**kwargs`).
    fn for_method(
        &mut self,
        py: Python<'py>,
        method: &HookMethod,
        plugin: &str,
        hook: &str,
    ) -> PyResult<Keywords<'_, 'py>> {
        let accepted = method.policy.keywords.as_ref();
        let Some(kwargs) = &self.kwargs else {
            return Ok(Keywords::None);
        };
        let Some(keys) = &self.keys else {
            return Ok(Keywords::Dict(match accepted {
                Some(accepted) => prune_kwargs(py, kwargs, accepted, plugin, hook)?,
                None => kwargs.clone(),
            }));
        };
        let all = if keys.len() == 64 {
            u64::MAX
        } else {
            (1u64 << keys.len()) - 1
        };
        let keep = match accepted {
            None => all,
            Some(accepted) => method.keep_mask(keys, accepted)?,
        };
        if keep != all && tracing::enabled!(tracing::Level::DEBUG) {
            let dropped: Vec<String> = keys
                .iter()
                .enumerate()
                .filter(|(i, _)| keep & (1 << i) == 0)
                .map(|(_, key)| key.to_string_lossy().into_owned())
                .collect();
            tracing::debug!(
                plugin,
                hook,
                ?dropped,
                "dropping keyword arguments the hook does not declare"
            );
        }
        if keep == 0 {
            return Ok(Keywords::None);
        }
        let index = match self.pruned.iter().position(|p| p.mask == keep) {
            Some(index) => index,
            None => {
                let mut kept_names = Vec::new();
                let mut values = Vec::new();
                for (i, (key, value)) in kwargs.iter().enumerate() {
                    if keep & (1 << i) != 0 {
                        kept_names.push(key);
                        values.push(value);
                    }
                }
                self.pruned.push(Prepared {
                    mask: keep,
                    names: PyTuple::new(py, kept_names)?,
                    values,
                });
                self.pruned.len() - 1
            }
        };
        Ok(Keywords::Prepared(&self.pruned[index]))
    }
}

fn prune_kwargs<'py>(
    py: Python<'py>,
    kwargs: &Bound<'py, PyDict>,
    accepted: &HashSet<String>,
    plugin: &str,
    hook: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let mut dropped = Vec::new();
    for key in kwargs.keys() {
        let name = key.cast::<PyString>()?.to_str()?;
        if !accepted.contains(name) {
            dropped.push(name.to_string());
        }
    }
    if dropped.is_empty() {
        return Ok(kwargs.clone());
    }
    tracing::debug!(
        plugin,
        hook,
        ?dropped,
        "dropping keyword arguments the hook does not declare"
    );
    let pruned = PyDict::new(py);
    for (key, value) in kwargs.iter() {
        if accepted.contains(key.cast::<PyString>()?.to_str()?) {
            pruned.set_item(key, value)?;
        }
    }
    Ok(pruned)
}

/// Keyword names interned once per interpreter. Interning builds a str and looks it up
/// on every call; hosts pass the same few names on every call. Bounded, since names
/// may come from users (`call --kwargs`): past the bound, names are interned per call.
static KEYWORD_NAMES: PyOnceLock<Mutex<HashMap<String, Py<PyString>>>> = PyOnceLock::new();
const MAX_KEYWORD_NAMES: usize = 1024;

pub(crate) fn interned_name<'py>(py: Python<'py>, name: &str) -> Bound<'py, PyString> {
    let names = KEYWORD_NAMES.get_or_init(py, Mutex::default);
    if let Ok(names) = names.lock() {
        if let Some(interned) = names.get(name) {
            return interned.bind(py).clone();
        }
    }
    let interned = PyString::intern(py, name);
    if let Ok(mut names) = names.lock() {
        if names.len() < MAX_KEYWORD_NAMES {
            names.insert(name.to_owned(), interned.clone().unbind());
        }
    }
    interned
}
