//! Keyword pruning: which of a call's keywords each implementation declares (worked
//! out once per distinct key set and remembered), prunings shared by every plugin of
//! one call ([`SharedKwargs`]), and keyword names interned once per process. Makes
//! no calls itself.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};

use super::HookMethod;

/// The keys of one call (held, so their identities stay theirs) and the bit set of
/// them an implementation keeps.
#[derive(Debug)]
pub(super) struct KeywordPlan {
    keys: Vec<Py<PyString>>,
    keep: u64,
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
        let new = KeywordPlan {
            keys: keys.iter().map(|k| k.clone().unbind()).collect(),
            keep,
        };
        // The plan it replaces is dropped after the lock is released: dropping its keys
        // (str subclasses from a Python caller) may run code that hands the GIL to a
        // thread waiting for this lock.
        let _old = self.plan.lock().ok().and_then(|mut plan| plan.replace(new));
        Ok(keep)
    }
}

/// Keywords for one implementation, as [`SharedKwargs::for_method`] finds them.
pub(super) enum Keywords<'a, 'py> {
    None,
    /// Names unusual enough (not all str) to go the generic way.
    Dict(Bound<'py, PyDict>),
    Prepared(&'a Prepared<'py>),
}

/// One pruning of a call's keywords, ready for a vectorcall: names as a tuple, values
/// in the same order.
pub(super) struct Prepared<'py> {
    mask: u64,
    pub(super) names: Bound<'py, PyTuple>,
    pub(super) values: Vec<Bound<'py, PyAny>>,
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
    #[inline]
    pub(super) fn for_method(
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
