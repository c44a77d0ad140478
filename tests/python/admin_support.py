"""Helpers for the administration server's tests: the ``racetrack-plugin`` binary,
a running ``serve`` on a free loopback port, users and plugin zips."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import zipfile
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO / "plugin_sample"

_built: Optional[Path] = None


def binary() -> Path:
    """The ``racetrack-plugin`` binary, built (once per session) from this checkout."""
    global _built
    if _built is None:
        explicit = os.environ.get("RACETRACK_PLUGIN_BIN")
        if explicit:
            _built = Path(explicit)
        else:
            subprocess.run(
                ["cargo", "build", "--quiet", "--bin", "racetrack-plugin"],
                cwd=REPO,
                check=True,
            )
            target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
            _built = target / "debug" / "racetrack-plugin"
    return _built


def run_cli(plugins_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary()), "--plugins-dir", str(plugins_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def add_user(plugins_dir: Path, name: str, staff: bool = False) -> str:
    """Adds a user with ``users add`` and returns its token."""
    args = ["users", "add", name] + (["--staff"] if staff else [])
    out = run_cli(plugins_dir, *args)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def sample_zip(dest: Path) -> Path:
    """plugin_sample bundled by ``racetrack-plugin bundle``."""
    dest.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [str(binary()), "bundle", str(SAMPLE_DIR), "--out", str(dest)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return dest / "skynet-watcher-1.2.3.zip"


def plugin_zip(dest: Path, name: str, version: str, code: str, files: Optional[dict] = None) -> Path:
    """A plugin zip written with zipfile: manifest, plugin.py and ``files``."""
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{name}-{version}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("plugin-manifest.yaml", f"name: {name}\nversion: {version}\n")
        zf.writestr("plugin.py", textwrap.dedent(code))
        for rel, content in (files or {}).items():
            zf.writestr(rel, content)
    return path


class Server:
    """``racetrack-plugin serve`` on a free loopback port; stopped with SIGTERM."""

    def __init__(self, plugins_dir: Path, log_dir: Path, *args: str) -> None:
        self.plugins_dir = plugins_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / "serve.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [str(binary()), "--plugins-dir", str(plugins_dir), "serve", "--bind", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.proc.stdout is not None
        # The first stdout line is printed once the socket listens.
        line = self.proc.stdout.readline()
        if not line.startswith("Serving on "):
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"serve did not start: {line!r}\n{self.log_path.read_text()}")
        self.url = line.split()[-1]
        self.api = self.url + "/api/v1"

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> int:
        """SIGTERM, then the exit code (0 when it shut down gracefully)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._log.close()
            if self.proc.stdout:
                self.proc.stdout.close()
        return code


class Admin:
    """A plugins dir with a staff user (alice) and a non-staff one (bob)."""

    def __init__(self, tmp_path: Path, *serve_args: str) -> None:
        self.tmp = tmp_path
        self.plugins_dir = tmp_path / "plugins"
        self.plugins_dir.mkdir(exist_ok=True)
        self.staff_token = add_user(self.plugins_dir, "alice", staff=True)
        self.user_token = add_user(self.plugins_dir, "bob")
        self.server = Server(self.plugins_dir, tmp_path / "logs", *serve_args)
        self.url = self.server.url
        self.api = self.server.api

    def staff(self) -> dict:
        return {"X-Racetrack-Auth": self.staff_token}

    def user(self) -> dict:
        return {"X-Racetrack-Auth": self.user_token}


def start_admin(tmp_path: Path, *serve_args: str) -> Iterator[Admin]:
    admin = Admin(tmp_path, *serve_args)
    try:
        yield admin
    finally:
        code = admin.server.stop()
        assert code == 0, f"serve exited with {code}:\n{admin.server.log()}"


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[Admin]:
    yield from start_admin(tmp_path)


def audit_lines(plugins_dir: Path) -> List[dict]:
    import json

    path = plugins_dir / "state" / "audit.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def names(admin: Admin) -> list:
    r = requests.get(f"{admin.api}/plugin", headers=admin.user(), timeout=60)
    assert r.status_code == 200, r.text
    return sorted(f"{p['name']}=={p['version']}" for p in r.json())
