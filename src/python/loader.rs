//! Importing one plugin's `plugin.py` (through `_loading.py`) and forgetting it again.

use pyo3::prelude::*;

use super::value::ManifestView;
use super::{support_module, PyFailure};
use crate::engine::{LoadRequest, LoadedPlugin};

/// Imports `plugin.py` and instantiates `Plugin`, with `plugin_manifest`, `plugin_dir`
/// and `config_path` set on the class first. Any exception, `SystemExit` included,
/// comes back as a [`PyFailure`].
/// Returns the instance and warnings (packages of the plugin's venv that lose to
/// modules the interpreter had already imported elsewhere).
pub(crate) fn load_plugin(
    py: Python<'_>,
    request: &LoadRequest,
) -> Result<(Py<PyAny>, Vec<String>), PyFailure> {
    let run = || -> PyResult<(Py<PyAny>, Vec<String>)> {
        let manifest = Py::new(py, ManifestView::from(&request.manifest))?;
        let site_dirs: Vec<String> = request
            .site_dirs
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let loaded = support_module(py, "_loading")?.call_method1(
            "load_plugin",
            (
                &request.module_name,
                request.plugin_dir.display().to_string(),
                manifest,
                request.config_path.display().to_string(),
                site_dirs,
            ),
        )?;
        let (instance, warnings): (Bound<'_, PyAny>, Vec<String>) = loaded.extract()?;
        Ok((instance.unbind(), warnings))
    };
    run().map_err(|e| PyFailure::from_err(py, &e))
}

/// Calls the instance's `on_unload()` (when it has one), then forgets its module, so
/// a replaced or deleted plugin stops its threads and its code can be collected. What
/// `on_unload` raises is logged: the plugin is going anyway.
pub(crate) fn unload_plugin(py: Python<'_>, plugin: &LoadedPlugin) {
    let span = tracing::debug_span!("unload", plugin = plugin.name(), version = plugin.version());
    let _entered = span.enter();
    let unloaded = support_module(py, "_loading").and_then(|loading| {
        loading.call_method1(
            "unload_plugin",
            (&plugin.module_name, plugin.instance.as_py().bind(py)),
        )
    });
    if let Err(e) = unloaded {
        tracing::warn!(
            plugin = plugin.name(),
            version = plugin.version(),
            "on_unload raised {}",
            PyFailure::from_err(py, &e)
        );
    }
}
