"""Exceptions raised by the plugin engine.

They are plain Python classes; the Rust extension imports them from here, so
``except racetrack_plugins.PluginError`` catches everything the engine raises
about plugins.
"""

from __future__ import annotations

__all__ = [
    "PluginError",
    "PluginHookError",
    "PluginInstallError",
    "PluginNotFoundError",
]


class PluginError(Exception):
    """Base class of every error the plugin engine raises."""


class PluginHookError(PluginError):
    """A plugin's hook raised.

    The plugin's own exception is chained as ``__cause__`` (``raise ... from``), so
    ``traceback.format_exception`` shows where in the plugin it happened;
    ``traceback_text`` holds that plugin traceback as text too.
    """

    plugin: str
    version: str
    hook: str
    traceback_text: str

    def __init__(
        self,
        message: str,
        *,
        plugin: str = "",
        version: str = "",
        hook: str = "",
        traceback_text: str = "",
    ) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.version = version
        self.hook = hook
        self.traceback_text = traceback_text


class PluginInstallError(PluginError):
    """A plugin bundle could not be installed (not a zip, bad manifest, failed to
    load, requirements failed). Nothing was changed."""


class PluginNotFoundError(PluginError, LookupError):
    """No (loaded or installed) plugin with that name and version."""
