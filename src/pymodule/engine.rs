//! `PluginEngine` for Python hosts: the Rust engine behind Racetrack's Python API.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use super::data::{status_dict, PluginData};
use super::errors::{engine_error, hook_error, new_error, Kind};
use super::logging::with_python_logging;
use crate::deps::Installer;
use crate::engine::{
    CallOptions, HookError, LoadedPlugin, PluginEngine, DEFAULT_PLUGINS_DIR,
    DEFAULT_WATCH_INTERVAL, PLUGINS_DIR_ENV,
};
use crate::python::InFlight;
use crate::python::{HookArgs, ManifestView};

/// Racetrack's plugin engine: loads the plugin zips of a directory and calls their
/// hooks by priority. `racetrack_plugins.PluginEngine` subclasses it in Python with
/// Racetrack's own API; the methods it inherits stay native calls.
#[pyclass(name = "NativeEngine", module = "racetrack_plugins", frozen, subclass)]
pub struct PyPluginEngine {
    engine: PluginEngine,
}

/// A hook given as its name or as a function (`PluginCore.fatman_job_types`).
fn hook_name(hook: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(name) = hook.cast::<PyString>() {
        return Ok(name.to_str()?.to_owned());
    }
    match hook.getattr_opt("__name__")? {
        Some(name) => {
            let name = name.extract::<String>()?;
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(PyTypeError::new_err(format!(
                    "hook {name:?} is not a method name; pass the hook's name or a method such as PluginCore.fatman_job_types"
                )));
            }
            Ok(name)
        }
        None => Err(PyTypeError::new_err(format!(
            "hook must be a hook name or a function, not {}",
            hook.get_type().name()?
        ))),
    }
}

fn load_timeout(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    seconds
        .map(|s| match Duration::try_from_secs_f64(s) {
            Ok(d) if !d.is_zero() => Ok(d),
            _ => Err(PyValueError::new_err(format!(
                "load_timeout must be a positive number of seconds or None, not {s}"
            ))),
        })
        .transpose()
}

fn watch_interval(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    seconds
        .map(|s| {
            Duration::try_from_secs_f64(s).map_err(|_| {
                PyValueError::new_err(format!(
                    "watch_interval must be a non-negative number of seconds or None, not {s}"
                ))
            })
        })
        .transpose()
}

fn not_found(py: Python<'_>, name: &str, version: Option<&str>) -> PyErr {
    new_error(
        py,
        Kind::NotFound,
        match version {
            Some(v) => format!("no loaded plugin named {name} with version {v}"),
            None => format!("no loaded plugin named {name}"),
        },
    )
}

/// `timeout=` of the hook calls: seconds, positive and finite, or `None`.
fn timeout_of(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    let Some(seconds) = seconds else {
        return Ok(None);
    };
    if seconds <= 0.0 {
        return Err(PyValueError::new_err(format!(
            "timeout must be more than 0 seconds, not {seconds}"
        )));
    }
    Duration::try_from_secs_f64(seconds)
        .map(Some)
        .map_err(|e| PyValueError::new_err(format!("timeout {seconds}: {e}")))
}

impl PyPluginEngine {
    /// Runs an engine operation that may load plugins, without the GIL.
    fn run<T: Send>(&self, py: Python<'_>, op: impl FnOnce(&PluginEngine) -> T + Send) -> T {
        let engine = &self.engine;
        with_python_logging(py, || py.detach(|| op(engine)))
    }

    /// Calls `hook` with the caller's own arguments, handing each result (with its
    /// plugin) to `each`; the first failure becomes the Python exception.
    fn call_hook<'py>(
        &self,
        py: Python<'py>,
        hook: &str,
        only_plugin: Option<(&str, Option<&str>)>,
        (args, kwargs): (&Bound<'py, PyTuple>, Option<&Bound<'py, PyDict>>),
        timeout: Option<f64>,
        mut each: impl FnMut(&std::sync::Arc<LoadedPlugin>, Bound<'py, PyAny>) -> PyResult<()>,
    ) -> PyResult<()> {
        let options = CallOptions::default().timeout(timeout_of(timeout)?);
        let engine = &self.engine;
        let args = HookArgs::from_python(args, kwargs);
        let mut first_error: Option<PyErr> = None;
        let called = with_python_logging(py, || {
            // The change check may reload, which takes the load lock: not with the GIL.
            // Released only when a check is due (once per watch interval), as handing
            // the GIL over costs more than a small hook call.
            if engine.changes_due() {
                py.detach(|| engine.poll_changes());
            }
            // Known to the host's exit while plugin code runs on this thread (or its
            // timed call's thread does): see `crate::python::stop_hooks_for_exit`.
            let Some(_in_flight) = InFlight::enter(options.timeout.is_none()) else {
                return Err(HookError::HostExiting {
                    hook: hook.to_string(),
                });
            };
            engine.invoke_each(hook, only_plugin, &args, options, |plugin, result| {
                if first_error.is_some() {
                    return;
                }
                let outcome = match result {
                    Ok(value) => each(plugin, value.into_py().into_bound(py)),
                    Err(e) => Err(hook_error(py, e)),
                };
                if let Err(e) = outcome {
                    first_error = Some(e);
                }
            })
        });
        match (called, first_error) {
            (Err(HookError::NoSuchPlugin { plugin, .. }), _) => Err(new_error(
                py,
                Kind::NotFound,
                format!("no loaded plugin named {plugin}"),
            )),
            (Err(e), _) => Err(hook_error(py, e)),
            (Ok(()), Some(e)) => Err(e),
            (Ok(()), None) => Ok(()),
        }
    }
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
