"""Racetrack's own command line (``racetrack``, package racetrack-client from PyPI)
against ``racetrack-plugin serve``: login, plugin install, list, download, uninstall."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from admin_support import Admin, admin, sample_zip  # noqa: F401  (fixture)


def racetrack_bin() -> str:
    found = shutil.which("racetrack", path=str(Path(sys.executable).parent)) or shutil.which("racetrack")
    if not found:
        pytest.fail("racetrack-client is not installed: scripts/dev-venv.sh installs it")
    return found


def racetrack(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs the client with its own HOME, so ~/.racetrack of the user is untouched."""
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run([racetrack_bin(), *args], capture_output=True, text=True, env=env, timeout=180)


def test_racetrack_client_installs_lists_downloads_uninstalls(admin: Admin, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    remote = admin.url  # no path: the client appends /lifecycle
    zip_path = sample_zip(tmp_path / "dist")

    out = racetrack(home, "plugin", "list", "--remote", remote)
    assert out.returncode != 0 and "racetrack login" in out.stdout + out.stderr

    out = racetrack(home, "login", "wrong.token", "--remote", remote)
    assert out.returncode != 0

    out = racetrack(home, "login", admin.staff_token, "--remote", remote)
    assert out.returncode == 0, out.stdout + out.stderr
    assert admin.staff_token in (home / ".racetrack" / "config.yaml").read_text()

    out = racetrack(home, "plugin", "install", str(zip_path), "--remote", remote)
    assert out.returncode == 0, out.stdout + out.stderr
    listed = requests.get(f"{admin.api}/plugin", headers=admin.staff(), timeout=30).json()
    assert [(p["name"], p["version"], p["status"]) for p in listed] == [("skynet-watcher", "1.2.3", "loaded")]

    out = racetrack(home, "plugin", "list", "--remote", remote)
    assert out.returncode == 0 and "skynet-watcher==1.2.3" in out.stdout, out.stdout + out.stderr

    out_dir = tmp_path / "downloaded"
    out_dir.mkdir()
    out = racetrack(home, "plugin", "download", "skynet-watcher", "1.2.3", "--remote", remote, "--out-dir", str(out_dir))
    assert out.returncode == 0, out.stdout + out.stderr
    assert (out_dir / "skynet-watcher-1.2.3.zip").read_bytes() == zip_path.read_bytes()

    out = racetrack(home, "plugin", "uninstall", "skynet-watcher", "--version", "1.2.3", "--remote", remote)
    assert out.returncode == 0, out.stdout + out.stderr
    assert requests.get(f"{admin.api}/plugin", headers=admin.staff(), timeout=30).json() == []

    out = racetrack(home, "plugin", "uninstall", "skynet-watcher", "--version", "1.2.3", "--remote", remote)
    assert out.returncode != 0 and "no installed plugin" in out.stdout + out.stderr


def test_racetrack_client_as_non_staff_cannot_install(admin: Admin, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    out = racetrack(home, "login", admin.user_token, "--remote", admin.url)
    assert out.returncode == 0, out.stdout + out.stderr
    out = racetrack(home, "plugin", "install", str(sample_zip(tmp_path / "dist")), "--remote", admin.url)
    assert out.returncode != 0 and "not staff" in out.stdout + out.stderr
    out = racetrack(home, "plugin", "list", "--remote", admin.url)
    assert out.returncode == 0, out.stdout + out.stderr
