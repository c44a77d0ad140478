"""A plugin's own modules, private to it: ``PrivateImporter`` imports the modules
next to a plugin's ``plugin.py`` for that plugin alone, kept out of ``sys.modules``.

Owns how a plugin's code imports its siblings; what a load does around that
(``sys.path``, the working directory, warnings) is ``_loading``'s. It may not import
anything beyond the standard library.
"""

from __future__ import annotations

import builtins
import importlib.machinery
import importlib.util
import os
import sys
import threading
from types import ModuleType
from typing import Any, Dict, FrozenSet, Iterable, Mapping, Optional, Sequence, Set

_real_import = builtins.__import__
# Loading a plugin's own module briefly registers it in sys.modules (as any import
# does); one lock keeps two such loads from seeing each other's modules.
_LOCAL_IMPORT_LOCK = threading.RLock()
_MISSING: Any = object()


def local_top_names(plugin_dir: str) -> Set[str]:
    """Names a plugin's sibling modules would be imported under."""
    suffixes = tuple(importlib.machinery.all_suffixes())
    names: Set[str] = set()
    for entry in os.scandir(plugin_dir):
        if entry.is_file() and entry.name.endswith(suffixes):
            names.add(entry.name.partition(".")[0])
        elif entry.is_dir() and not entry.name.startswith(".") and entry.name.isidentifier():
            names.add(entry.name)
    names.discard("plugin")
    return names


class PrivateImporter:
    """``__import__`` for one plugin's code: its sibling modules live here, not in
    ``sys.modules``, so two plugins shipping ``utils.py`` each get their own, also
    when a hook imports one lazily long after loading. Other names go to the
    regular import system.

    Installed as ``__builtins__['__import__']`` of every module of the plugin
    (set before the module's code runs, since functions capture their builtins).
    """

    def __init__(self, plugin_dir: str, local_names: Iterable[str]) -> None:
        self.plugin_dir = plugin_dir
        self.local_names: FrozenSet[str] = frozenset(local_names)
        self.modules: Dict[str, ModuleType] = {}
        self.builtins: Dict[str, Any] = dict(builtins.__dict__)
        self.builtins["__import__"] = self

    def __call__(
        self,
        name: str,
        globals: Optional[Mapping[str, Any]] = None,
        locals: Optional[Mapping[str, Any]] = None,
        fromlist: Sequence[str] = (),
        level: int = 0,
    ) -> ModuleType:
        if level:
            package = (globals or {}).get("__package__") or ""
            if package.partition(".")[0] not in self.local_names:
                return _real_import(name, globals, locals, fromlist, level)
            base = package.rsplit(".", level - 1)[0] if level > 1 else package
            name = f"{base}.{name}" if name else base
        elif name.partition(".")[0] not in self.local_names:
            return _real_import(name, globals, locals, fromlist, level)
        module = self.get(name)
        if not fromlist:
            return self.modules[name.partition(".")[0]]
        if hasattr(module, "__path__"):
            for item in fromlist:
                if item != "*" and not hasattr(module, item):
                    try:
                        self.get(f"{name}.{item}")
                    except ModuleNotFoundError:
                        pass
        return module

    def get(self, name: str) -> ModuleType:
        module = self.modules.get(name)
        if module is not None:
            return module
        with _LOCAL_IMPORT_LOCK:
            module = self.modules.get(name)
            return module if module is not None else self._load(name)

    def _load(self, name: str) -> ModuleType:
        parent_name, _, child = name.rpartition(".")
        parent: Optional[ModuleType]
        search: Optional[Sequence[str]]
        if parent_name:
            parent = self.get(parent_name)
            search = getattr(parent, "__path__", None)
            if search is None:
                raise ModuleNotFoundError(
                    f"No module named {name!r}; {parent_name!r} is not a package", name=name
                )
        else:
            parent, search = None, [self.plugin_dir]
        spec = importlib.machinery.PathFinder.find_spec(name, search)
        if spec is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        module = importlib.util.module_from_spec(spec)
        module.__dict__["__builtins__"] = self.builtins
        self.modules[name] = module
        # Registered while it runs, as imports expect (dataclasses, circular imports);
        # a host module of the same name is put back afterwards.
        shadowed = sys.modules.get(name, _MISSING)
        sys.modules[name] = module
        try:
            if spec.loader is not None:
                spec.loader.exec_module(module)
        except BaseException:
            self.modules.pop(name, None)
            raise
        finally:
            if shadowed is _MISSING:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = shadowed
        if parent is not None:
            setattr(parent, child, module)
        return module
