"""``racetrack_plugins.PluginEngine`` as a drop-in for Racetrack's engine (issue 12):
its API and rules, Racetrack's types, loading like Racetrack, and Racetrack-style
lifecycle and image-builder hosts running in their own processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, List, Optional

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

DROPIN = Path(__file__).resolve().parents[1] / "fixtures" / "dropin"
PLUGINS = DROPIN / "plugins"
JOB_TYPE = "python3-job-type"
INFRA = "docker-infrastructure"


def fixture_zip(dest: Path, name: str, version: Optional[str] = None) -> Path:
    """Zips the fixture plugin ``name`` (at ``version`` when given) into ``dest``."""
    src = PLUGINS / name
    manifest = (src / "plugin-manifest.yaml").read_text()
    if version is None:
        version = next(l.split(":", 1)[1].strip() for l in manifest.splitlines() if l.startswith("version:"))
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{name}-{version}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for file in sorted(src.rglob("*")):
            if not file.is_file():
                continue
            text = file.read_text()
            if file.name == "plugin-manifest.yaml":
                text = "\n".join(
                    f"version: {version}" if l.startswith("version:") else l for l in text.splitlines()
                )
            zf.writestr(file.relative_to(src).as_posix(), text)
    return path


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


def run_host(script: str, *path: Path) -> Any:
    """Runs ``script`` in a fresh interpreter with ``path`` first on its sys.path; its
    last line of output, as JSON."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in path))
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_without_racetrack_our_own_types(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    fixture_zip(plugins, JOB_TYPE)
    out = run_host(f"""
        import json, sys
        sys.modules['racetrack_client'] = None  # as if Racetrack were not installed
        import racetrack_plugins as rp
        from racetrack_plugins import _native
        engine = rp.PluginEngine({str(plugins)!r}, watch_interval=None)
        data = engine.find_plugin('python3-job-type')
        try:
            engine.find_plugin('nope')
        except rp.PluginNotFoundError as e:
            bases = [c.__name__ for c in type(e).__mro__]
        print(json.dumps({{
            'racetrack_errors': rp.errors.RACETRACK_ERRORS,
            'manifest_is_native': isinstance(data.plugin_manifest, _native.PluginManifest)
                and rp.PluginManifest is _native.PluginManifest,
            'plugin_sees_native': isinstance(data.plugin_instance.plugin_manifest, _native.PluginManifest),
            'bases': bases,
        }}))
    """)
    assert out["racetrack_errors"] is False
    assert out["manifest_is_native"] and out["plugin_sees_native"]
    assert "EntityNotFound" not in out["bases"] and "LookupError" in out["bases"]


# -- Racetrack-style services, in their own processes ---------------------------

LIFECYCLE_HOST = """
    import json, sys
    import lifecycle  # the host; plugins see component 'lifecycle'
    from lifecycle.infrastructure.model import InfrastructureTarget
    from racetrack_plugins import PluginEngine


    class LifecycleCache:  # as lifecycle.server.cache
        infrastructure_targets = {}
        job_types = {}

        @classmethod
        def on_plugins_reload(cls, plugin_engine):
            cls.infrastructure_targets = {}
            for result in plugin_engine.invoke_plugin_hook(PluginCore.infrastructure_targets):
                if result:
                    cls.infrastructure_targets.update(result)
            cls.job_types = {}
            for plugin_data, job_types in plugin_engine.invoke_hook_with_origin(PluginCore.job_types):
                for key in job_types or {}:
                    cls.job_types[key] = plugin_data


    class PluginCore:
        def infrastructure_targets(self): return {}
        def job_types(self): return {}


    plugin_engine = PluginEngine(sys.argv[1] if len(sys.argv) > 1 else PLUGINS_DIR,
                                 on_reload=LifecycleCache.on_plugins_reload)
    target = LifecycleCache.infrastructure_targets['docker']
    print(json.dumps({
        'component': plugin_engine.component,
        'targets': sorted(LifecycleCache.infrastructure_targets),
        'target_is_host_class': isinstance(target, InfrastructureTarget),
        'deploy': target.job_deployer.deploy_job('adder'),
        'job_types': {k: d.plugin_manifest.version for k, d in LifecycleCache.job_types.items()},
        'manifests': sorted(m.name for m in plugin_engine.plugin_manifests),
    }))
"""

IMAGE_BUILDER_HOST = """
    import json
    import image_builder  # the host; plugins see component 'image-builder'
    from pathlib import Path
    from racetrack_client.log.context_error import ContextError
    from racetrack_plugins import PluginCore, PluginEngine

    plugin_engine = PluginEngine(PLUGINS_DIR)
    job_types = {}  # as racetrack_commons.deploy.job_type.gather_job_types
    for plugin_data, plugin_job_types in plugin_engine.invoke_hook_with_origin(PluginCore.job_types):
        for key, value in plugin_job_types.items():
            images = [plugin_data.plugin_dir / image['dockerfile_path'] for image in value['images']]
            job_types[key] = (plugin_data, images)
    plugin_data, images = job_types['python3:2.4.0']
    try:  # as image_builder.validate.validate_jobtype_manifest
        plugin_engine.invoke_plugin_data_hook(plugin_data, PluginCore.validate_job_manifest, {}, 'python3:2.4.0')
    except Exception as e:
        invalid = str(ContextError('invalid manifest according to job type rules', e))
    print(json.dumps({
        'component': plugin_engine.component,
        'job_types': sorted(job_types),
        'template': images[1].read_text().splitlines()[0],
        'invalid': invalid,
        'status': {row['name']: row['status'] for row in plugin_engine.plugins_status()},
    }))
"""


def test_lifecycle_style_service(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    fixture_zip(plugins, JOB_TYPE)
    fixture_zip(plugins, INFRA)
    out = run_host(f"PLUGINS_DIR = {str(plugins)!r}\n" + textwrap.dedent(LIFECYCLE_HOST), DROPIN / "host")
    assert out == {
        "component": "lifecycle",
        "targets": ["docker"],
        "target_is_host_class": True,
        "deploy": "docker run adder",
        "job_types": {"python3:2.4.0": "2.4.0"},
        "manifests": [INFRA, JOB_TYPE],
    }


def test_image_builder_style_service(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    fixture_zip(plugins, JOB_TYPE)
    fixture_zip(plugins, INFRA)
    out = run_host(f"PLUGINS_DIR = {str(plugins)!r}\n" + textwrap.dedent(IMAGE_BUILDER_HOST), DROPIN / "host")
    assert out["component"] == "image-builder"
    assert out["job_types"] == ["python3:2.4.0"]
    assert out["template"] == "FROM {{ base_image }}"
    assert out["invalid"].startswith("invalid manifest according to job type rules: plugin python3-job-type 2.4.0")
    assert "entrypoint_path is required" in out["invalid"]
    # The lifecycle-only infrastructure plugin is not loaded inside image-builder.
    assert out["status"] == {JOB_TYPE: "loaded", INFRA: "skipped"}
