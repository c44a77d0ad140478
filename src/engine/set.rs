//! A loaded plugin set: every installed plugin with its status, in call order, and the
//! runtime's dispatcher for the loaded ones. Immutable once built, so it can be
//! swapped atomically and shared by concurrent calls.

use std::sync::Arc;

use super::plugin::{LoadedPlugin, PluginInfo};
use super::runtime::{Dispatcher, Runtime};

#[derive(Debug)]
pub struct PluginSet {
    pub(crate) infos: Vec<PluginInfo>,
    pub(crate) loaded: Vec<Arc<LoadedPlugin>>,
    pub(crate) dispatcher: Box<dyn Dispatcher>,
    /// `last-change.txt` as it was when this set was loaded.
    pub(crate) change_marker: Option<String>,
}

impl PluginSet {
    pub(crate) fn new(
        runtime: &dyn Runtime,
        infos: Vec<PluginInfo>,
        loaded: Vec<Arc<LoadedPlugin>>,
        change_marker: Option<String>,
    ) -> Self {
        Self {
            dispatcher: runtime.dispatcher(&loaded),
            infos,
            loaded,
            change_marker,
        }
    }

    /// The set before the first load.
    pub(crate) fn empty(runtime: &dyn Runtime) -> Self {
        Self::new(runtime, Vec::new(), Vec::new(), None)
    }

    pub fn infos(&self) -> &[PluginInfo] {
        &self.infos
    }

    pub fn loaded(&self) -> &[Arc<LoadedPlugin>] {
        &self.loaded
    }
}
