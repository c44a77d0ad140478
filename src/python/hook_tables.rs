//! The implementations of each hook in one loaded set ([`HookTable`]), looked up (and
//! their signatures read) on a hook's first call and kept while the set lives.
//!
//! Every call starts with this lookup, so the common case takes no lock and touches
//! no reference count: the first [`PINNED`] hooks some plugin implements are pinned
//! into slots that are written once and then only read. Hooks past those, and names
//! no plugin implements, live in a locked map (bounded for the latter, since names
//! may come from users). Owns the lookup only; calling is the dispatcher's.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, OnceLock, RwLock};

use pyo3::prelude::*;
use pyo3::types::PyString;

use super::batch::Batches;
use super::hook::HookMethod;
use crate::engine::LoadedPlugin;

/// Hooks whose tables are found without a lock: more than Racetrack's host has.
const PINNED: usize = 32;

/// Hook names remembered although no plugin implements them.
const MAX_UNIMPLEMENTED_HOOKS: usize = 64;

/// One plugin's implementation of one hook.
#[derive(Debug)]
pub(super) struct BoundHook {
    pub(super) plugin: Arc<LoadedPlugin>,
    /// Shared with a timed call's thread.
    pub(super) method: Arc<HookMethod>,
}

/// The implementations of one hook in a set, in call order, and the batched calls
/// written for them.
#[derive(Debug)]
pub(super) struct HookTable {
    pub(super) bound: Vec<BoundHook>,
    pub(super) batches: Batches,
}

impl HookTable {
    fn empty() -> Self {
        Self {
            bound: Vec::new(),
            batches: Batches::default(),
        }
    }
}

/// A table found by [`HookTables::get`]: borrowed when pinned, shared otherwise.
pub(super) enum TableRef<'a> {
    Pinned(&'a HookTable),
    Shared(Arc<HookTable>),
}

impl Deref for TableRef<'_> {
    type Target = HookTable;

    fn deref(&self) -> &HookTable {
        match self {
            TableRef::Pinned(table) => table,
            TableRef::Shared(table) => table,
        }
    }
}

type Pin = OnceLock<(Box<str>, HookTable)>;

#[derive(Debug)]
pub(super) struct HookTables {
    plugins: Vec<Arc<LoadedPlugin>>,
    /// Filled in order of first call, never emptied.
    pinned: Box<[Pin]>,
    more: RwLock<HashMap<String, Arc<HookTable>, foldhash::fast::RandomState>>,
}

impl HookTables {
    pub(super) fn new(plugins: &[Arc<LoadedPlugin>]) -> Self {
        Self {
            plugins: plugins.to_vec(),
            pinned: (0..PINNED).map(|_| Pin::new()).collect(),
            more: RwLock::default(),
        }
    }

    /// Implementations of `hook`, in call order.
    pub(super) fn get(&self, py: Python<'_>, hook: &str) -> TableRef<'_> {
        for pin in self.pinned.iter() {
            match pin.get() {
                Some((name, table)) if **name == *hook => return TableRef::Pinned(table),
                Some(_) => {}
                // Slots fill in order: the rest are empty.
                None => break,
            }
        }
        if let Ok(more) = self.more.read() {
            if let Some(table) = more.get(hook) {
                return TableRef::Shared(table.clone());
            }
        }
        // Runs Python code: no lock is held here.
        let table = self.resolve(py, hook);
        if table.bound.is_empty() {
            return self.remember(hook, table);
        }
        self.pin(hook, table)
    }

    /// Pins a new table in the first free slot, or finds the one another thread pinned
    /// for the same hook meanwhile; past the last slot, the table goes to the map.
    fn pin(&self, hook: &str, table: HookTable) -> TableRef<'_> {
        let mut ours = Some(table);
        for pin in self.pinned.iter() {
            // Runs only on a free slot, and `ours` is still there then: once placed,
            // the name matches and the loop ends.
            let (name, pinned) =
                pin.get_or_init(|| (hook.into(), ours.take().unwrap_or_else(HookTable::empty)));
            if **name == *hook {
                return TableRef::Pinned(pinned);
            }
        }
        self.remember(hook, ours.unwrap_or_else(HookTable::empty))
    }

    fn remember(&self, hook: &str, table: HookTable) -> TableRef<'_> {
        let table = Arc::new(table);
        let earlier = self.more.write().ok().and_then(|mut more| {
            if let Some(earlier) = more.get(hook) {
                return Some(earlier.clone());
            }
            let unimplemented = more.values().filter(|t| t.bound.is_empty()).count();
            if !table.bound.is_empty() || unimplemented < MAX_UNIMPLEMENTED_HOOKS {
                more.insert(hook.to_string(), table.clone());
            }
            None
        });
        // Ours is dropped (if another thread's table won) only now, with the lock
        // released: dropping Python objects may run code that hands the GIL to a thread
        // waiting for this lock.
        TableRef::Shared(earlier.unwrap_or(table))
    }

    /// Looks the hook up on every plugin. An attribute lookup that raises marks
    /// nothing: the plugin simply does not take part (and the failure is logged).
    fn resolve(&self, py: Python<'_>, hook: &str) -> HookTable {
        let name = PyString::intern(py, hook);
        let mut bound = Vec::new();
        for plugin in &self.plugins {
            match HookMethod::resolve(py, plugin.instance.as_py(), &name) {
                Ok(Some(method)) => bound.push(BoundHook {
                    plugin: plugin.clone(),
                    method: Arc::new(method),
                }),
                Ok(None) => {}
                Err(failure) => tracing::warn!(
                    plugin = plugin.name(),
                    version = plugin.version(),
                    hook,
                    "looking up the hook raised {}",
                    failure.summary()
                ),
            }
        }
        HookTable {
            bound,
            ..HookTable::empty()
        }
    }
}
