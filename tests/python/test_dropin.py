"""``racetrack_plugins.PluginEngine`` as a drop-in for Racetrack's engine (issue 12):
its API and rules, Racetrack's types and loading like Racetrack, in this process
(``test_dropin_hosts.py`` runs Racetrack-style hosts in their own)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, List

import pytest

pytest.importorskip("racetrack_client")

from racetrack_client.log.context_error import ContextError
from racetrack_client.log.errors import AlreadyExists, EntityNotFound
from racetrack_client.plugin.plugin_manifest import PluginManifest as RacetrackManifest

import racetrack_plugins
from racetrack_plugins import (
    PluginAlreadyExistsError,
    PluginData,
    PluginEngine,
    PluginHookError,
    PluginNotFoundError,
)

from dropin_support import INFRA, JOB_TYPE, fixture_zip


def upload(engine: PluginEngine, zip_path: Path, replace: bool = False) -> Any:
    return engine.upload_plugin(zip_path.name, zip_path.read_bytes(), replace)


def versions(engine: PluginEngine, name: str) -> List[str]:
    return sorted(p.plugin_manifest.version for p in engine.find_plugins(name))


# -- 1. Racetrack's API ---------------------------------------------------------


def test_constructor_calls_on_reload_after_every_load(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    fixture_zip(plugins, JOB_TYPE)
    seen: List[List[str]] = []

    def on_reload(engine: PluginEngine) -> None:
        # Racetrack's lifecycle gathers job types here, through the engine it is given.
        seen.append(sorted(k for r in engine.invoke_plugin_hook("job_types") for k in r))

    engine = PluginEngine(str(plugins), on_reload=on_reload, watch_interval=None)
    assert engine.on_reload is on_reload
    assert engine.plugins_path == plugins.resolve()
    assert seen == [["python3:2.4.0"]]

    upload(engine, fixture_zip(tmp_path / "dist", JOB_TYPE, "2.5.0"))
    assert seen[-1] == ["python3:2.4.0", "python3:2.5.0"]
    engine.write_plugin_config(JOB_TYPE, "2.5.0", "x: 1\n")
    engine.delete_plugin_by_version(JOB_TYPE, "2.4.0")
    assert seen[-1] == ["python3:2.5.0"]
    engine.delete_all_plugins()
    assert seen[-1] == [] and len(seen) == 5
    engine.reload()
    assert len(seen) == 6


def test_failing_on_reload_is_logged_at_start_and_raised_after_a_change(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def on_reload(engine: PluginEngine) -> None:
        raise RuntimeError("cache rebuild failed")

    # Racetrack logs what fails while the engine starts; the service still starts.
    with caplog.at_level("ERROR", logger="racetrack_plugins"):
        engine = PluginEngine(tmp_path / "plugins", on_reload=on_reload, watch_interval=None)
    assert "on_reload failed" in caplog.text and "cache rebuild failed" in caplog.text
    # After an upload the caller sees it, as with Racetrack; the plugin is installed.
    with pytest.raises(RuntimeError, match="cache rebuild failed"):
        upload(engine, fixture_zip(tmp_path / "dist", JOB_TYPE))
    assert versions(engine, JOB_TYPE) == ["2.4.0"]


def test_on_reload_runs_when_another_process_changes_the_directory(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    reloaded = threading.Event()
    names: List[List[str]] = []

    def on_reload(engine: PluginEngine) -> None:
        names.append([p.plugin_manifest.name for p in engine.plugins_data])
        if names[-1]:
            reloaded.set()

    engine = PluginEngine(plugins, on_reload=on_reload, watch_interval=0.05)
    assert names == [[]] and engine.last_change_timestamp == 0
    before = int(time.time())
    proc = subprocess.run(
        [sys.executable, "-m", "racetrack_plugins", "--plugins-dir", str(plugins), "install",
         str(fixture_zip(tmp_path / "dist", JOB_TYPE))],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert reloaded.wait(30), "on_reload was not called after the other process's install"
    assert names[-1] == [JOB_TYPE]
    assert before <= engine.last_change_timestamp <= int(time.time())


def test_plugins_data_are_racetrack_records(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    fixture_zip(plugins, JOB_TYPE)
    engine = PluginEngine(plugins, watch_interval=None)
    [data] = engine.plugins_data
    assert isinstance(data, PluginData)
    assert engine.plugins_data[0] is data, "records stay the same objects until a reload"
    assert isinstance(data.plugin_manifest, RacetrackManifest)
    assert data.plugin_manifest.priority == 7 and data.plugin_manifest.category == "job-type"
    assert data.plugin_instance.plugin_manifest == data.plugin_manifest
    assert isinstance(data.plugin_instance.plugin_manifest, RacetrackManifest)
    assert data.zip_path == plugins.resolve() / "python3-job-type-2.4.0.zip"
    assert (data.plugin_dir / "plugin.py").is_file()
    assert data.config_path.name == "config.yaml"
    assert engine.plugin_manifests == [data.plugin_manifest]
    assert racetrack_plugins.PluginManifest is RacetrackManifest


def test_newest_version_by_semantic_version(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    # Installed in this order; as text, 2.4.0 sorts above 2.10.0.
    for version in ["2.10.0", "2.4.0", "2.10.0-dev"]:
        fixture_zip(plugins, JOB_TYPE, version)
    engine = PluginEngine(plugins, watch_interval=None)
    assert engine.find_plugin(JOB_TYPE).plugin_manifest.version == "2.10.0"
    assert engine.find_plugin(JOB_TYPE, "2.4.0").plugin_manifest.version == "2.4.0"
    assert list(engine.invoke_one_plugin_hook(JOB_TYPE, "job_types")) == ["python3:2.10.0"]
    assert versions(engine, JOB_TYPE) == ["2.10.0", "2.10.0-dev", "2.4.0"]
    assert [p.plugin_manifest.version for p in engine.find_plugins(JOB_TYPE, "2.4.0")] == ["2.4.0"]


def test_not_found_is_racetrack_entity_not_found(tmp_path: Path) -> None:
    engine = PluginEngine(tmp_path / "plugins", watch_interval=None)
    for call in [
        lambda: engine.find_plugin("nope"),
        lambda: engine.find_plugin("nope", "1.0.0"),
        lambda: engine.invoke_one_plugin_hook("nope", "markdown_docs"),
        lambda: engine.read_plugin_config("nope", "1.0.0"),
        lambda: engine.delete_plugin_by_version("nope", "1.0.0"),
    ]:
        with pytest.raises(EntityNotFound) as info:
            call()
        assert isinstance(info.value, PluginNotFoundError) and "nope" in str(info.value)


def test_hook_errors_are_racetrack_context_errors(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    fixture_zip(plugins, JOB_TYPE)
    engine = PluginEngine(plugins, watch_interval=None)
    [(data, job_types)] = engine.invoke_hook_with_origin("job_types")
    assert data is engine.find_plugin(JOB_TYPE) and "python3:2.4.0" in job_types

    def validate_job_manifest(manifest: Any, job_type: str) -> None:
        """Named like the hook (Racetrack passes PluginCore.validate_job_manifest)."""

    assert engine.invoke_plugin_data_hook(data, validate_job_manifest, {"entrypoint_path": "a.py"}, "python3:2.4.0") is None
    with pytest.raises(ContextError) as info:
        engine.invoke_plugin_data_hook(data, validate_job_manifest, {}, "python3:2.4.0")
    err = info.value
    assert isinstance(err, PluginHookError)
    assert isinstance(err.__cause__, ValueError) and "entrypoint_path is required" in str(err.__cause__)
    assert err.plugin == JOB_TYPE and err.version == "2.4.0" and err.hook == "validate_job_manifest"
    assert "python3-job-type 2.4.0" in str(err) and err.context_message == str(err)
    # A hook the plugin lacks: None, as Racetrack.
    assert engine.invoke_plugin_data_hook(data, "post_job_delete", None) is None


def test_one_infrastructure_plugin_per_name_unless_replace(tmp_path: Path) -> None:
    engine = PluginEngine(tmp_path / "plugins", watch_interval=None)
    upload(engine, fixture_zip(tmp_path / "dist", INFRA, "1.1.0"))
    newer = fixture_zip(tmp_path / "dist", INFRA, "1.2.0")
    for zip_path in [newer, fixture_zip(tmp_path / "dist", INFRA, "1.1.0")]:
        with pytest.raises(AlreadyExists) as info:
            upload(engine, zip_path)
        assert isinstance(info.value, PluginAlreadyExistsError)
        assert zip_path.name in str(info.value) and "replace" in str(info.value)
    assert versions(engine, INFRA) == ["1.1.0"], "a refused upload changes nothing"
    manifest = upload(engine, newer, replace=True)
    assert isinstance(manifest, RacetrackManifest) and manifest.version == "1.2.0"
    assert versions(engine, INFRA) == ["1.2.0"]
    # Other categories may keep several versions side by side.
    upload(engine, fixture_zip(tmp_path / "dist", JOB_TYPE, "1.0.0"))
    upload(engine, fixture_zip(tmp_path / "dist", JOB_TYPE, "1.0.1"))
    assert versions(engine, JOB_TYPE) == ["1.0.0", "1.0.1"]


def test_delete_all_plugins_removes_failed_ones_too(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    fixture_zip(plugins, JOB_TYPE)
    with zipfile.ZipFile(plugins / "broken-1.0.0.zip", "w") as zf:
        zf.writestr("plugin-manifest.yaml", "name: broken\nversion: 1.0.0\n")
        zf.writestr("plugin.py", "raise ImportError('broken on purpose')\n")
    engine = PluginEngine(plugins, watch_interval=None)
    statuses = {row["name"]: row["status"] for row in engine.plugins_status()}
    assert statuses == {JOB_TYPE: "loaded", "broken": "failed"}
    engine.delete_all_plugins()
    assert engine.plugins_data == [] and engine.plugins_status() == []
    assert list(plugins.glob("*.zip")) == []
    assert engine.last_change_timestamp > 0


# -- 3. Loading like Racetrack ----------------------------------------------------


def test_plugin_folder_is_the_working_directory_while_loading(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    fixture_zip(plugins, JOB_TYPE)  # reads job-template.Dockerfile relative to its cwd
    fixture_zip(plugins, INFRA)  # records its cwd
    with zipfile.ZipFile(plugins / "wanderer-1.0.0.zip", "w") as zf:
        zf.writestr("plugin-manifest.yaml", "name: wanderer\nversion: 1.0.0\n")
        zf.writestr("notes.txt", "found me")
        zf.writestr("plugin.py", textwrap.dedent("""
            import os
            NOTES = open('notes.txt').read()
            class Plugin:
                def __init__(self):
                    os.chdir(os.path.dirname(os.getcwd()))  # and never goes back
                def notes(self):
                    return NOTES
        """))
    cwd = os.getcwd()
    engine = PluginEngine(plugins, watch_interval=None)
    assert os.getcwd() == cwd
    rows = {row["name"]: row for row in engine.plugins_status()}
    assert all(row["status"] == "loaded" for row in rows.values()), rows
    assert engine.find_plugin(JOB_TYPE).plugin_instance.template_text.startswith("FROM {{ base_image }}")
    infra = engine.find_plugin(INFRA)
    assert infra.plugin_instance.loaded_in == str(infra.plugin_dir)
    assert engine.invoke_one_plugin_hook("wanderer", "notes") == "found me"
