//! A hook call's converted arguments kept for later calls ([`FrozenCall`]): only when
//! nothing in them can change, so sharing them between calls is invisible to plugins.
//! Owns that rule; converting is `args.rs`'s.

use std::mem::ManuallyDrop;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString, PyTuple};

use super::args::{KeywordList, PyCallArgs};
use super::release::release;

/// A converted call made only of immutable scalars, shareable by any number of calls.
pub(super) struct FrozenCall {
    /// Taken only by `Drop`.
    args: ManuallyDrop<Py<PyTuple>>,
    names: KeywordList<Py<PyString>>,
    values: KeywordList<Py<PyAny>>,
}

impl Drop for FrozenCall {
    fn drop(&mut self) {
        // Hosts drop their arguments without the GIL: released as hook results are.
        // SAFETY: `args` is not used again: this is the call's end.
        release(unsafe { ManuallyDrop::take(&mut self.args) }.into_any());
        self.names.drain(..).for_each(|n| release(n.into_any()));
        self.values.drain(..).for_each(release);
    }
}

impl FrozenCall {
    /// `call` kept for later calls, when nothing in it can change.
    pub(super) fn of(call: &PyCallArgs<'_>) -> Option<Self> {
        let scalars = call.args.iter_borrowed().all(|a| is_immutable_scalar(&a))
            && call.values.iter().all(is_immutable_scalar);
        scalars.then(|| Self {
            args: ManuallyDrop::new(call.args.clone().unbind()),
            names: call.names.iter().map(|n| n.clone().unbind()).collect(),
            values: call.values.iter().map(|v| v.clone().unbind()).collect(),
        })
    }

    pub(super) fn bind<'py>(&self, py: Python<'py>) -> PyCallArgs<'py> {
        PyCallArgs::new(
            self.args.bind(py).clone(),
            self.names.iter().map(|n| n.bind(py).clone()).collect(),
            self.values.iter().map(|v| v.bind(py).clone()).collect(),
        )
    }
}

/// Whether `value` is of a type whose instances cannot change (exact types only: a
/// subclass may add mutable state).
fn is_immutable_scalar(value: &Bound<'_, PyAny>) -> bool {
    value.is_none()
        || value.is_exact_instance_of::<PyString>()
        || value.is_exact_instance_of::<PyBool>()
        || value.is_exact_instance_of::<PyInt>()
        || value.is_exact_instance_of::<PyFloat>()
}
