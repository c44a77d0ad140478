"""Where modules come from: which folder a module was imported from, and the load
warnings about packages of a plugin's venv that lose to modules from elsewhere (the
standard library, the host's packages, a module imported earlier).

Reads ``sys.modules``, ``sys.path`` and package metadata; it may not change them
(loading and forgetting are ``_loading``'s) nor import anything beyond the standard
library.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from typing import Any, FrozenSet, List, Sequence, Set, Union

StrPath = Union[str, "os.PathLike[str]"]


def is_under(path: StrPath, root: str) -> bool:
    try:
        return os.path.commonpath([os.path.realpath(path), root]) == root
    except ValueError:
        return False


def module_files(module: Any) -> List[str]:
    file = getattr(module, "__file__", None)
    if file:
        return [str(file)]
    return [str(p) for p in getattr(module, "__path__", None) or []]


def already_imported_elsewhere(site_dirs: Sequence[str]) -> List[str]:
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
                files = module_files(module) if module is not None else []
                if not files or any(is_under(f, site_dir) for f in files):
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


def shadowed_by_host(site_dirs: Sequence[str], host_path: Sequence[str]) -> List[str]:
    """Warnings for packages of these venvs that the standard library or the host's own
    packages provide too: those come first on ``sys.path``, so the venv's copy is not
    used. (Modules already imported are ``already_imported_elsewhere``'s.)"""
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
                if spec is None or (origin and is_under(origin, site_dir)):
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
