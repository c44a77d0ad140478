"""Python half of the in-process runtime: loading plugins, reading hook signatures,
formatting failures, JSON views of results.

The engine embeds this file (``include_str!``) and runs it inside whichever
interpreter hosts it, embedded in a Rust program or a Python host's own; it is
also an ordinary module of the package, so it is type-checked and unit-tested
directly. Import mechanics are easier to get right in Python than through the C
API, and this file keeps them in one place. It must not import the rest of the
package (a Rust host has no package) nor anything beyond the standard library.
"""

from __future__ import annotations

import builtins
import functools
import importlib.machinery
import importlib.util
import inspect
import os
import pathlib
import site
import sys
import threading
import traceback
from types import ModuleType, TracebackType
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

#: ``call_policy``'s answer: (positional parameters or None, keyword names or None).
CallPolicy = Tuple[Optional[int], Optional[Tuple[str, ...]]]
_StrPath = Union[str, "os.PathLike[str]"]

_real_import = builtins.__import__
# Loading a plugin's own module briefly registers it in sys.modules (as any import
# does); one lock keeps two such loads from seeing each other's modules.
_LOCAL_IMPORT_LOCK = threading.RLock()
_MISSING: Any = object()


class PluginLoadError(Exception):
    """A plugin's code imported but does not satisfy the plugin contract."""


class RecordView(Dict[str, Any]):
    """A dict that also offers attribute access (``manifest.name``).

    Racetrack hands pydantic models to hooks; plugins read them as attributes,
    and some as mappings, so this supports both.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def dict(self) -> Dict[str, Any]:
        plain: Dict[str, Any] = _plain(self)
        return plain

    model_dump = dict

    def __repr__(self) -> str:
        return f"RecordView({dict.__repr__(self)})"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _is_under(path: _StrPath, root: str) -> bool:
    try:
        return os.path.commonpath([os.path.realpath(path), root]) == root
    except ValueError:
        return False


def _module_files(module: Any) -> List[str]:
    file = getattr(module, "__file__", None)
    if file:
        return [str(file)]
    return [str(p) for p in getattr(module, "__path__", None) or []]


def _local_top_names(plugin_dir: str) -> Set[str]:
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


# site dir -> module names of the loaded plugins using it; a dir leaves sys.path when
# the last of them is unloaded.
_SITE_DIR_USERS: Dict[str, Set[str]] = {}


def load_plugin(
    module_name: str,
    plugin_dir: _StrPath,
    manifest: object,
    config_path: _StrPath,
    site_dirs: Iterable[_StrPath],
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
    # Other plugins' venvs on sys.path are not the host's: conflicts between plugins
    # are the engine's warnings (compared as PEP 440 versions).
    host_path = [p for p in sys.path if os.path.realpath(p) not in _SITE_DIR_USERS]
    stale = _already_imported_elsewhere(site_list) + _shadowed_by_host(site_list, host_path)
    local_names = _local_top_names(plugin_dir)
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
            if any(_is_under(f, plugin_dir) for f in _module_files(leftover)):
                del sys.modules[name]
        # Site dirs (and what their .pth files added) stay after a successful load; a
        # site dir leaves again with the last plugin using it (unload_module), paths its
        # .pth files added stay for the life of the process.
        in_use = any(d in _SITE_DIR_USERS for d in site_list)
        kept = [p for p in added if in_use and p not in saved_path and p != plugin_dir]
        sys.path[:] = saved_path + kept


def _host_manifest(manifest: Any) -> Any:
    """Racetrack's pydantic ``PluginManifest`` when the host has ``racetrack_client``
    (what plugins get under Racetrack's own engine), else the engine's manifest."""
    try:
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


def _already_imported_elsewhere(site_dirs: Sequence[str]) -> List[str]:
    """Warnings for packages of these venvs that the interpreter already imported
    from somewhere else at another version: the plugin gets that one, until restart."""
    warnings: List[str] = []
    if not site_dirs:
        return warnings
    import importlib.metadata as metadata

    for site_dir in site_dirs:
        for dist in metadata.distributions(path=[site_dir]):
            for top in _top_level_names(dist):
                module = sys.modules.get(top)
                files = _module_files(module) if module is not None else []
                if not files or any(_is_under(f, site_dir) for f in files):
                    continue
                where = os.path.dirname(os.path.dirname(os.path.realpath(files[0])))
                loaded = next(
                    (d.version for d in metadata.distributions(path=[where])
                     if d.metadata["Name"] and _norm(d.metadata["Name"]) == _norm(dist.metadata["Name"])),
                    None,
                )
                if loaded == dist.version:
                    continue
                warnings.append(
                    f"package {dist.metadata['Name']} {dist.version} of this plugin's venv is not used: "
                    f"module {top} was already imported from {where}"
                    + (f" (version {loaded})" if loaded else "")
                    + "; restart the process to use this version"
                )
    return warnings


def _shadowed_by_host(site_dirs: Sequence[str], host_path: Sequence[str]) -> List[str]:
    """Warnings for packages of these venvs that the standard library or the host's own
    packages provide too: those come first on ``sys.path``, so the venv's copy is not
    used. (Modules already imported are ``_already_imported_elsewhere``'s.)"""
    if not site_dirs:
        return []
    import importlib.metadata as metadata

    stdlib: FrozenSet[str] = getattr(sys, "stdlib_module_names", frozenset())
    warnings: List[str] = []
    for site_dir in site_dirs:
        for dist in metadata.distributions(path=[site_dir]):
            name = dist.metadata["Name"] or "?"
            for top in sorted(_top_level_names(dist)):
                if top in stdlib:
                    warnings.append(
                        f"package {name} {dist.version} of this plugin's venv provides module "
                        f"{top}, which the standard library already has; the standard "
                        "library's is used"
                    )
                    continue
                if top in sys.modules or not top.isidentifier():
                    continue
                try:
                    spec = importlib.machinery.PathFinder.find_spec(top, list(host_path))
                except (ImportError, ValueError):
                    continue
                origin = spec.origin if spec is not None else None
                if spec is None or (origin and _is_under(origin, site_dir)):
                    continue
                # The folder on sys.path it was found in: a module's, a package's parent,
                # a namespace package's parent.
                if origin and os.path.basename(origin) == "__init__.py":
                    where = os.path.dirname(os.path.dirname(os.path.realpath(origin)))
                elif origin:
                    where = os.path.dirname(os.path.realpath(origin))
                elif spec.submodule_search_locations:
                    where = os.path.dirname(os.path.realpath(list(spec.submodule_search_locations)[0]))
                else:
                    continue
                host_version = next(
                    (d.version for d in metadata.distributions(path=[where])
                     if d.metadata["Name"] and _norm(d.metadata["Name"]) == _norm(name)),
                    None,
                )
                if host_version == dist.version:
                    continue
                warnings.append(
                    f"package {name} {dist.version} of this plugin's venv is not used: the "
                    f"host's module {top} (from {where}"
                    + (f", version {host_version}" if host_version else "")
                    + ") comes first"
                )
    return warnings


def _norm(name: str) -> str:
    return "-".join(name.replace("_", "-").replace(".", "-").lower().split("-"))


def _top_level_names(dist: Any) -> Set[str]:
    text = dist.read_text("top_level.txt")
    if text:
        return {line.strip() for line in text.splitlines() if line.strip()}
    names: Set[str] = set()
    for path in dist.files or ():
        first = path.parts[0] if path.parts else ""
        if first.endswith((".dist-info", ".egg-info", ".pth")) or first in ("..", "__pycache__", "bin"):
            continue
        names.add(first[:-3] if first.endswith(".py") else first)
    return names


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


def forget_under(root: _StrPath) -> None:
    """Forgets modules, ``sys.path`` entries and cached finders below ``root``: a
    staging folder whose code was imported for a trial load and is about to move."""
    real_root = os.path.realpath(os.fspath(root))
    for name, module in list(sys.modules.items()):
        if any(_is_under(p, real_root) for p in _module_files(module)):
            del sys.modules[name]
    sys.path[:] = [p for p in sys.path if not _is_under(p, real_root)]
    for p in [p for p in sys.path_importer_cache if _is_under(p, real_root)]:
        del sys.path_importer_cache[p]


def call_policy(method: Callable[..., Any]) -> CallPolicy:
    """How a hook takes arguments: (max positional or None, keyword names or None).

    None means "anything goes" (``*args`` / ``**kwargs`` or no signature).
    """
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):
        return (None, None)
    max_positional: Optional[int] = 0
    keywords: Optional[List[str]] = []
    for param in signature.parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            max_positional = None
        elif param.kind is param.VAR_KEYWORD:
            keywords = None
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            if max_positional is not None:
                max_positional += 1
        if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            if keywords is not None:
                keywords.append(param.name)
    return (max_positional, None if keywords is None else tuple(keywords))


def _is_internal(frame: traceback.FrameSummary) -> bool:
    # This loader's own frames and importlib's say nothing about the plugin.
    return frame.filename == __file__ or frame.filename.startswith("<frozen importlib")


def format_exception(exc: BaseException, tb: Optional[TracebackType] = None) -> str:
    report = traceback.TracebackException(type(exc), exc, tb or exc.__traceback__)
    kept = [frame for frame in report.stack if not _is_internal(frame)]
    if kept:
        report.stack = traceback.StackSummary.from_list(kept)
    return "".join(report.format())


#: JSON numbers beyond this lose precision in JavaScript and many JSON readers.
JSON_SAFE_INTEGER = 2**53 - 1
#: Values a result may expand to in JSON: a shared sub-structure counts each time it
#: appears, so a result whose JSON would be exponentially large stops early.
MAX_JSON_VALUES = 250_000
#: Nesting a result may have in JSON.
MAX_JSON_DEPTH = 200


class NotJsonable(ValueError):
    """A hook result that has no faithful JSON view; the message says where and why."""


def to_jsonable(
    value: Any, *, max_values: int = MAX_JSON_VALUES, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """JSON view of a hook result, for the CLI and Rust callers: paths become strings,
    models and dataclasses their fields, other objects their ``repr``.

    Nothing is changed silently: NaN and infinities, integers beyond
    ``JSON_SAFE_INTEGER``, two keys with one JSON spelling (``1`` and ``"1"``), cycles,
    text that is not valid Unicode, a ``repr`` that raises, and results over
    ``max_values`` values or ``max_depth`` levels raise ``NotJsonable`` naming the
    place (``result["a"][2]``).
    """
    remaining = [max_values]
    on_path: Set[int] = set()

    # A path is (parent path, step) pairs, spelled out only for an error.
    def fail(path: Any, problem: str) -> NotJsonable:
        steps: List[str] = []
        while path is not None:
            path, step = path
            # Literal text, a list index (int) or a dict key (a 1-tuple).
            if isinstance(step, tuple):
                step = f"[{step[0]!r}]"
            steps.append(step if isinstance(step, str) else f"[{step}]")
        return NotJsonable("".join(reversed(steps)) + f": {problem}")

    def text(item: str, path: Any) -> str:
        try:
            item.encode("utf-8")
        except UnicodeEncodeError as e:
            raise fail(path, f"text with a lone surrogate ({item[e.start]!r} at index {e.start})") from None
        return item

    def key_text(key: Any, path: Any) -> str:
        if isinstance(key, str):
            return text(key, path)
        # JSON's own spelling of such keys, as json.dumps writes them.
        if key is None:
            return "null"
        if isinstance(key, bool):
            return "true" if key else "false"
        if isinstance(key, (int, float)):
            return str(convert(key, path, 0))
        raise fail(path, f"a key of type {type(key).__qualname__} (keys must be text or numbers)")

    def nested(item: Any, path: Any, depth: int, build: Callable[[], Any]) -> Any:
        if depth >= max_depth:
            raise fail(path, f"nested deeper than {max_depth} levels")
        ident = id(item)
        if ident in on_path:
            raise fail(path, f"a cycle: this {type(item).__qualname__} contains itself")
        on_path.add(ident)
        try:
            return build()
        finally:
            on_path.discard(ident)

    def convert(item: Any, path: Any, depth: int) -> Any:
        remaining[0] -= 1
        if remaining[0] < 0:
            raise fail(
                path,
                f"more than {max_values} values (a shared part counts each time it appears)",
            )
        if item is None or isinstance(item, bool):
            return item
        if isinstance(item, str):
            return text(str(item), path)
        if isinstance(item, int):
            if -JSON_SAFE_INTEGER <= item <= JSON_SAFE_INTEGER:
                return int(item)
            raise fail(
                path,
                f"integer beyond JSON's safe range (±{JSON_SAFE_INTEGER}); return it as text",
            )
        if isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise fail(path, f"{item} is not a JSON number")
            return float(item)
        if isinstance(item, dict):
            def build_dict() -> Dict[str, Any]:
                out: Dict[str, Any] = {}
                origin: Dict[str, Any] = {}
                for k, v in item.items():
                    name = key_text(k, path)
                    if name in out:
                        raise fail(path, f"keys {origin[name]!r} and {k!r} are both {name!r} in JSON")
                    origin[name] = k
                    out[name] = convert(v, (path, (name,)), depth + 1)
                return out

            return nested(item, path, depth, build_dict)
        if isinstance(item, (list, tuple, set, frozenset)):
            return nested(
                item,
                path,
                depth,
                lambda: [convert(v, (path, i), depth + 1) for i, v in enumerate(item)],
            )
        if isinstance(item, os.PathLike):
            return text(os.fspath(item), path)
        if isinstance(item, (bytes, bytearray)):
            try:
                return bytes(item).decode("utf-8")
            except UnicodeDecodeError as e:
                raise fail(path, f"bytes that are not UTF-8 ({e.reason} at byte {e.start})") from None
        for attr in ("model_dump", "dict"):
            dump = getattr(item, attr, None)
            if callable(dump):
                try:
                    dumped = dump()
                except Exception:
                    continue
                return nested(item, path, depth, functools.partial(convert, dumped, path, depth + 1))
        if hasattr(item, "__dataclass_fields__") and not isinstance(item, type):
            import dataclasses

            # Field by field rather than dataclasses.asdict, which deep-copies and
            # recurses without limit.
            names = [f.name for f in dataclasses.fields(item)]
            return nested(
                item,
                path,
                depth,
                lambda: {
                    name: convert(getattr(item, name, None), (path, "." + name), depth + 1)
                    for name in names
                },
            )
        try:
            shown = repr(item)
        except Exception as e:
            raise fail(
                path, f"repr() of a {type(item).__name__} raised {type(e).__qualname__}: {e}"
            ) from None
        return text(shown, path)

    return convert(value, (None, "result"), 0)


def interpreter_info() -> Tuple[Tuple[int, int, int], str, str, str, str]:
    major, minor, micro = sys.version_info[:3]
    return (
        (major, minor, micro),
        sys.version,
        sys.prefix,
        sys.base_prefix,
        sys.executable or "",
    )


class HookTimeout(BaseException):
    """Raised inside a hook that outlived its caller's time limit, to stop it.

    A ``BaseException``, so a hook's ``except Exception`` does not swallow it."""


class HostExiting(BaseException):
    """Raised inside hooks still running when a Python host exits, so their threads
    leave the engine before the interpreter finalizes."""
