//! `PluginEngine` for Python hosts: the Rust engine behind Racetrack's Python API.
//!
//! Argument conversion is `engine/args.rs`'s, running engine work and hook calls
//! `engine/calls.rs`'s; this module holds the class and its Python methods.

mod args;
mod calls;

use std::path::PathBuf;
use std::str::FromStr;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use super::data::{status_dict, PluginData};
use super::errors::{engine_error, Kind};
use super::logging::with_python_logging;
use crate::deps::Installer;
use crate::engine::{PluginEngine, DEFAULT_PLUGINS_DIR, DEFAULT_WATCH_INTERVAL, PLUGINS_DIR_ENV};
use crate::python::ManifestView;
use args::{hook_name, load_timeout, not_found, watch_interval};

/// Racetrack's plugin engine: loads the plugin zips of a directory and calls their
/// hooks by priority. `racetrack_plugins.PluginEngine` subclasses it in Python with
/// Racetrack's own API; the methods it inherits stay native calls.
#[pyclass(name = "NativeEngine", module = "racetrack_plugins", frozen, subclass)]
pub struct PyPluginEngine {
    engine: PluginEngine,
}

#[pymethods]
impl PyPluginEngine {
    /// Opens `plugins_dir` (default `$RACETRACK_PLUGINS_DIR`, else `./plugins`) and
    /// loads every plugin in it.
    #[new]
    #[pyo3(signature = (plugins_dir=None, *, component=None, installer="auto", wheelhouse=None, watch_interval=DEFAULT_WATCH_INTERVAL.as_secs_f64(), load_timeout=None, allow_requirement_options=false))]
    #[allow(clippy::too_many_arguments)] // Python keywords, one per option
    fn new(
        py: Python<'_>,
        plugins_dir: Option<PathBuf>,
        component: Option<String>,
        installer: &str,
        wheelhouse: Option<PathBuf>,
        watch_interval: Option<f64>,
        load_timeout: Option<f64>,
        allow_requirement_options: bool,
    ) -> PyResult<Self> {
        let plugins_dir = plugins_dir
            .or_else(|| std::env::var_os(PLUGINS_DIR_ENV).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PLUGINS_DIR));
        let installer =
            Installer::from_str(installer).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let mut builder = PluginEngine::builder(plugins_dir)
            .installer(installer)
            .watch_interval(self::watch_interval(watch_interval)?)
            .load_timeout(self::load_timeout(load_timeout)?);
        if let Some(component) = component {
            builder = builder.component(component);
        }
        if let Some(wheelhouse) = wheelhouse {
            builder = builder.offline_wheelhouse(wheelhouse);
        }
        if allow_requirement_options {
            let mut deps = builder.current_options().deps.clone();
            deps.allow_requirement_options = true;
            builder = builder.deps_options(deps);
        }
        let engine = with_python_logging(py, || py.detach(|| builder.build()))
            .map_err(|e| engine_error(py, Kind::Plugin, e))?;
        Ok(Self { engine })
    }

    fn __repr__(&self) -> String {
        format!(
            "PluginEngine(plugins_dir={:?})",
            self.engine.plugins_dir().display().to_string()
        )
    }

    /// The plugins directory.
    #[getter]
    fn plugins_dir(&self) -> PathBuf {
        self.engine.plugins_dir().to_path_buf()
    }

    /// The host component plugins are loaded for (`None`: every plugin).
    #[getter]
    fn component(&self) -> Option<String> {
        self.engine.options().component.clone()
    }

    /// Calls `hook` on every loaded plugin implementing it, in call order, and returns
    /// their results. `hook` is the hook's name or a function such as
    /// `PluginCore.fatman_job_types`. Keyword arguments an implementation does not
    /// declare are not passed to it. The first plugin that raises stops the call with
    /// `PluginHookError`.
    #[pyo3(signature = (hook, /, *args, timeout=None, **kwargs))]
    fn invoke_plugin_hook<'py>(
        &self,
        py: Python<'py>,
        hook: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        timeout: Option<f64>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let hook = hook_name(hook)?;
        let list = PyList::empty(py);
        self.call_hook(py, &hook, None, (args, kwargs), timeout, |_, value| {
            list.append(value)
        })?;
        Ok(list)
    }

    /// Calls `hook` on the loaded plugin `plugin_name` only (its newest version, as
    /// `find_plugin`); its result, or `None` when it does not implement the hook.
    /// Raises `PluginNotFoundError` when no such plugin is loaded.
    #[pyo3(signature = (plugin_name, hook, /, *args, timeout=None, **kwargs))]
    fn invoke_one_plugin_hook<'py>(
        &self,
        py: Python<'py>,
        plugin_name: &str,
        hook: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        timeout: Option<f64>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let hook = hook_name(hook)?;
        let mut found = py.None().into_bound(py);
        self.call_hook(
            py,
            &hook,
            Some((plugin_name, None)),
            (args, kwargs),
            timeout,
            |_, value| {
                found = value;
                Ok(())
            },
        )?;
        Ok(found)
    }

    /// Calls `hook` on the plugin `plugin_data` describes (a `PluginData` of this
    /// engine, e.g. from `invoke_hook_with_origin`); its result, or `None` when it does
    /// not implement the hook. Raises `PluginNotFoundError` when it is no longer loaded.
    #[pyo3(signature = (plugin_data, hook, /, *args, timeout=None, **kwargs))]
    fn invoke_plugin_data_hook<'py>(
        &self,
        py: Python<'py>,
        plugin_data: &Bound<'py, PyAny>,
        hook: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        timeout: Option<f64>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let manifest = plugin_data.getattr("plugin_manifest")?;
        let name: String = manifest.getattr("name")?.extract()?;
        let version: String = manifest.getattr("version")?.extract()?;
        let hook = hook_name(hook)?;
        let mut found = py.None().into_bound(py);
        self.call_hook(
            py,
            &hook,
            Some((&name, Some(&version))),
            (args, kwargs),
            timeout,
            |_, value| {
                found = value;
                Ok(())
            },
        )?;
        Ok(found)
    }

    /// How many plugin sets have been loaded so far (it changes on every reload),
    /// after the periodic check for changes by other processes: a host caching what
    /// it derives from the plugins keys it by this.
    #[getter]
    fn generation(&self, py: Python<'_>) -> u64 {
        let engine = &self.engine;
        with_python_logging(py, || py.detach(|| engine.poll_changes()));
        engine.generation()
    }

    /// Reloads when another process changed the plugins directory; whether it did.
    fn reload_if_changed(&self, py: Python<'_>) -> bool {
        self.run(py, |e| e.reload_if_changed())
    }
    /// Like `invoke_plugin_hook`, but pairs every result with the `PluginData` of the
    /// plugin that returned it.
    #[pyo3(signature = (hook, /, *args, timeout=None, **kwargs))]
    fn invoke_hook_with_origin<'py>(
        &self,
        py: Python<'py>,
        hook: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        timeout: Option<f64>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let hook = hook_name(hook)?;
        let list = PyList::empty(py);
        self.call_hook(py, &hook, None, (args, kwargs), timeout, |plugin, value| {
            let data = PluginData::of(py, plugin)?;
            list.append(PyTuple::new(py, [data.into_bound(py).into_any(), value])?)
        })?;
        Ok(list)
    }

    /// The loaded plugin `name` (of `version`, when given; else the newest in
    /// Racetrack's semantic-version order). Raises `PluginNotFoundError`.
    #[pyo3(signature = (name, version=None))]
    fn find_plugin(
        &self,
        py: Python<'_>,
        name: &str,
        version: Option<&str>,
    ) -> PyResult<Py<PluginData>> {
        match self.run(py, |e| e.find_plugin(name, version)) {
            Some(plugin) => PluginData::of(py, &plugin),
            None => Err(not_found(py, name, version)),
        }
    }

    /// Loaded plugins, in call order.
    #[getter]
    fn plugins_data(&self, py: Python<'_>) -> PyResult<Vec<Py<PluginData>>> {
        let plugins = self.run(py, |e| e.loaded_plugins());
        plugins.iter().map(|p| PluginData::of(py, p)).collect()
    }

    /// Manifests of the loaded plugins, in call order.
    #[getter]
    fn plugin_manifests(&self, py: Python<'_>) -> PyResult<Vec<Py<ManifestView>>> {
        let plugins = self.run(py, |e| e.loaded_plugins());
        plugins
            .iter()
            .map(|p| Py::new(py, ManifestView::from(&p.manifest)))
            .collect()
    }

    /// Every installed plugin with its status (`loaded`, `failed` or `skipped`) and
    /// error, in call order: the rows of `racetrack-plugin list --json`.
    fn plugins_status<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let plugins = self.run(py, |e| e.plugins());
        plugins.iter().map(|i| status_dict(py, i)).collect()
    }

    /// Same as `plugins_status()`.
    fn list_plugins<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.plugins_status(py)
    }

    /// Installs a plugin bundle (`filename` must end in `.zip`). It is validated and
    /// loaded before it becomes active, so a broken upload changes nothing; it raises
    /// `PluginInstallError`. With `replace`, other versions of the plugin are removed.
    #[pyo3(signature = (filename, data, replace=false))]
    fn upload_plugin(
        &self,
        py: Python<'_>,
        filename: &str,
        data: &Bound<'_, PyAny>,
        replace: bool,
    ) -> PyResult<ManifestView> {
        // bytes as is; bytearray, memoryview and other buffers through bytes().
        let bytes: Vec<u8> = match data.cast::<PyBytes>() {
            Ok(b) => b.as_bytes().to_vec(),
            Err(_) => py
                .import("builtins")?
                .getattr("bytes")?
                .call1((data,))?
                .cast::<PyBytes>()?
                .as_bytes()
                .to_vec(),
        };
        self.run(py, |e| e.upload_plugin(filename, &bytes, replace))
            .map(|m| ManifestView::from(&m))
            .map_err(|e| engine_error(py, Kind::Install, e))
    }

    /// Uninstalls one version of a plugin (its config is kept).
    fn delete_plugin_by_version(&self, py: Python<'_>, name: &str, version: &str) -> PyResult<()> {
        self.run(py, |e| e.delete_plugin(name, Some(version), false))
            .map(drop)
            .map_err(|e| engine_error(py, Kind::Plugin, e))
    }

    /// Uninstalls every version of a plugin (configs are kept).
    fn delete_plugin_by_name(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        self.run(py, |e| e.delete_plugin(name, None, false))
            .map(drop)
            .map_err(|e| engine_error(py, Kind::Plugin, e))
    }

    /// The text of a plugin's config file (empty when it has none yet).
    fn read_plugin_config(&self, py: Python<'_>, name: &str, version: &str) -> PyResult<String> {
        self.run(py, |e| e.read_plugin_config(name, version))
            .map_err(|e| engine_error(py, Kind::Plugin, e))
    }

    /// Replaces a plugin's config file and reloads plugins (they read it at start-up).
    fn write_plugin_config(
        &self,
        py: Python<'_>,
        name: &str,
        version: &str,
        text: &str,
    ) -> PyResult<()> {
        self.run(py, |e| e.write_plugin_config(name, version, text))
            .map_err(|e| engine_error(py, Kind::Plugin, e))
    }

    /// Re-reads the plugins directory and loads every plugin afresh.
    fn reload(&self, py: Python<'_>) {
        self.run(py, |e| e.reload());
    }

    /// Throws away a plugin's venv (every version, or `version`) and reloads, so its
    /// requirements are installed anew. Returns the status rows of those plugins.
    #[pyo3(signature = (name, version=None))]
    fn rebuild_venv<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        version: Option<&str>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let infos = self
            .run(py, |e| e.rebuild_venv(name, version))
            .map_err(|e| engine_error(py, Kind::Install, e))?;
        infos.iter().map(|i| status_dict(py, i)).collect()
    }
}
