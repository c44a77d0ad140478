"""Installing, deleting, configuring and reloading plugins."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from racetrack_plugins import (
    PluginEngine,
    PluginInstallError,
    PluginManifest,
    PluginNotFoundError,
)

from conftest import write_plugin_zip

GOOD = """
    class Plugin:
        def __init__(self):
            self.config = self.config_path.read_text()

        def version(self):
            return self.plugin_manifest.version

        def config_text(self):
            return self.config
"""

BROKEN = """
    raise ImportError("this plugin is broken")
"""


def upload(engine: PluginEngine, path: Path, replace: bool = False) -> PluginManifest:
    return engine.upload_plugin(path.name, path.read_bytes(), replace=replace)


def test_upload_good_plugin(plugins_dir: Path, make_zip: Any) -> None:
    engine = PluginEngine(plugins_dir)
    manifest = upload(engine, make_zip("cfg", "1.0.0", GOOD, priority=3, manifest_extra="url: https://x.example\n"))
    assert isinstance(manifest, PluginManifest)
    assert (manifest.name, manifest.version, manifest.priority, manifest.url) == ("cfg", "1.0.0", 3, "https://x.example")
    assert manifest.dict()["name"] == "cfg"
    assert engine.invoke_plugin_hook("version") == ["1.0.0"]
    assert (plugins_dir / "cfg-1.0.0.zip").is_file()
    # A fresh engine on the same directory finds it.
    assert PluginEngine(plugins_dir).invoke_plugin_hook("version") == ["1.0.0"]


def test_upload_accepts_bytearray_and_memoryview(plugins_dir: Path, make_zip: Any) -> None:
    engine = PluginEngine(plugins_dir)
    data = make_zip("buf", "1.0.0", GOOD).read_bytes()
    assert engine.upload_plugin("buf-1.0.0.zip", bytearray(data)).name == "buf"
    assert engine.upload_plugin("buf-1.0.0.zip", memoryview(data)).name == "buf"


def test_broken_upload_leaves_the_old_version_active(plugins_dir: Path, make_zip: Any, tmp_path: Path) -> None:
    engine = PluginEngine(plugins_dir)
    upload(engine, make_zip("app", "1.0.0", GOOD))
    broken_same = write_plugin_zip(tmp_path / "broken", "app", "1.0.0", BROKEN)
    with pytest.raises(PluginInstallError, match="this plugin is broken"):
        upload(engine, broken_same)
    broken_next = write_plugin_zip(tmp_path / "broken", "app", "2.0.0", BROKEN)
    with pytest.raises(PluginInstallError):
        upload(engine, broken_next, replace=True)
    assert engine.invoke_plugin_hook("version") == ["1.0.0"]
    assert [(r["name"], r["version"], r["status"]) for r in engine.plugins_status()] == [("app", "1.0.0", "loaded")]


def test_non_zip_and_garbage_are_rejected(plugins_dir: Path, tmp_path: Path) -> None:
    engine = PluginEngine(plugins_dir)
    with pytest.raises(PluginInstallError, match="zip"):
        engine.upload_plugin("plugin.tar.gz", b"not a zip")
    with pytest.raises(PluginInstallError):
        engine.upload_plugin("plugin.zip", b"not a zip either")
    no_manifest = tmp_path / "nomanifest.zip"
    import zipfile

    with zipfile.ZipFile(no_manifest, "w") as zf:
        zf.writestr("plugin.py", "class Plugin: pass\n")
    with pytest.raises(PluginInstallError):
        upload(engine, no_manifest)
    assert engine.plugins_status() == []


def test_replace_removes_other_versions(plugins_dir: Path, make_zip: Any) -> None:
    engine = PluginEngine(plugins_dir)
    upload(engine, make_zip("app", "1.0.0", GOOD))
    upload(engine, make_zip("app", "1.1.0", GOOD))
    assert sorted(engine.invoke_plugin_hook("version")) == ["1.0.0", "1.1.0"]
    upload(engine, make_zip("app", "2.0.0", GOOD), replace=True)
    assert engine.invoke_plugin_hook("version") == ["2.0.0"]


def test_delete_by_version_and_by_name(plugins_dir: Path, make_zip: Any) -> None:
    engine = PluginEngine(plugins_dir)
    upload(engine, make_zip("app", "1.0.0", GOOD))
    upload(engine, make_zip("app", "2.0.0", GOOD))
    upload(engine, make_zip("other", "1.0.0", GOOD))
    engine.delete_plugin_by_version("app", "1.0.0")
    assert sorted((m.name, m.version) for m in engine.plugin_manifests) == [("app", "2.0.0"), ("other", "1.0.0")]
    assert not (plugins_dir / "app-1.0.0.zip").exists()
    engine.delete_plugin_by_name("app")
    assert [(m.name, m.version) for m in engine.plugin_manifests] == [("other", "1.0.0")]
    with pytest.raises(PluginNotFoundError):
        engine.delete_plugin_by_name("app")
    with pytest.raises(PluginNotFoundError):
        engine.delete_plugin_by_version("other", "9.9.9")


def test_config_read_and_write(plugins_dir: Path, make_zip: Any) -> None:
    engine = PluginEngine(plugins_dir)
    upload(engine, make_zip("cfg", "1.0.0", GOOD))
    assert engine.read_plugin_config("cfg", "1.0.0") == ""
    engine.write_plugin_config("cfg", "1.0.0", "token: abc\n")
    assert engine.read_plugin_config("cfg", "1.0.0") == "token: abc\n"
    # Plugins read their config at start-up; writing it reloads them.
    assert engine.invoke_plugin_hook("config_text") == ["token: abc\n"]
    assert engine.find_plugin("cfg").config_path.read_text() == "token: abc\n"
    # The config survives re-uploading the same version.
    upload(engine, make_zip("cfg", "1.0.0", GOOD))
    assert engine.invoke_plugin_hook("config_text") == ["token: abc\n"]
    with pytest.raises(PluginNotFoundError):
        engine.read_plugin_config("cfg", "2.0.0")
    with pytest.raises(PluginNotFoundError):
        engine.write_plugin_config("nope", "1.0.0", "x")


def test_reload_picks_up_files_copied_in(plugins_dir: Path, make_zip: Any) -> None:
    engine = PluginEngine(plugins_dir, watch_interval=None)
    assert engine.plugins_data == []
    shutil.copy(make_zip("copied", "1.0.0", GOOD), plugins_dir / "copied-1.0.0.zip")
    assert engine.plugins_data == []  # not watching
    engine.reload()
    assert [d.plugin_manifest.name for d in engine.plugins_data] == ["copied"]


def test_status_of_a_failed_plugin(plugins_dir: Path) -> None:
    write_plugin_zip(plugins_dir, "good", "1.0.0", GOOD, priority=1)
    write_plugin_zip(plugins_dir, "bad", "1.0.0", BROKEN, priority=0)
    engine = PluginEngine(plugins_dir)
    rows = {r["name"]: r for r in engine.plugins_status()}
    assert engine.list_plugins() == engine.plugins_status()
    assert rows["good"]["status"] == "loaded" and rows["good"]["error"] is None
    assert rows["bad"]["status"] == "failed"
    assert "this plugin is broken" in rows["bad"]["error"]
    assert set(rows["bad"]) >= {"name", "version", "priority", "url", "category", "components", "status", "error"}
    assert [d.plugin_manifest.name for d in engine.plugins_data] == ["good"]
    assert engine.invoke_plugin_hook("version") == ["1.0.0"]
    # A failed plugin can still be deleted.
    engine.delete_plugin_by_name("bad")
    assert [r["name"] for r in engine.plugins_status()] == ["good"]


def test_rebuild_venv_without_requirements(plugins_dir: Path, make_zip: Any) -> None:
    engine = PluginEngine(plugins_dir)
    upload(engine, make_zip("novenv", "1.0.0", GOOD))
    (row,) = engine.rebuild_venv("novenv")
    assert row["name"] == "novenv" and row["status"] == "loaded" and row["venv"] is None
    with pytest.raises(PluginNotFoundError):
        engine.rebuild_venv("missing")
