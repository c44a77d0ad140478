"""A minimal Racetrack-style host of the plugin engine.

Usage: python host.py [PLUGINS_DIR] [PLUGIN_ZIP...]

Installs the given zips, lists the plugins and calls hooks, by function and by name,
the way Racetrack's lifecycle does. Checked with ``mypy --strict``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from racetrack_plugins import (
    PluginCore,
    PluginData,
    PluginEngine,
    PluginError,
    PluginHookError,
    PluginManifest,
)


@dataclass
class FatmanDto:
    name: str
    version: str
    deployed_by: Optional[str] = None


def job_types(engine: PluginEngine, registry: str) -> Dict[str, Tuple[str, Path]]:
    merged: Dict[str, Tuple[str, Path]] = {}
    results: List[Dict[str, Tuple[str, Path]]] = engine.invoke_plugin_hook(
        PluginCore.fatman_job_types, registry
    )
    for result in results:
        merged.update(result or {})
    return merged


def runtime_env_vars(engine: PluginEngine) -> Dict[str, str]:
    env: Dict[str, str] = {}
    for plugin, result in engine.invoke_hook_with_origin(PluginCore.fatman_runtime_env_vars):
        if result:
            print(f"env vars from {plugin.plugin_manifest.name}: {sorted(result)}")
            env.update(result)
    return env


def docs(engine: PluginEngine, name: str) -> Optional[str]:
    result: Any = engine.invoke_one_plugin_hook(name, "markdown_docs")
    return result if isinstance(result, str) else None


def main(argv: List[str]) -> int:
    plugins_dir = argv[0] if argv else None
    engine = PluginEngine(plugins_dir, watch_interval=1.0)
    for zip_path in map(Path, argv[1:]):
        try:
            manifest: PluginManifest = engine.upload_plugin(zip_path.name, zip_path.read_bytes())
        except PluginError as e:
            print(f"cannot install {zip_path}: {e}", file=sys.stderr)
            return 1
        print(f"installed {manifest.name} {manifest.version}")

    for row in engine.plugins_status():
        print(f"{row['name']} {row['version']}: {row['status']}")
    loaded: List[PluginData] = engine.plugins_data
    for data in loaded:
        print(f"{data.plugin_manifest.name} at {data.plugin_dir} (config {data.config_path})")

    fatman = FatmanDto(name="adder", version="0.0.1", deployed_by="admin")
    try:
        engine.invoke_plugin_hook(PluginCore.post_fatman_delete, fatman, username_executor="admin")
        engine.invoke_plugin_hook("post_fatman_delete", fatman, username_executor="admin")
    except PluginHookError as e:
        print(f"{e.plugin} {e.version} failed in {e.hook}: {e.__cause__!r}", file=sys.stderr)
        return 1

    print("job types:", job_types(engine, "registry.example.com/racetrack"))
    print("env vars:", runtime_env_vars(engine))
    for data in loaded:
        text = docs(engine, data.plugin_manifest.name)
        print(f"docs of {data.plugin_manifest.name}: {len(text or '')} characters")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
