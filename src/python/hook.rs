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
