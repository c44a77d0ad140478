"""Helpers: plugin zips written with ``zipfile`` from sources given in the test, and
installing one into an engine."""

from __future__ import annotations

import textwrap
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, Optional

import pytest

if TYPE_CHECKING:
    from racetrack_plugins import PluginEngine, PluginManifest

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO / "plugin_sample"

MakeZip = Callable[..., Path]


def write_plugin_zip(
    dest_dir: Path,
    name: str,
    version: str,
    code: str,
    *,
    priority: int = 0,
    manifest_extra: str = "",
    files: Optional[Dict[str, str]] = None,
    filename: Optional[str] = None,
) -> Path:
    """Writes ``<name>-<version>.zip`` holding plugin.py, the manifest and ``files``."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / (filename or f"{name}-{version}.zip")
    manifest = f"name: {name}\nversion: {version}\npriority: {priority}\n{manifest_extra}"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("plugin-manifest.yaml", manifest)
        zf.writestr("plugin.py", textwrap.dedent(code))
        for rel, content in (files or {}).items():
            zf.writestr(rel, textwrap.dedent(content))
    return path


def install(engine: PluginEngine, zip_path: Path) -> PluginManifest:
    return engine.upload_plugin(zip_path.name, zip_path.read_bytes())


@pytest.fixture
def plugins_dir(tmp_path: Path) -> Path:
    path = tmp_path / "plugins"
    path.mkdir()
    return path


@pytest.fixture
def make_zip(tmp_path: Path) -> MakeZip:
    """Builds a plugin zip in ``tmp_path/dist`` (not in the plugins dir)."""

    def make(name: str, version: str, code: str, **kwargs: object) -> Path:
        return write_plugin_zip(tmp_path / "dist", name, version, code, **kwargs)  # type: ignore[arg-type]

    return make
