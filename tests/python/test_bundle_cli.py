"""bundle_plugin and `python -m racetrack_plugins`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from racetrack_plugins import PluginEngine, PluginError, bundle_plugin, run_cli

from conftest import SAMPLE_DIR, write_plugin_zip


def test_bundle_sample(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    path = bundle_plugin(SAMPLE_DIR, out_dir=out)
    assert isinstance(path, Path)
    assert path == out / "skynet-watcher-1.2.3.zip"
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        manifest = zf.read("plugin-manifest.yaml").decode()
    assert {"plugin.py", "plugin-manifest.yaml"} <= names
    assert "build_date" in manifest


def test_bundle_options(tmp_path: Path) -> None:
    path = bundle_plugin(str(SAMPLE_DIR), out_dir=str(tmp_path), out_filename="x.zip", plugin_version="9.9.9")
    assert path == tmp_path / "x.zip"
    engine = PluginEngine(tmp_path / "plugins")
    assert engine.upload_plugin(path.name, path.read_bytes()).version == "9.9.9"


def test_bundle_errors(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="does not exist"):
        bundle_plugin(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PluginError, match="plugin.py"):
        bundle_plugin(tmp_path / "empty")


def run_module(*args: str, env_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RACETRACK_PLUGINS_DIR=str(env_dir))
    return subprocess.run(
        [sys.executable, "-m", "racetrack_plugins", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_module_cli_list_json(plugins_dir: Path) -> None:
    write_plugin_zip(plugins_dir, "listed", "1.0.0", "class Plugin:\n    pass\n", priority=4)
    proc = run_module("list", "--json", env_dir=plugins_dir)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["name"], r["version"], r["priority"], r["status"]) for r in rows] == [("listed", "1.0.0", 4, "loaded")]
    # Same keys as the Python API's status rows.
    engine_rows = PluginEngine(plugins_dir).plugins_status()
    assert set(rows[0]) <= set(engine_rows[0])


def test_module_cli_exit_codes(plugins_dir: Path, tmp_path: Path) -> None:
    write_plugin_zip(plugins_dir, "broken", "1.0.0", "raise RuntimeError('nope')\n")
    proc = run_module("list", "--json", env_dir=plugins_dir)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)[0]["status"] == "failed"
    assert run_module("no-such-command", env_dir=plugins_dir).returncode == 2
    help_proc = run_module("--help", env_dir=plugins_dir)
    assert help_proc.returncode == 0 and "bundle" in help_proc.stdout


def test_module_cli_bundle_and_install(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    out = tmp_path / "out"
    out.mkdir()
    proc = run_module("bundle", str(SAMPLE_DIR), "--out", str(out), env_dir=plugins)
    assert proc.returncode == 0, proc.stderr
    zip_path = out / "skynet-watcher-1.2.3.zip"
    assert zip_path.is_file()
    proc = run_module("install", str(zip_path), env_dir=plugins)
    assert proc.returncode == 0, proc.stderr
    assert "Installed plugin skynet-watcher 1.2.3" in proc.stdout
    assert PluginEngine(plugins).find_plugin("skynet-watcher").plugin_manifest.version == "1.2.3"


def test_run_cli_in_process(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["racetrack-plugin", "--plugins-dir", str(tmp_path / "p"), "list", "--json"]) == 0
    assert json.loads(capfd.readouterr().out) == []


def test_installed_commands(tmp_path: Path) -> None:
    """pip installs `racetrack-plugin` and Racetrack's `racetrack-plugin-bundler`."""
    bin_dir = Path(sys.executable).parent
    bundler = bin_dir / "racetrack-plugin-bundler"
    cli = bin_dir / "racetrack-plugin"
    assert bundler.is_file() and cli.is_file(), sorted(p.name for p in bin_dir.iterdir())
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(
        [str(bundler), "bundle", str(SAMPLE_DIR), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "skynet-watcher-1.2.3.zip").is_file()
    plugins = tmp_path / "plugins"
    proc = subprocess.run(
        [str(cli), "--plugins-dir", str(plugins), "install", str(out / "skynet-watcher-1.2.3.zip")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(
        [str(cli), "--plugins-dir", str(plugins), "list", "--json"],
        capture_output=True,
        text=True,
    )
    assert json.loads(proc.stdout)[0]["name"] == "skynet-watcher"
    # Racetrack's bundling tool has only `bundle`.
    proc = subprocess.run([str(bundler), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "bundle" in proc.stdout and "install" not in proc.stdout
    assert subprocess.run([str(bundler), "list"], capture_output=True).returncode == 2


def test_bundle_refuses_to_leave_out_plugin_py(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "plugin-manifest.yaml").write_text("name: mini\nversion: 1.0\n")
    (plugin / "plugin.py").write_text("class Plugin:\n    pass\n")
    (plugin / ".racetrackignore").write_text("*\n")
    with pytest.raises(PluginError, match="plugin.py would not be in the bundle"):
        bundle_plugin(plugin)
    proc = run_module("bundle", str(plugin), env_dir=tmp_path / "plugins")
    assert proc.returncode == 1, proc.stdout
    assert "plugin.py would not be in the bundle" in proc.stderr
    assert not list(plugin.glob("*.zip"))


def test_bundle_stores_symlinked_file_content(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    (plugin / "src").mkdir(parents=True)
    (plugin / "plugin-manifest.yaml").write_text("\ufeffname: linked\nversion: 1.0\n")
    (plugin / "src" / "real.py").write_text("class Plugin:\n    linked = True\n")
    (plugin / "plugin.py").symlink_to("src/real.py")
    path = bundle_plugin(plugin, out_dir=tmp_path)
    with zipfile.ZipFile(path) as zf:
        assert zf.read("plugin.py").decode() == "class Plugin:\n    linked = True\n"
    engine = PluginEngine(tmp_path / "plugins")
    assert engine.upload_plugin(path.name, path.read_bytes()).name == "linked"
