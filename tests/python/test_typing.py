"""The stubs are good enough for `mypy --strict` on a real host."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from conftest import REPO


def require_mypy() -> None:
    """Skips without mypy; under CI (`CI` set) a missing mypy is a failure instead."""
    if importlib.util.find_spec("mypy") is not None:
        return
    if os.environ.get("CI"):
        pytest.fail("mypy is not installed, and CI is set (scripts/dev-venv.sh installs it)")
    pytest.skip("mypy is not installed")


def test_example_host_passes_mypy_strict() -> None:
    require_mypy()
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "examples/python_host/host.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_package_passes_mypy_strict() -> None:
    require_mypy()
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", "racetrack_plugins"],
        cwd=REPO / "examples",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_example_host_runs(tmp_path: object) -> None:
    from pathlib import Path

    import racetrack_plugins

    base = Path(str(tmp_path))
    zip_path = racetrack_plugins.bundle_plugin(REPO / "plugin_sample", out_dir=base)
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples/python_host/host.py"), str(base / "plugins"), str(zip_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "installed skynet-watcher 1.2.3" in proc.stdout
    assert "SKYNET_WATCHER" in proc.stdout
