"""Loading plugins into this interpreter and letting go of them: ``load_plugin`` runs
a plugin's ``plugin.py`` and instantiates its ``Plugin``, ``unload_plugin`` and
``forget_under`` undo what loads left in ``sys.modules`` and ``sys.path``; and
``interpreter_info``, the interpreter plugins' venvs must be built for.

Owns the bookkeeping of which loaded plugin uses which venv. Private imports are
``_importer``'s, venv warnings ``_shadowing``'s. It may not call hooks, nor import
anything beyond the standard library and the runtime's modules that Rust hosts run
before it (``src/python/support.rs``).
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import site
import sys
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

# Found in sys.modules, where the engine registers the runtime's modules before it runs
# this one: a Rust host has no package on disk to import them from.
from racetrack_plugins._importer import PrivateImporter, local_top_names
from racetrack_plugins._shadowing import (
    StrPath,
    already_imported_elsewhere,
    is_under,
    module_files,
    shadowed_by_host,
)


class PluginLoadError(Exception):
    """A plugin's code imported but does not satisfy the plugin contract."""


# site dir -> module names of the loaded plugins using it; a dir leaves sys.path when
# the last of them is unloaded.
_SITE_DIR_USERS: Dict[str, Set[str]] = {}


def load_plugin(
    module_name: str,
    plugin_dir: StrPath,
    manifest: object,
    config_path: StrPath,
    site_dirs: Iterable[StrPath],
) -> Tuple[object, List[str]]:
    """Imports ``plugin.py`` of ``plugin_dir`` and instantiates its ``Plugin``.

    Returns ``(instance, warnings)``. Sibling modules are private to the plugin
    (see ``PrivateImporter``); ``plugin_dir`` is on ``sys.path`` only while it loads,
    for code importing dynamically, and what that imports is removed from
    ``sys.modules`` afterwards. ``sys.path`` while it loads is the host's (standard
    library, host packages), then the venv's site dirs (unless already there, e.g. on
    a reload), then ``plugin_dir``; the site dirs stay appended afterwards, so hooks
    can import lazily. Warnings name venv packages that lose to a module imported
    earlier or to the standard library.
    """
    # Already absolute and resolved: the engine canonicalises the plugins directory.
    plugin_dir = os.fspath(plugin_dir)
    plugin_py = os.path.join(plugin_dir, "plugin.py")
    if not os.path.isfile(plugin_py):
        raise PluginLoadError("the bundle has no plugin.py at its root")

    # The folder may have been replaced by a re-extraction since the last import; only
    # its own cached finder can be stale (invalidate_caches() would touch them all).
    sys.path_importer_cache.pop(plugin_dir, None)
    saved_path = list(sys.path)
    site_list = [os.path.realpath(os.fspath(d)) for d in site_dirs]
    stale: List[str] = []
    # Resolving every sys.path entry costs dozens of lstat calls per plugin: only a
    # plugin with a venv has packages that can lose to others.
    if site_list:
        # Other plugins' venvs on sys.path are not the host's: conflicts between plugins
        # are the engine's warnings (compared as PEP 440 versions).
        host_path = [p for p in sys.path if os.path.realpath(p) not in _SITE_DIR_USERS]
        stale = already_imported_elsewhere(site_list) + shadowed_by_host(site_list, host_path)
    local_names = local_top_names(plugin_dir)
    # Without sibling .py files or folders nothing local can be imported: no diff.
    before = set(sys.modules) if local_names else None
    added: List[str] = []
    # Like Racetrack, the plugin's folder is the working directory while it imports and
    # initialises (plugins open `templates/...` relative to it). The cwd is process-wide:
    # this runs under the engine's load lock, and the previous one comes back even when
    # the plugin changed it itself.
    saved_cwd = _getcwd()
    try:
        os.chdir(plugin_dir)
        for site_dir in site_list:
            site.addsitedir(site_dir)
        added = [p for p in sys.path if p not in saved_path]
        # The standard library and the host's packages come first, the plugin's venv
        # after them and its own folder last: a backport in the venv (`dataclasses`) or
        # a sibling `json.py` must not replace a module for everyone, nor be bound into
        # a library the plugin imports first (the library resolves its imports as usual).
        sys.path[:] = saved_path + added + [plugin_dir]

        spec = importlib.util.spec_from_file_location(module_name, plugin_py)
        if spec is None or spec.loader is None:
            raise PluginLoadError(f"cannot import {plugin_py}")
        module = importlib.util.module_from_spec(spec)
        if local_names:
            module.__dict__["__builtins__"] = PrivateImporter(plugin_dir, local_names).builtins
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
            cls = getattr(module, "Plugin", None)
            if cls is None:
                raise PluginLoadError("plugin.py defines no class `Plugin`")
            if not isinstance(cls, type):
                raise PluginLoadError(
                    f"`Plugin` in plugin.py is a {type(cls).__name__}, not a class"
                )
            # On the class, before instantiation: plugins read them in __init__.
            plugin_cls: Any = cls
            plugin_cls.plugin_manifest = _host_manifest(manifest)
            plugin_cls.plugin_dir = pathlib.Path(plugin_dir)
            plugin_cls.config_path = pathlib.Path(os.fspath(config_path))
            instance: object = plugin_cls()
        except BaseException:
            sys.modules.pop(module_name, None)
            raise
        for site_dir in site_list:
            _SITE_DIR_USERS.setdefault(site_dir, set()).add(module_name)
        return instance, stale
    finally:
        if saved_cwd is not None:
            os.chdir(saved_cwd)
        for name in set(sys.modules) - before if before is not None else ():
            if name == module_name:
                continue
            leftover = sys.modules.get(name)
            if any(is_under(f, plugin_dir) for f in module_files(leftover)):
                del sys.modules[name]
        # Site dirs (and what their .pth files added) stay after a successful load; a
        # site dir leaves again with the last plugin using it (unload_module), paths its
        # .pth files added stay for the life of the process.
        in_use = any(d in _SITE_DIR_USERS for d in site_list)
        kept = [p for p in added if in_use and p not in saved_path and p != plugin_dir]
        sys.path[:] = saved_path + kept


#: The host was searched for ``racetrack_client`` and has none: later loads do not
#: search again (each search walks ``sys.path``, ~50 µs per plugin), unless the host
#: imports it meanwhile.
_NO_HOST_CLIENT = False


def _host_manifest(manifest: Any) -> Any:
    """Racetrack's pydantic ``PluginManifest`` when the host has ``racetrack_client``
    (what plugins get under Racetrack's own engine), else the engine's manifest."""
    global _NO_HOST_CLIENT
    try:
        if "racetrack_client" not in sys.modules:
            # A failed import costs twice this search (module locks, the exception):
            # the import below would fail at the same top-level lookup.
            if _NO_HOST_CLIENT or importlib.util.find_spec("racetrack_client") is None:
                _NO_HOST_CLIENT = True
                return manifest
        from racetrack_client.plugin.plugin_manifest import PluginManifest
    except Exception:
        return manifest
    try:
        return PluginManifest.model_validate(manifest.dict())
    except Exception:
        return manifest


def _getcwd() -> Optional[str]:
    """The working directory, or None when it no longer exists (nothing to restore)."""
    try:
        return os.getcwd()
    except OSError:
        return None


#: The method a plugin instance may define to hear that the engine lets go of it.
UNLOAD_METHOD = "on_unload"


def unload_plugin(module_name: str, instance: object) -> None:
    """Tells the instance it is being let go (``on_unload()``, when it has one), then
    forgets its module. The module is forgotten even when ``on_unload`` raises; the
    exception goes to the caller, which logs it."""
    try:
        notify = getattr(instance, UNLOAD_METHOD, None)
        if callable(notify):
            notify()
    finally:
        unload_module(module_name)


def unload_module(module_name: str) -> None:
    sys.modules.pop(module_name, None)
    for site_dir, users in list(_SITE_DIR_USERS.items()):
        users.discard(module_name)
        if not users:
            del _SITE_DIR_USERS[site_dir]
            while site_dir in sys.path:
                sys.path.remove(site_dir)


def forget_under(root: StrPath) -> None:
    """Forgets modules, ``sys.path`` entries and cached finders below ``root``: a
    staging folder whose code was imported for a trial load and is about to move."""
    real_root = os.path.realpath(os.fspath(root))
    for name, module in list(sys.modules.items()):
        if any(is_under(p, real_root) for p in module_files(module)):
            del sys.modules[name]
    sys.path[:] = [p for p in sys.path if not is_under(p, real_root)]
    for p in [p for p in sys.path_importer_cache if is_under(p, real_root)]:
        del sys.path_importer_cache[p]


def interpreter_info() -> Tuple[Tuple[int, int, int], str, str, str, str]:
    major, minor, micro = sys.version_info[:3]
    return (
        (major, minor, micro),
        sys.version,
        sys.prefix,
        sys.base_prefix,
        sys.executable or "",
    )
