use std::collections::HashSet;

use pyo3::prelude::*;
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
        let method = self.method.bind(py);
        let args = match self.policy.max_positional {
            Some(max) if args.len() > max => {
                tracing::debug!(
                    plugin,
                    hook,
                    "dropping {} positional argument(s) the hook does not take",
                    args.len() - max
                );
                args.get_slice(0, max)
            }
            _ => args.clone(),
        };
        let kwargs = match (kwargs, &self.policy.keywords) {
            (Some(kwargs), Some(accepted)) if !kwargs.is_empty() => {
                Some(prune_kwargs(py, kwargs, accepted, plugin, hook)?)
            }
            (kwargs, _) => kwargs.filter(|k| !k.is_empty()).cloned(),
        };
        match kwargs {
            Some(kwargs) => method.call(args, Some(&kwargs)),
            None if args.is_empty() => method.call0(),
            None => method.call1(args),
        }
    }

    /// Keyword arguments of one call, to pass to [`call_shared`](Self::call_shared) of
    /// every implementation it reaches.
    pub(crate) fn shared_kwargs<'py>(kwargs: Option<&Bound<'py, PyDict>>) -> SharedKwargs<'py> {
        SharedKwargs::new(kwargs)
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
        let kwargs = kwargs.for_policy(py, self.policy.keywords.as_ref(), plugin, hook)?;
        match kwargs {
            Some(kwargs) => method.call(args, Some(&kwargs)),
            None if args.is_empty() => method.call0(),
            None => method.call1(args),
        }
    }
}

/// The keyword arguments of one hook call, shared by every plugin of that call: key
/// names are read once, and each distinct pruning is built once and reused by every
/// implementation that accepts the same subset (plugins mostly share signatures).
pub(crate) struct SharedKwargs<'py> {
    /// The non-empty keyword dict as passed, or `None` for no keywords at all.
    kwargs: Option<Bound<'py, PyDict>>,
    /// Key names in dict order; `None` when some key is not a str, or there are more
    /// than 64 (then every call prunes on its own, as [`HookMethod::call`] does).
    names: Option<Vec<String>>,
    /// Pruned dicts built so far, by the bit set of keys they keep.
    pruned: Vec<(u64, Bound<'py, PyDict>)>,
}

impl<'py> SharedKwargs<'py> {
    pub(crate) fn new(kwargs: Option<&Bound<'py, PyDict>>) -> Self {
        let kwargs = kwargs.filter(|k| !k.is_empty()).cloned();
        let names = kwargs.as_ref().and_then(|k| {
            if k.len() > 64 {
                return None;
            }
            k.keys()
                .iter()
                .map(|key| Some(key.cast::<PyString>().ok()?.to_str().ok()?.to_owned()))
                .collect()
        });
        Self {
            kwargs,
            names,
            pruned: Vec::new(),
        }
    }

    /// The keywords for an implementation accepting `accepted` (`None`: all of them).
    fn for_policy(
        &mut self,
        py: Python<'py>,
        accepted: Option<&HashSet<String>>,
        plugin: &str,
        hook: &str,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let (Some(kwargs), Some(accepted)) = (&self.kwargs, accepted) else {
            return Ok(self.kwargs.clone());
        };
        let Some(names) = &self.names else {
            return prune_kwargs(py, kwargs, accepted, plugin, hook).map(Some);
        };
        let accepts = |name: &str| {
            if accepted.len() <= 8 {
                accepted.iter().any(|a| a == name)
            } else {
                accepted.contains(name)
            }
        };
        let mut keep = 0u64;
        for (i, name) in names.iter().enumerate() {
            if accepts(name) {
                keep |= 1 << i;
            }
        }
        let all = if names.len() == 64 {
            u64::MAX
        } else {
            (1u64 << names.len()) - 1
        };
        if keep == all {
            return Ok(Some(kwargs.clone()));
        }
        if tracing::enabled!(tracing::Level::DEBUG) {
            let dropped: Vec<&String> = names
                .iter()
                .enumerate()
                .filter(|(i, _)| keep & (1 << i) == 0)
                .map(|(_, name)| name)
                .collect();
            tracing::debug!(
                plugin,
                hook,
                ?dropped,
                "dropping keyword arguments the hook does not declare"
            );
        }
        if let Some((_, dict)) = self.pruned.iter().find(|(mask, _)| *mask == keep) {
            return Ok(Some(dict.clone()));
        }
        let pruned = PyDict::new(py);
        for (i, (key, value)) in kwargs.iter().enumerate() {
            if keep & (1 << i) != 0 {
                pruned.set_item(key, value)?;
            }
        }
        self.pruned.push((keep, pruned.clone()));
        Ok(Some(pruned))
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
