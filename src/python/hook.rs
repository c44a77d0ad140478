//! One hook implementation, bound: its call policy (read from the signature once) and
//! the call itself, with surplus arguments pruned. Keyword pruning is shared by every
//! plugin of one call ([`SharedKwargs`]), so the hot path allocates per distinct
//! signature, not per plugin; each implementation remembers its last pruning, and
//! keyword names are interned once per process ([`interned_name`]).
//!
//! Keyword pruning lives in `hook/keywords.rs`, the raw C API calls in
//! `hook/raw_call.rs`; this module owns the call policy and the order of a call.

mod keywords;
mod raw_call;

use std::collections::HashSet;
use std::sync::Mutex;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

pub(crate) use keywords::{interned_name, SharedKwargs};
use keywords::{KeywordPlan, Keywords};
pub(super) use raw_call::owned_or_raised;
use raw_call::{call_generic, call_with_keywords};

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
                support_module(py, "_calls")?
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
