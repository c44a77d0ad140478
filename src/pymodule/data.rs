//! `PluginData`: one loaded plugin as Racetrack's engine describes it, and the status
//! dicts of `plugins_status()`.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::engine::{LoadedPlugin, PluginInfo, PluginStatus};
use crate::python::ManifestView;

/// A loaded plugin: its manifest, its `Plugin` instance and where its files are.
#[pyclass(
    name = "PluginData",
    module = "racetrack_plugins",
    frozen,
    get_all,
    skip_from_py_object
)]
pub struct PluginData {
    pub plugin_manifest: Py<ManifestView>,
    pub plugin_instance: Py<PyAny>,
    pub plugin_dir: PathBuf,
    pub config_path: PathBuf,
    pub zip_path: PathBuf,
    pub status: String,
    pub error: Option<String>,
}

impl PluginData {
    pub(crate) fn of(py: Python<'_>, plugin: &LoadedPlugin) -> PyResult<Py<PluginData>> {
        Py::new(
            py,
            PluginData {
                plugin_manifest: Py::new(py, ManifestView::from(&plugin.manifest))?,
                plugin_instance: plugin.instance.as_py().clone_ref(py),
                plugin_dir: plugin.plugin_dir.clone(),
                config_path: plugin.config_path.clone(),
                zip_path: plugin.zip_path.clone(),
                status: PluginStatus::Loaded.to_string(),
                error: None,
            },
        )
    }
}

#[pymethods]
impl PluginData {
    fn __repr__(&self) -> String {
        let manifest = self.plugin_manifest.get();
        format!(
            "PluginData(name={:?}, version={:?}, status={:?}, plugin_dir={:?})",
            manifest.name,
            manifest.version,
            self.status,
            self.plugin_dir.display().to_string()
        )
    }
}

/// One row of `plugins_status()`: `PluginInfo`'s one serialised shape, the same as a
/// row of `racetrack-plugin list --json`.
pub(crate) fn status_dict<'py>(py: Python<'py>, info: &PluginInfo) -> PyResult<Bound<'py, PyDict>> {
    Ok(pythonize::pythonize(py, info)?.cast_into::<PyDict>()?)
}
