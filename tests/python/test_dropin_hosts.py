"""``racetrack_plugins.PluginEngine`` as a drop-in for Racetrack's engine (issue 12),
in hosts running in their own processes: without Racetrack installed, and
Racetrack-style lifecycle and image-builder services."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("racetrack_client")

from dropin_support import DROPIN, INFRA, JOB_TYPE, fixture_zip


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
