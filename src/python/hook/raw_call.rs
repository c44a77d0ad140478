//! Raw hook calls through the C API: a positional tuple with a keyword dict, or a
//! vectorcall with prepared keywords, and the raised exception taken without pyo3's
//! panic resumption. Decides nothing about which arguments to pass.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::keywords::Prepared;

/// The result of a C API call returning a new reference, or the exception it raised,
/// whatever its type. pyo3's own fetch turns a `PanicException` back into a Rust panic,
/// which would take the host down for an exception that a plugin raised (or let
/// escape from a pyo3-built library): here it is the hook's error like any other.
///
/// # Safety
/// The thread is attached and `result` is a new reference, or NULL with an exception set.
#[inline]
pub(crate) unsafe fn owned_or_raised<'py>(
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
#[inline]
pub(super) fn call_generic<'py>(
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

/// Calls with positional `args` and prepared keywords. Through vectorcall where the
/// C API has it: a dict would be unpacked into exactly this by CPython on every call.
#[cfg(all(Py_3_11, not(Py_LIMITED_API)))]
#[inline]
pub(super) fn call_with_keywords<'py>(
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
#[inline]
pub(super) fn call_with_keywords<'py>(
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
