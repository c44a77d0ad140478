"""``PluginEngine``: Racetrack's ``racetrack_commons.plugin.engine.PluginEngine`` API
on top of the native engine.

Hook calls (``invoke_plugin_hook``, ``invoke_one_plugin_hook``,
``invoke_plugin_data_hook``) are inherited from the Rust class and stay native calls;
what this module adds is Racetrack's bookkeeping around them: ``on_reload``,
``plugins_path``, ``last_change_timestamp``, ``PluginData`` records with Racetrack's
``PluginManifest`` when ``racetrack_client`` is installed, and Racetrack's upload rule
(one infrastructure plugin per name unless ``replace``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from ._native import NativeEngine, read_bundle_manifest
from ._native import PluginManifest as NativeManifest
from .errors import PluginAlreadyExistsError, PluginNotFoundError

__all__ = [
    "PluginData",
    "PluginEngine",
    "PluginManifest",
    "host_component",
    "to_racetrack_manifest",
]

logger = logging.getLogger("racetrack_plugins")

_StrPath = Union[str, "os.PathLike[str]"]
_Hook = Union[str, Callable[..., Any]]
OnReload = Callable[["PluginEngine"], None]

LAST_CHANGE_FILE = "last-change.txt"


def _racetrack_manifest_class() -> Optional[Any]:
    try:
        from racetrack_client.plugin.plugin_manifest import PluginManifest as Model
    except Exception:  # no Racetrack installed: our own manifest type
        return None
    return Model


_RACETRACK_MANIFEST = _racetrack_manifest_class()

if TYPE_CHECKING:
    PluginManifest = NativeManifest
else:
    #: The manifest type the engine returns: Racetrack's when it is installed.
    PluginManifest = _RACETRACK_MANIFEST or NativeManifest


def to_racetrack_manifest(manifest: Any) -> Any:
    """The manifest as Racetrack's pydantic ``PluginManifest`` when
    ``racetrack_client`` is installed (what lifecycle's endpoints return), else as is."""
    if _RACETRACK_MANIFEST is None or isinstance(manifest, _RACETRACK_MANIFEST):
        return manifest
    return _RACETRACK_MANIFEST.model_validate(manifest.dict())


def host_component() -> Optional[str]:
    """The Racetrack component this process is, detected as Racetrack does: from the
    host's modules already imported. ``None`` (load every plugin) when neither."""
    if "lifecycle" in sys.modules:
        return "lifecycle"
    if "image_builder" in sys.modules:
        return "image-builder"
    return None


@dataclass(eq=False)
class PluginData:
    """A loaded plugin: the fields of Racetrack's ``PluginData``, plus its status."""

    zip_path: Path
    #: Racetrack's ``PluginManifest`` when ``racetrack_client`` is installed.
    plugin_manifest: Any
    plugin_instance: Any
    config_path: Path
    plugin_dir: Path
    status: str = "loaded"
    error: Optional[str] = None


class PluginEngine(NativeEngine):
    """Racetrack's plugin engine, with Racetrack's constructor and API.

    ``PluginEngine(plugins_dir=None, on_reload=None)``: ``plugins_dir`` defaults to
    ``$RACETRACK_PLUGINS_DIR``, else ``./plugins``. ``on_reload(engine)`` runs after
    the first load and after every reload, whoever caused it (an upload here, or
    another process changing the shared directory, noticed within ``watch_interval``
    seconds by a watcher thread). ``component`` defaults to the host's, detected as
    Racetrack does (``lifecycle`` or ``image_builder`` imported).
    """

    on_reload: Optional[OnReload]

    def __new__(
        cls,
        plugins_dir: Optional[_StrPath] = None,
        on_reload: Optional[OnReload] = None,
        *,
        component: Optional[str] = None,
        installer: str = "auto",
        wheelhouse: Optional[_StrPath] = None,
        watch_interval: Optional[float] = 1.0,
        load_timeout: Optional[float] = None,
        allow_requirement_options: bool = False,
    ) -> "PluginEngine":
        return super().__new__(  # type: ignore[return-value]
            cls,
            plugins_dir,
            component=component if component is not None else host_component(),
            installer=installer,
            wheelhouse=wheelhouse,
            watch_interval=watch_interval,
            load_timeout=load_timeout,
            allow_requirement_options=allow_requirement_options,
        )

    def __init__(
        self,
        plugins_dir: Optional[_StrPath] = None,
        on_reload: Optional[OnReload] = None,
        *,
        component: Optional[str] = None,
        installer: str = "auto",
        wheelhouse: Optional[_StrPath] = None,
        watch_interval: Optional[float] = 1.0,
        load_timeout: Optional[float] = None,
        allow_requirement_options: bool = False,
    ) -> None:
        self.on_reload = on_reload
        self._reload_lock = threading.Lock()
        self._seen_generation = -1
        self._data_cache: Tuple[int, List[PluginData]] = (-1, [])
        # Like Racetrack: a failing callback after the first load is logged, not raised.
        try:
            self._after_change()
        except Exception:
            logger.exception("on_reload failed after loading plugins")
        if on_reload is not None and watch_interval is not None:
            _start_watcher(self, max(watch_interval, 0.01))

    def __repr__(self) -> str:
        return f"PluginEngine(plugins_dir={str(self.plugins_dir)!r})"

    # -- reloads --------------------------------------------------------------

    def _after_change(self) -> None:
        """Calls ``on_reload`` once per plugin set not seen yet."""
        with self._reload_lock:
            generation = self.generation
            if generation == self._seen_generation:
                return
            self._seen_generation = generation
        if self.on_reload is not None:
            self.on_reload(self)

    def reload(self) -> None:
        super().reload()
        self._after_change()

    # -- Racetrack's attributes -----------------------------------------------

    @property
    def plugins_path(self) -> Path:
        """The plugins directory (Racetrack's name for ``plugins_dir``)."""
        return self.plugins_dir

    @property
    def last_change_timestamp(self) -> int:
        """When the plugins directory last changed, in seconds since the epoch (0 when
        never). Reads ``last-change.txt``, as written by this engine (nanoseconds and
        the writer's pid) or by Racetrack's (seconds)."""
        try:
            text = (self.plugins_dir / LAST_CHANGE_FILE).read_text()
        except OSError:
            return 0
        fields = text.split()
        if not fields:
            return 0
        try:
            value = int(fields[0])
        except ValueError:
            return 0
        return value // 1_000_000_000 if len(fields) > 1 else value

    @property
    def plugins_data(self) -> List[PluginData]:  # type: ignore[override]
        """Loaded plugins, in call order. The records stay the same objects until the
        next reload."""
        # Reading the generation also checks for other processes' changes. Read before
        # the natives: a reload in between only makes the next call rebuild the
        # records, never keeps stale ones.
        generation = self.generation
        cached_generation, cached = self._data_cache
        if cached_generation == generation:
            return list(cached)
        records = [_record(n) for n in super().plugins_data]
        self._data_cache = (generation, records)
        return list(records)

    @property
    def plugin_manifests(self) -> List[Any]:
        """Manifests of the loaded plugins, in call order (Racetrack's
        ``PluginManifest`` when ``racetrack_client`` is installed)."""
        return [p.plugin_manifest for p in self.plugins_data]

    def _record_of(self, name: str, version: str) -> PluginData:
        for record in self.plugins_data:
            if record.plugin_manifest.name == name and record.plugin_manifest.version == version:
                return record
        raise PluginNotFoundError(f"no loaded plugin named {name} with version {version}")

    # -- finding --------------------------------------------------------------

    def find_plugin(self, name: str, version: Optional[str] = None) -> PluginData:  # type: ignore[override]
        """The loaded plugin ``name`` (of ``version``; else the newest by semantic
        version). Raises ``PluginNotFoundError`` (an ``EntityNotFound``)."""
        native = super().find_plugin(name, version)
        return self._record_of(native.plugin_manifest.name, native.plugin_manifest.version)

    def find_plugins(self, name: str, version: Optional[str] = None) -> Iterator[PluginData]:
        """Every loaded plugin ``name`` (of ``version``, when given), in call order."""
        for record in self.plugins_data:
            if record.plugin_manifest.name == name and (
                not version or record.plugin_manifest.version == version
            ):
                yield record

    def invoke_hook_with_origin(  # type: ignore[override]
        self, hook: _Hook, /, *args: Any, timeout: Optional[float] = None, **kwargs: Any
    ) -> List[Tuple[PluginData, Any]]:
        """Like ``invoke_plugin_hook``, each result paired with its plugin's record."""
        results = super().invoke_hook_with_origin(hook, *args, timeout=timeout, **kwargs)
        records: Dict[Tuple[str, str], PluginData] = {
            (r.plugin_manifest.name, r.plugin_manifest.version): r for r in self.plugins_data
        }
        paired = []
        for native, value in results:
            key = (native.plugin_manifest.name, native.plugin_manifest.version)
            record = records.get(key)
            paired.append((record if record is not None else _record(native), value))
        return paired

    # -- changing plugins -----------------------------------------------------

    def upload_plugin(
        self,
        filename: str,
        file_bytes: Union[bytes, bytearray, memoryview],
        replace: bool = False,
    ) -> Any:
        """Installs a plugin bundle; returns its manifest. A broken bundle raises
        ``PluginInstallError`` and changes nothing. As in Racetrack, a second plugin of
        category ``infrastructure`` with the same name is refused
        (``PluginAlreadyExistsError``, an ``AlreadyExists``) unless ``replace``."""
        data = bytes(file_bytes)
        if filename.lower().endswith(".zip"):
            manifest = read_bundle_manifest(filename, data)
            if manifest.category == "infrastructure" and not replace:
                for row in self.plugins_status():
                    if row["name"] == manifest.name and row["category"] == "infrastructure":
                        raise PluginAlreadyExistsError(
                            f"{filename}: infrastructure plugin {manifest.name} is already "
                            f"installed (version {row['version']}); there can be only one "
                            "infrastructure plugin of a name: upload with replace to replace it"
                        )
        installed = super().upload_plugin(filename, data, replace)
        self._after_change()
        return to_racetrack_manifest(installed)

    def delete_plugin_by_version(self, name: str, version: str) -> None:
        super().delete_plugin_by_version(name, version)
        self._after_change()

    def delete_plugin_by_name(self, name: str) -> None:
        super().delete_plugin_by_name(name)
        self._after_change()

    def delete_all_plugins(self) -> None:
        """Uninstalls every plugin, loaded or not (their configs are kept)."""
        for name in sorted({row["name"] for row in self.plugins_status()}):
            try:
                super().delete_plugin_by_name(name)
            except PluginNotFoundError:
                pass  # deleted meanwhile by another process
        self._after_change()

    def write_plugin_config(self, name: str, version: str, config: str) -> None:
        """Replaces a plugin's config file; plugins reload (they read it at start)."""
        super().write_plugin_config(name, version, config)
        self._after_change()

    def rebuild_venv(self, name: str, version: Optional[str] = None) -> List[Dict[str, Any]]:
        rows = super().rebuild_venv(name, version)
        self._after_change()
        return rows


def _record(native: Any) -> PluginData:
    return PluginData(
        zip_path=native.zip_path,
        plugin_manifest=to_racetrack_manifest(native.plugin_manifest),
        plugin_instance=native.plugin_instance,
        config_path=native.config_path,
        plugin_dir=native.plugin_dir,
        status=native.status,
        error=native.error,
    )


def _start_watcher(engine: PluginEngine, interval: float) -> None:
    """Racetrack calls ``on_reload`` when another process changes the directory; this
    thread looks for such changes (and for reloads a hook call already did) every
    ``interval`` seconds. It holds the engine weakly and ends with it."""
    ref = weakref.ref(engine)

    def watch() -> None:
        while True:
            time.sleep(interval)
            current = ref()
            if current is None:
                return
            try:
                current.reload_if_changed()
                current._after_change()
            except Exception:
                logger.exception("on_reload failed after plugins changed")
            del current

    threading.Thread(target=watch, name="racetrack-plugins-watch", daemon=True).start()
