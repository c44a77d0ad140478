"""Exceptions raised by the plugin engine.

They are plain Python classes; the Rust extension imports them from here, so
``except racetrack_plugins.PluginError`` catches everything the engine raises
about plugins.

When Racetrack's ``racetrack_client`` is importable, they also derive from the
classes Racetrack's own engine raises, so Racetrack's services catch them unchanged:
``PluginNotFoundError`` is an ``EntityNotFound``, ``PluginHookError`` a
``ContextError``, ``PluginAlreadyExistsError`` an ``AlreadyExists``. Without it those
bases are placeholders; nothing here requires Racetrack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Optional

__all__ = [
    "PluginAlreadyExistsError",
    "PluginError",
    "PluginHookError",
    "PluginInstallError",
    "PluginNotFoundError",
    "RACETRACK_ERRORS",
]


def _racetrack_class(module: str, name: str) -> Optional[type]:
    try:
        cls = getattr(importlib.import_module(module), name)
    except Exception:  # not installed, or a Racetrack that moved it: our types only
        return None
    return cls if isinstance(cls, type) and issubclass(cls, Exception) else None


class _NoRacetrackBase(Exception):
    """Stands in for a Racetrack exception class when ``racetrack_client`` is absent."""


if TYPE_CHECKING:
    _EntityNotFound = _NoRacetrackBase
    _AlreadyExists = _NoRacetrackBase
    _ContextError = _NoRacetrackBase
else:
    _EntityNotFound = (
        _racetrack_class("racetrack_client.log.errors", "EntityNotFound") or _NoRacetrackBase
    )
    _AlreadyExists = (
        _racetrack_class("racetrack_client.log.errors", "AlreadyExists") or _NoRacetrackBase
    )
    _ContextError = (
        _racetrack_class("racetrack_client.log.context_error", "ContextError")
        or _NoRacetrackBase
    )

#: Whether the classes below also derive from Racetrack's.
RACETRACK_ERRORS: bool = _EntityNotFound is not _NoRacetrackBase


class PluginError(Exception):
    """Base class of every error the plugin engine raises."""


class PluginHookError(PluginError, _ContextError):
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
        # Not ContextError.__init__: it drops the message from args (pickling, repr).
        Exception.__init__(self, message)
        #: Racetrack's ContextError attribute: what was being done.
        self.context_message = message
        self.plugin = plugin
        self.version = version
        self.hook = hook
        self.traceback_text = traceback_text

    def __str__(self) -> str:
        # The message already names the cause; ContextError's would repeat it.
        return self.context_message


class HookTimeout(PluginHookError):
    """A hook did not return within the call's ``timeout``; the call moved on.

    The hook was interrupted where Python allows (between bytecodes); one blocked in
    C code (``time.sleep``, a socket read) runs on in its thread until that returns.
    """

    timeout: float

    def __init__(
        self,
        message: str,
        *,
        plugin: str = "",
        version: str = "",
        hook: str = "",
        timeout: float = 0.0,
    ) -> None:
        super().__init__(message, plugin=plugin, version=version, hook=hook)
        self.timeout = timeout


class PluginInstallError(PluginError):
    """A plugin bundle could not be installed (not a zip, bad manifest, failed to
    load, requirements failed). Nothing was changed."""


class PluginNotFoundError(PluginError, LookupError, _EntityNotFound):
    """No (loaded or installed) plugin with that name and version."""


class PluginAlreadyExistsError(PluginInstallError, _AlreadyExists):
    """An upload would add a second infrastructure plugin of one name (Racetrack's
    rule); upload with ``replace=True`` to replace it. Nothing was changed."""
