//! Giving back the references of [`PyValue`](super::PyValue)s dropped on a thread not
//! attached to the interpreter (a Rust host's, typically dropping hook results). pyo3
//! hands each such object to its global queue: a lock per object, and a queue freed and
//! regrown every time it is emptied, which cost more than a small hook's whole call.
//! Here they wait in a list of the dropping thread's own, with no lock, and that thread
//! gives them back the next time it calls into the runtime (a hook call, a load, a
//! `PyValue` method: attached then anyway). A list
//! that reaches [`MAX_WAITING`], and whatever waits when the thread ends, goes to
//! pyo3's queue as before, so nothing waits for long.
//!
//! Owns only when a reference is given back; never decides whether it is.

use std::cell::{Cell, RefCell};

use pyo3::prelude::*;

/// References one thread keeps before handing them to pyo3's queue: a thread that
/// drops large results and seldom calls hooks never keeps many alive past their drop.
const MAX_WAITING: usize = 64;

thread_local! {
    static WAITING: RefCell<Vec<Py<PyAny>>> = const { RefCell::new(Vec::new()) };
    /// Whether this thread is inside [`while_attached`]: references dropped then go at once.
    static ATTACHED: Cell<bool> = const { Cell::new(false) };
}

/// Drops `object` now when this thread is known to be attached (inside
/// [`while_attached`]), else keeps it for [`while_attached`]'s next start on this
/// thread. Keeping one a little longer is always safe, if the thread happens to be
/// attached after all (a host's own `Python::attach`).
pub(super) fn release(object: Py<PyAny>) {
    if ATTACHED.try_with(Cell::get).unwrap_or(false) {
        drop(object);
        return;
    }
    let overflow = WAITING.try_with(|waiting| {
        let mut waiting = waiting.try_borrow_mut().ok()?;
        waiting.push(object);
        (waiting.len() >= MAX_WAITING).then(|| std::mem::take(&mut *waiting))
    });
    // Outside the borrow: pyo3's drop may run Python code on an attached thread.
    // (With thread-local storage torn down, the closure never ran and dropping it
    // dropped `object`, which pyo3 queued.)
    drop(overflow);
}

/// Runs `f` attached to the interpreter, first giving back every reference this
/// thread left waiting; values dropped inside `f` go at once.
pub(super) fn while_attached<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    if ATTACHED.try_with(Cell::get).unwrap_or(false) {
        // Inside an outer `while_attached`: drained already, the flag is set.
        return Python::attach(f);
    }
    /// Clears the flag however `f` ends (a panic included).
    struct Detaching;
    impl Drop for Detaching {
        fn drop(&mut self) {
            let _ = ATTACHED.try_with(|a| a.set(false));
        }
    }
    Python::attach(|py| {
        release_waiting(py);
        let _ = ATTACHED.try_with(|a| a.set(true));
        let _clear = Detaching;
        f(py)
    })
}

/// Gives back every reference this thread left waiting.
fn release_waiting(_py: Python<'_>) {
    let Ok(Some(mut batch)) = WAITING.try_with(|waiting| {
        let mut waiting = waiting.try_borrow_mut().ok()?;
        (!waiting.is_empty()).then(|| std::mem::take(&mut *waiting))
    }) else {
        return;
    };
    // Decrefs may run `__del__`, which may drop results again: no borrow is held here.
    batch.clear();
    // Keep the capacity for the next calls, unless something was queued meanwhile.
    let _ = WAITING.try_with(|waiting| {
        if let Ok(mut waiting) = waiting.try_borrow_mut() {
            if waiting.is_empty() {
                *waiting = batch;
            }
        }
    });
}
