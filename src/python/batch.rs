//! Batched hook calls: every plugin of a set called from one generated Python function
//! (`_batch.py`), each with just the keywords it declares, so a call with keywords
//! enters the interpreter once and prunes nothing per plugin. One function per call
//! shape (positional count, keyword names), written on first use and kept for as long
//! as the set lives.
//!
//! Owns the cache of those functions and turning their result slots back into
//! per-plugin outcomes. May not decide who is called (the dispatcher's table) or how
//! arguments are pruned (each implementation's `CallPolicy`, read here only).

use std::sync::{Arc, Mutex, OnceLock};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyList, PyString, PyTuple};

use super::hook_tables::BoundHook;
use super::{support_module, PyCallArgs, PyFailure, PyValue};
use crate::engine::{CallFailure, LoadedPlugin, OutcomeSink};

/// Call shapes remembered per hook. A host passes the same few shapes; one that
/// varies its keywords call after call gets the one-by-one path past this many.
const MAX_SHAPES: usize = 8;

/// The call shape a function was written for, and the function (`None`: this shape
/// cannot be batched, don't ask again).
struct Shape {
    nargs: usize,
    names: Vec<Py<PyString>>,
    function: Option<Py<PyAny>>,
}

impl Shape {
    fn matches(&self, nargs: usize, names: &[Bound<'_, PyString>]) -> bool {
        self.nargs == nargs
            && self.names.len() == names.len()
            && self.names.iter().zip(names).all(|(a, b)| {
                // Hosts pass the same interned names each call: identity first. Then
                // the text, read without running Python code (a str subclass's
                // `__eq__` could, while a lock is held).
                a.as_ptr() == b.as_ptr()
                    || matches!((a.bind(b.py()).to_str(), b.to_str()), (Ok(x), Ok(y)) if x == y)
            })
    }
}

/// The generated functions of one hook of one loaded set.
#[derive(Default)]
pub(super) struct Batches {
    /// The first shape called: hosts mostly pass one, found here without a lock.
    first: OnceLock<Shape>,
    /// Any others.
    shapes: Mutex<Vec<Shape>>,
}

impl std::fmt::Debug for Batches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.shapes.lock().map(|s| s.len()).unwrap_or_default();
        let first = usize::from(self.first.get().is_some());
        f.debug_struct("Batches")
            .field("shapes", &(first + count))
            .finish()
    }
}

/// What a batched call gives back: `None` when this call cannot be batched (the
/// caller then calls plugin by plugin, as before).
pub(super) type Batched = Option<Result<(), PyFailure>>;

impl Batches {
    /// Calls `hook` on every member with `args` and `kwargs` (each member getting what
    /// its signature takes), handing each outcome to `each` in call order.
    pub(super) fn call<'py>(
        &self,
        py: Python<'py>,
        hook: &str,
        members: &[BoundHook],
        call: &PyCallArgs<'py>,
        fail_fast: bool,
        each: &mut OutcomeSink<'_>,
    ) -> Batched {
        if call.odd_keys || members.is_empty() {
            return None;
        }
        let function = self.function(py, hook, members, call.args.len(), &call.names)?;
        Some(run(py, &function, members, call, fail_fast, each))
    }

    /// The function for this call shape, written now if it is new; `None` when the
    /// shape cannot be batched (remembered, like a function, so it is asked once).
    fn function<'py>(
        &self,
        py: Python<'py>,
        hook: &str,
        members: &[BoundHook],
        nargs: usize,
        names: &[Bound<'py, PyString>],
    ) -> Option<Bound<'py, PyAny>> {
        // The lock is never held while Python code runs: the interpreter may hand the
        // GIL to another thread then, which could be waiting for this lock.
        match self.known(py, nargs, names) {
            Known::Yes(function) => return function,
            Known::Full => return None,
            Known::No => {}
        }
        let function = write(py, hook, members, nargs, names).unwrap_or_else(|e| {
            tracing::warn!(
                hook,
                "cannot prepare a batched call; calling plugins one by one: {}",
                PyFailure::from_err(py, &e).summary()
            );
            None
        });
        let shape = Shape {
            nargs,
            names: names.iter().map(|n| n.clone().unbind()).collect(),
            function: function.as_ref().map(|f| f.clone().unbind()),
        };
        let Err(shape) = self.first.set(shape) else {
            return function;
        };
        // Another thread may have written the same shape meanwhile: keep one.
        if let Some(first) = self.first.get().filter(|f| f.matches(nargs, names)) {
            return first.function.as_ref().map(|f| f.bind(py).clone());
        }
        let Ok(mut shapes) = self.shapes.lock() else {
            return function;
        };
        if let Some(shape) = shapes.iter().find(|s| s.matches(nargs, names)) {
            return shape.function.as_ref().map(|f| f.bind(py).clone());
        }
        if shapes.len() + 1 < MAX_SHAPES {
            shapes.push(shape);
        }
        function
    }

    /// Whether this call shape has been seen (and its function, if it has one).
    fn known<'py>(
        &self,
        py: Python<'py>,
        nargs: usize,
        names: &[Bound<'py, PyString>],
    ) -> Known<'py> {
        let found = |shape: &Shape| Known::Yes(shape.function.as_ref().map(|f| f.bind(py).clone()));
        match self.first.get() {
            Some(first) if first.matches(nargs, names) => return found(first),
            Some(_) => {}
            None => return Known::No,
        }
        let Ok(shapes) = self.shapes.lock() else {
            return Known::Full;
        };
        match shapes.iter().find(|s| s.matches(nargs, names)) {
            Some(shape) => found(shape),
            None if shapes.len() + 1 >= MAX_SHAPES => Known::Full,
            None => Known::No,
        }
    }
}

enum Known<'py> {
    /// Seen: its function, or `None` when the shape cannot be batched.
    Yes(Option<Bound<'py, PyAny>>),
    /// Not seen, and no room to remember it (or the cache is unusable).
    Full,
    No,
}

/// Writes the dispatch function of this call shape: `None` when `_batch` cannot spell
/// it (a keyword that is not an identifier, too many plugins).
fn write<'py>(
    py: Python<'py>,
    hook: &str,
    members: &[BoundHook],
    nargs: usize,
    names: &[Bound<'py, PyString>],
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let mut plans = Vec::with_capacity(members.len());
    for member in members {
        let policy = &member.method.policy;
        let taken = policy.max_positional.map_or(nargs, |max| max.min(nargs));
        let mut kept = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let declared = match &policy.keywords {
                None => true,
                Some(accepted) => accepted.contains(name.to_str()?),
            };
            if declared {
                kept.push(i);
            }
        }
        plans.push((taken, kept));
    }
    let methods: Vec<&Py<PyAny>> = members.iter().map(|m| &m.method.method).collect();
    let written = support_module(py, "_batch")?.call_method1(
        "make_dispatch",
        (hook, methods, plans, nargs, names.to_vec()),
    )?;
    Ok((!written.is_none()).then_some(written))
}

/// The two markers of `_batch.py`, looked up once per interpreter.
struct Markers {
    not_called: Py<PyAny>,
    failed: Py<PyAny>,
}

static MARKERS: PyOnceLock<Markers> = PyOnceLock::new();

fn markers(py: Python<'_>) -> PyResult<&Markers> {
    MARKERS.get_or_try_init(py, || {
        let module = support_module(py, "_batch")?;
        Ok(Markers {
            not_called: module.getattr("NOT_CALLED")?.unbind(),
            failed: module.getattr("FAILED")?.unbind(),
        })
    })
}

/// Runs one generated function and hands out what each slot holds.
fn run<'py>(
    py: Python<'py>,
    function: &Bound<'py, PyAny>,
    members: &[BoundHook],
    call: &PyCallArgs<'py>,
    fail_fast: bool,
    each: &mut OutcomeSink<'_>,
) -> Result<(), PyFailure> {
    let markers = markers(py).map_err(|e| PyFailure::from_err(py, &e))?;
    let not_called = markers.not_called.bind(py);
    let out = PyList::new(py, std::iter::repeat_n(not_called, members.len()))
        .map_err(|e| PyFailure::from_err(py, &e))?;
    let fail_fast = PyBool::new(py, fail_fast);
    const INLINE: usize = 16;
    let total = 3 + call.args.len() + call.values.len();
    let mut inline = [std::ptr::null_mut::<ffi::PyObject>(); INLINE];
    let mut heap = Vec::new();
    let stack: &mut [*mut ffi::PyObject] = if total <= INLINE {
        &mut inline[..total]
    } else {
        heap.resize(total, std::ptr::null_mut());
        &mut heap
    };
    // Slot 0 stays free for PY_VECTORCALL_ARGUMENTS_OFFSET.
    let given = [out.as_ptr(), fail_fast.as_ptr()]
        .into_iter()
        .chain(call.args.iter_borrowed().map(|a| a.as_ptr()))
        .chain(call.values.iter().map(|v| v.as_ptr()));
    for (slot, pointer) in stack[1..].iter_mut().zip(given) {
        *slot = pointer;
    }
    // SAFETY: every pointer after slot 0 is borrowed from `out`, `fail_fast`, the
    // call's tuple or its values, all alive for the whole call; no keyword names;
    // the result is a new reference or NULL with an exception set.
    let escaped = unsafe {
        let result = ffi::PyObject_Vectorcall(
            function.as_ptr(),
            stack.as_ptr().add(1),
            (total - 1) | ffi::PY_VECTORCALL_ARGUMENTS_OFFSET,
            std::ptr::null_mut(),
        );
        super::hook::owned_or_raised(py, result).err()
    };
    let failed = markers.failed.bind(py);
    let mut escaped = escaped;
    let mut any_failed = escaped.is_some();
    for (member, slot) in members.iter().zip(out.iter()) {
        if slot.is(not_called) {
            // Raised between two calls (an asynchronous exception): it stopped the
            // call at this plugin, so it is this plugin's outcome.
            if let Some(err) = escaped.take() {
                failure(py, &member.plugin, &err, each);
            }
            break;
        }
        if let Some(err) = raised(&slot, failed) {
            any_failed = true;
            failure(py, &member.plugin, &err, each);
            continue;
        }
        each(&member.plugin, Ok(PyValue::new(slot.unbind())));
    }
    if any_failed {
        // A failure's traceback reaches this call's frame, which holds `out`, which
        // holds the failure: emptied, no cycle keeps the call's objects (its plugins
        // among them) alive until a cyclic collection.
        let _ = out.del_slice(0, out.len());
    }
    if let Some(err) = escaped {
        tracing::warn!(
            "an exception arrived after the last hook had returned: {}",
            PyFailure::from_err(py, &err).summary()
        );
    }
    Ok(())
}

/// The exception of a `(FAILED, exception)` slot.
fn raised(slot: &Bound<'_, PyAny>, failed: &Bound<'_, PyAny>) -> Option<PyErr> {
    let pair = slot.cast_exact::<PyTuple>().ok()?;
    if pair.len() != 2 || !pair.get_borrowed_item(0).ok()?.is(failed) {
        return None;
    }
    let exception = pair.get_item(1).ok()?;
    Some(PyErr::from_value(exception))
}

fn failure(py: Python<'_>, plugin: &Arc<LoadedPlugin>, err: &PyErr, each: &mut OutcomeSink<'_>) {
    let failure = PyFailure::from_err(py, err);
    each(plugin, Err(CallFailure::Raised(Box::new(failure))));
}
