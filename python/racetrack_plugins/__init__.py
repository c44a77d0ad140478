"""Racetrack's plugin engine, implemented in Rust.

A drop-in for ``racetrack_commons.plugin.engine.PluginEngine``::

    from racetrack_plugins import PluginCore, PluginEngine

    engine = PluginEngine()  # $RACETRACK_PLUGINS_DIR, else ./plugins
    job_types = engine.invoke_plugin_hook(PluginCore.fatman_job_types, "registry/ns")
"""

from __future__ import annotations

# errors first: the extension module looks the exception classes up here.
from .errors import (
    PluginError,
    PluginHookError,
    PluginInstallError,
    PluginNotFoundError,
)
from ._native import (
    PluginData,
    PluginEngine,
    PluginManifest,
    __version__,
    bundle_plugin,
    run_cli,
)
from .core import FatmanDto, Manifest, PluginCore

__all__ = [
    "FatmanDto",
    "Manifest",
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
    "run_cli",
]
