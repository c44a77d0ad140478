//! Importing one plugin's `plugin.py` (through `_support.py`) and forgetting it again.

use pyo3::prelude::*;

use super::value::ManifestView;
use super::{support_module, PyFailure};
use crate::engine::LoadRequest;

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
        let loaded = support_module(py)?.call_method1(
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

/// Forgets a plugin's module, so a deleted plugin's code can be collected.
pub(crate) fn unload_module(py: Python<'_>, module_name: &str) {
    if let Ok(support) = support_module(py) {
        let _ = support.call_method1("unload_module", (module_name,));
    }
}
