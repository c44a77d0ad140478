//! Hook calls with a time limit: the hook runs on a thread of its own while the caller
//! waits (without the GIL) up to the limit; on expiry the caller asks the interpreter
//! to raise `HookTimeout` in that thread (`PyThreadState_SetAsyncExc`, checked between
//! bytecodes) and moves on. Code blocked in C (a socket read, `time.sleep`) sees the
//! exception only once it returns to Python, so its thread lives on until then.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use pyo3::{ffi, Py};

use super::hook::HookMethod;
use super::in_flight::{current_thread, InFlight};
use super::{support_module, PyFailure};

/// What the hook's thread and the waiting caller share.
#[derive(Default)]
struct Slot {
    /// The hook's thread, while it runs the hook (the target of the interruption).
    running_on: Option<std::ffi::c_ulong>,
    /// The caller gave up; the thread must not start the hook, or drops its result.
    abandoned: bool,
    outcome: Option<Result<Py<PyAny>, Box<PyFailure>>>,
}

type Shared = Arc<(Mutex<Slot>, Condvar)>;

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Outcome of one timed call.
pub(crate) enum Timed {
    Done(Result<Py<PyAny>, Box<PyFailure>>),
    TimedOut,
}

/// Calls `method` of one plugin on a thread of its own, waiting at most `timeout`.
pub(crate) fn call_with_timeout(
    py: Python<'_>,
    method: Arc<HookMethod>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
    plugin: &str,
    hook: &str,
    timeout: Duration,
) -> Timed {
    let shared: Shared = Arc::default();
    let args = args.clone().unbind();
    let kwargs = kwargs.map(|k| k.clone().unbind());
    let (plugin_name, hook_name) = (plugin.to_string(), hook.to_string());
    let theirs = shared.clone();
    let span = tracing::Span::current();
    let spawned = std::thread::Builder::new()
        .name(format!("hook {hook}"))
        .spawn(move || {
            let _entered = span.enter();
            Python::attach(|py| {
                run_hook(py, &theirs, &method, args, kwargs, &plugin_name, &hook_name)
            })
        });
    if let Err(e) = spawned {
        let err = pyo3::exceptions::PyRuntimeError::new_err(format!(
            "cannot start a thread for the hook: {e}"
        ));
        return Timed::Done(Err(Box::new(PyFailure::from_err(py, &err))));
    }
    let finished = py.detach(|| {
        let (slot, done) = &*shared;
        let guard = lock(slot);
        let (mut guard, _) = done
            .wait_timeout_while(guard, timeout, |s| s.outcome.is_none())
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match guard.outcome.take() {
            Some(outcome) => Some(outcome),
            None => {
                guard.abandoned = true;
                None
            }
        }
    });
    if let Some(outcome) = finished {
        return Timed::Done(outcome);
    }
    // Attached again, so the hook's thread is between bytecodes or outside Python; it
    // clears `running_on` (under the lock) before it leaves the hook.
    if let Some(thread) = lock(&shared.0).running_on {
        interrupt(py, thread);
    }
    Timed::TimedOut
}

fn run_hook(
    py: Python<'_>,
    shared: &Shared,
    method: &HookMethod,
    args: Py<PyTuple>,
    kwargs: Option<Py<PyDict>>,
    plugin: &str,
    hook: &str,
) {
    let (slot, done) = &**shared;
    // Known to a Python host's exit, which stops it before the interpreter finalizes.
    let in_flight = InFlight::enter(true);
    {
        let mut guard = lock(slot);
        if guard.abandoned {
            return;
        }
        guard.running_on = Some(current_thread());
    }
    let result = match &in_flight {
        Some(_) => method.call(
            py,
            args.bind(py),
            kwargs.as_ref().map(|k| k.bind(py)),
            plugin,
            hook,
        ),
        None => Err(pyo3::exceptions::PyRuntimeError::new_err(
            "the Python host is exiting; hooks no longer start",
        )),
    };
    let outcome = result
        .map(Bound::unbind)
        .map_err(|e| Box::new(PyFailure::from_err(py, &e)));
    let mut guard = lock(slot);
    guard.running_on = None;
    if guard.abandoned {
        // Nobody waits: the result (or the HookTimeout it ended with) is dropped here,
        // attached.
        drop(guard);
        drop(outcome);
        return;
    }
    guard.outcome = Some(outcome);
    done.notify_one();
}

static HOOK_TIMEOUT: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Raises `_calls.HookTimeout` in `thread` at its next bytecode.
fn interrupt(py: Python<'_>, thread: std::ffi::c_ulong) {
    let class = HOOK_TIMEOUT.get_or_try_init(py, || {
        Ok::<_, PyErr>(
            support_module(py, "_calls")?
                .getattr("HookTimeout")?
                .cast_into::<PyType>()?
                .unbind(),
        )
    });
    match class {
        // SAFETY: attached; `class` is an exception type kept alive by the static.
        // The id came from PyThread_get_thread_ident, as the call expects.
        Ok(class) => unsafe {
            ffi::PyThreadState_SetAsyncExc(thread as std::ffi::c_long, class.as_ptr());
        },
        Err(e) => tracing::warn!(
            "cannot interrupt a timed-out hook: {}",
            PyFailure::from_err(py, &e).summary()
        ),
    }
}
