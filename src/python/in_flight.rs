//! Threads running plugin code inside this crate's frames, so a Python host's exit can
//! stop them first. When CPython finalizes, a thread that next wants the GIL is ended
//! on the spot (`pthread_exit`); through Rust frames (pyo3's trampolines catch unwinds)
//! that crashes the process (exit 134 or 139). So the host's `atexit` hook (see the
//! Python module) refuses new calls, raises `HostExiting` in every thread running a hook
//! (between bytecodes, as for a time limit) and waits, bounded, until they have left.

use std::ffi::c_ulong;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use super::{support_module, PyFailure};

struct Entry {
    thread: c_ulong,
    /// Runs plugin code itself (and may be interrupted), rather than waiting for a
    /// timed call's thread without the GIL.
    runs_plugin_code: bool,
}

static THREADS: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
static LEFT: Condvar = Condvar::new();
static EXITING: AtomicBool = AtomicBool::new(false);

fn threads() -> MutexGuard<'static, Vec<Entry>> {
    THREADS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The calling thread's id as CPython knows it (`threading.get_ident()`).
pub(crate) fn current_thread() -> c_ulong {
    // CPython's PyThread_get_thread_ident is pthread_self() on POSIX.
    #[cfg(unix)]
    {
        // SAFETY: no preconditions.
        unsafe { libc::pthread_self() as c_ulong }
    }
    #[cfg(not(unix))]
    {
        0
    }
}

/// Registers the calling thread while it runs hooks; unregisters on drop.
pub struct InFlight {
    thread: c_ulong,
}

impl InFlight {
    /// `None` once the host is exiting: no hook may start then.
    pub fn enter(runs_plugin_code: bool) -> Option<Self> {
        if EXITING.load(Ordering::Acquire) {
            return None;
        }
        let thread = current_thread();
        threads().push(Entry {
            thread,
            runs_plugin_code,
        });
        Some(Self { thread })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut threads = threads();
        if let Some(i) = threads.iter().position(|e| e.thread == self.thread) {
            threads.swap_remove(i);
        }
        // Only the host's exit waits for threads to leave, and it sets EXITING before
        // it looks (under this lock): waking nobody costs a system call per hook call.
        if EXITING.load(Ordering::Acquire) {
            LEFT.notify_all();
        }
    }
}

/// Whether the host is exiting (hook calls are refused).
pub fn host_exiting() -> bool {
    EXITING.load(Ordering::Acquire)
}

static HOST_EXITING: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// For the host's exit: refuses new hook calls, interrupts the running ones and waits
/// (without the GIL) up to `limit` for every thread to leave. The number still inside
/// (blocked in C code) when it gives up.
pub fn stop_all(py: Python<'_>, limit: Duration) -> usize {
    EXITING.store(true, Ordering::Release);
    let me = current_thread();
    let class = HOST_EXITING
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(
                support_module(py, "_calls")?
                    .getattr("HostExiting")?
                    .cast_into::<PyType>()?
                    .unbind(),
            )
        })
        .map(|c| c.clone_ref(py));
    let class = match class {
        Ok(class) => class,
        Err(e) => {
            tracing::warn!("cannot stop running hooks: {}", PyFailure::from_err(py, &e));
            return threads().len();
        }
    };
    let deadline = Instant::now() + limit;
    loop {
        {
            let threads = threads();
            if threads.iter().all(|e| e.thread == me) {
                return 0;
            }
            for entry in threads
                .iter()
                .filter(|e| e.runs_plugin_code && e.thread != me)
            {
                // SAFETY: attached; `class` is an exception type; ids come from
                // pthread_self, which is CPython's thread id on POSIX. Repeated each
                // round: a hook may catch it and go on.
                unsafe {
                    ffi::PyThreadState_SetAsyncExc(
                        entry.thread as std::ffi::c_long,
                        class.as_ptr(),
                    );
                }
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return threads().iter().filter(|e| e.thread != me).count();
        }
        let wait = (deadline - now).min(Duration::from_millis(50));
        py.detach(|| {
            let guard = threads();
            let _ = LEFT.wait_timeout(guard, wait);
        });
    }
}
