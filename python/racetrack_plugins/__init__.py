"""Racetrack's plugin engine, implemented in Rust.

``PluginManifest`` is Racetrack's pydantic model when ``racetrack_client`` is
installed (the engine then returns and gives plugins Racetrack's manifests), else the
engine's own read-only class.

A drop-in for ``racetrack_commons.plugin.engine.PluginEngine``::

    from racetrack_plugins import PluginCore, PluginEngine

    engine = PluginEngine()  # $RACETRACK_PLUGINS_DIR, else ./plugins
    job_types = engine.invoke_plugin_hook(PluginCore.fatman_job_types, "registry/ns")
"""

from __future__ import annotations

# errors first: the extension module looks the exception classes up here.
from .errors import (
    HookTimeout,
    PluginAlreadyExistsError,
    PluginError,
    PluginHookError,
    PluginInstallError,
    PluginNotFoundError,
)
from ._native import (
    NativeEngine,
    __version__,
    bundle_plugin,
    read_bundle_manifest,
    run_cli,
)
from .core import FatmanDto, Manifest, PluginCore
from .engine import PluginData, PluginEngine, PluginManifest, host_component

__all__ = [
    "FatmanDto",
    "HookTimeout",
    "Manifest",
    "NativeEngine",
    "PluginAlreadyExistsError",
    "PluginCore",
    "PluginData",
    "PluginEngine",
    "PluginError",
    "PluginHookError",
    "PluginInstallError",
    "PluginManifest",
    "PluginNotFoundError",
    "__version__",
    "bundle_plugin",
    "host_component",
    "read_bundle_manifest",
    "run_cli",
]
