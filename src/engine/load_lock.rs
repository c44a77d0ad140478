//! The process-wide load lock: one load at a time in the process, and an error
//! rather than a deadlock when a plugin's import calls back into an engine. Owns
//! nothing else; the callers decide what to do under it.

use std::sync::Mutex;

/// Loading mutates process-wide interpreter state (`sys.path`, `sys.modules`), so one
/// lock serialises the loads of every engine in the process, not just of one.
static LOAD_LOCK: Mutex<()> = Mutex::new(());

thread_local! {
    /// Whether this thread holds [`LOAD_LOCK`]: a plugin's `__init__` that calls back
    /// into an engine (reload, install) must get an error, not a deadlock.
    static LOADING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Held while plugins load; see [`lock_loads`].
pub(crate) struct LoadGuard {
    _guard: std::sync::MutexGuard<'static, ()>,
}

impl Drop for LoadGuard {
    fn drop(&mut self) {
        LOADING.with(|loading| loading.set(false));
    }
}

/// Takes the process-wide load lock; `None` when this thread already holds it.
pub(crate) fn lock_loads() -> Option<LoadGuard> {
    if LOADING.with(|loading| loading.get()) {
        return None;
    }
    let guard = LOAD_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    LOADING.with(|loading| loading.set(true));
    Some(LoadGuard { _guard: guard })
}

/// Marks this thread as loading for good: it runs an import on behalf of the thread
/// holding [`LOAD_LOCK`] (a bounded load), so a plugin calling back into an engine from
/// it gets an error instead of waiting for a lock that its own loader holds.
pub(crate) fn mark_loading_thread() {
    LOADING.with(|loading| loading.set(true));
}
