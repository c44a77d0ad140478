//! A hook call's converted arguments kept for later calls ([`FrozenCall`]): only when
//! nothing in them can change, so sharing them between calls is invisible to plugins.
//! Owns that rule; converting is `args.rs`'s.

use std::any::TypeId;
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

/// Whether every value of `T` serializes the same each time: plain data the arguments
/// own. Anything else (an atomic or a lock behind a reference, a `Serialize` that reads
/// a clock) may convert differently per call, so arguments holding one are converted
/// for every call.
pub(super) fn serializes_the_same<T: 'static>() -> bool {
    let of = TypeId::of::<T>();
    [
        TypeId::of::<String>(),
        TypeId::of::<&'static str>(),
        TypeId::of::<Box<str>>(),
        TypeId::of::<std::sync::Arc<str>>(),
        TypeId::of::<bool>(),
        TypeId::of::<char>(),
        TypeId::of::<i8>(),
        TypeId::of::<i16>(),
        TypeId::of::<i32>(),
        TypeId::of::<i64>(),
        TypeId::of::<isize>(),
        TypeId::of::<u8>(),
        TypeId::of::<u16>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<usize>(),
        TypeId::of::<f32>(),
        TypeId::of::<f64>(),
        TypeId::of::<()>(),
        TypeId::of::<Option<String>>(),
        TypeId::of::<Option<&'static str>>(),
        TypeId::of::<Option<bool>>(),
        TypeId::of::<Option<i64>>(),
        TypeId::of::<serde_json::Value>(),
    ]
    .contains(&of)
}
