//! Reloading: swapping a freshly loaded plugin set in, and noticing (at most once per
//! `watch_interval`) changes other processes made to the directory, reloading those on
//! a background thread so calls never wait. What one load does is `load.rs`'s job.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::poll_timer::PollTimer;
use super::{load, lock_loads, PluginEngine, PluginSet};

impl PluginEngine {
    /// Re-reads the plugins directory and swaps the new plugin set in.
    pub fn reload(&self) {
        let Some(_guard) = lock_loads() else {
            tracing::error!("reload() called while this thread is loading plugins (from a plugin's __init__?); ignored");
            return;
        };
        self.reload_locked();
    }

    pub(super) fn reload_locked(&self) {
        if !self.inner.loads {
            return;
        }
        let span = tracing::info_span!("reload", dir = %self.inner.dir.root().display());
        let _entered = span.enter();
        let started = Instant::now();
        let set = Arc::new(load::load_set(
            &self.inner.dir,
            &self.inner.options,
            &self.inner.runtime,
        ));
        self.swap_in(set.clone());
        tracing::info!(
            loaded = set.loaded().len(),
            total = set.infos().len(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "plugins loaded"
        );
    }

    /// Makes `set` the active one; calls still running on the old set finish there.
    pub(super) fn swap_in(&self, set: Arc<PluginSet>) {
        let old = {
            let mut current = self
                .inner
                .current
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            std::mem::replace(&mut *current, set)
        };
        self.inner.generation.fetch_add(1, Ordering::Release);
        // The old plugins stay alive as long as calls still run on the old set; the
        // runtime only forgets them, so the next load does not find them.
        self.inner.runtime.unload(old.loaded());
    }

    /// Reloads when another process changed `last-change.txt` since the current set
    /// was loaded. Returns whether it reloaded.
    pub fn reload_if_changed(&self) -> bool {
        if !self.inner.loads {
            return false;
        }
        let marker = self.inner.dir.change_marker();
        if marker == self.snapshot().change_marker {
            return false;
        }
        let Some(_guard) = lock_loads() else {
            return false;
        };
        // Another thread may have reloaded while this one waited.
        if self.inner.dir.change_marker() == self.snapshot().change_marker {
            return false;
        }
        self.reload_locked();
        true
    }

    /// The active plugin set, after the periodic change check.
    pub(crate) fn current(&self) -> Arc<PluginSet> {
        self.poll_changes();
        self.snapshot()
    }

    /// Looks for changes made by other processes, at most once per `watch_interval`,
    /// and reloads in the background when there are some: the caller goes on with the
    /// current set at once, and calls switch to the new set when it is complete (a
    /// reload may wait for another process's install, a venv build, slow imports).
    /// Every call does this itself, except [`invoke_each`](Self::invoke_each), whose
    /// caller calls this beforehand.
    pub fn poll_changes(&self) {
        let Some(poll) = &self.inner.poll else {
            return;
        };
        if poll.claim()
            && self.inner.loads
            && self.inner.dir.change_marker() != self.snapshot().change_marker
        {
            self.reload_in_background();
        }
    }

    /// Starts a reload thread unless one runs already (it looks at the marker again
    /// once it has the load lock, so a change made meanwhile is not missed by it, and
    /// one made after it read the directory is found by the next poll).
    fn reload_in_background(&self) {
        if self.inner.reloading.swap(true, Ordering::AcqRel) {
            return;
        }
        /// Clears the flag however the reload ends.
        struct Done(PluginEngine);
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.inner.reloading.store(false, Ordering::Release);
            }
        }
        let done = Done(self.clone());
        let spawned = std::thread::Builder::new()
            .name("plugins reload".into())
            .spawn(move || {
                done.0.reload_if_changed();
            });
        if let Err(e) = spawned {
            // `done` was dropped with the closure, clearing the flag: the next poll
            // tries again.
            tracing::error!("cannot start the reload thread: {e}");
        }
    }

    /// Whether a reload started by [`poll_changes`](Self::poll_changes) is running.
    pub fn reloading(&self) -> bool {
        self.inner.reloading.load(Ordering::Acquire)
    }

    /// Whether [`poll_changes`](Self::poll_changes) would look at the directory now.
    /// Lets a front end holding the interpreter release it only when a check (and
    /// maybe a reload) is due, not on every call.
    pub fn changes_due(&self) -> bool {
        self.inner.poll.as_ref().is_some_and(PollTimer::is_due)
    }
}
