//! Package version conflicts between plugin venvs, reported as warnings on the
//! plugins concerned. Changes nothing but those warnings.

use crate::deps::{self, Distribution};
use crate::engine::plugin::PluginInfo;
use crate::manifest::plugin_id;

/// All plugins share one interpreter, so two venvs holding one package at different
/// versions means one plugin runs with the other's version. Say so, on both plugins.
pub(super) fn report_conflicts(infos: &mut [PluginInfo], venvs: &[(String, Vec<Distribution>)]) {
    for conflict in deps::find_conflicts(venvs) {
        let text = format!(
            "package {} is {} in plugin {} but {} in plugin {}; all plugins share one interpreter, so only one version is imported",
            conflict.package, conflict.first.1, conflict.first.0, conflict.second.1, conflict.second.0
        );
        tracing::warn!("{text}");
        for info in infos.iter_mut() {
            let id = plugin_id(&info.name, &info.version);
            if id == conflict.first.0 || id == conflict.second.0 {
                info.warnings.push(text.clone());
            }
        }
    }
}
