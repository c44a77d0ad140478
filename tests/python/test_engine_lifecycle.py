"""The Python API's engine over time: changes made by another engine, hooks calling
back into the engine, calls during uploads, status rows, unloading replaced plugins,
and a host exiting while a hook runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from racetrack_plugins import PluginEngine

from conftest import install, write_plugin_zip


def test_changes_by_another_engine_are_picked_up(plugins_dir: Path, make_zip: Any) -> None:
    watcher = PluginEngine(plugins_dir, watch_interval=0.0)
    assert watcher.invoke_plugin_hook("ping") == []
    writer = PluginEngine(plugins_dir, watch_interval=None)
    install(writer, make_zip("pinger", "1.0.0", "class Plugin:\n    def ping(self):\n        return 'pong'\n"))
    # Calls notice the change and reload in the background, serving the current set
    # meanwhile: the new set shows up within a few calls.
    assert calls_until(watcher, "ping", ["pong"]) == ["pong"]
    writer.delete_plugin_by_name("pinger")
    assert calls_until(watcher, "ping", []) == []


def calls_until(engine: PluginEngine, hook: str, expected: Any, limit: float = 60.0) -> Any:
    """Calls ``hook`` until it returns ``expected`` (or ``limit`` seconds pass)."""
    deadline = time.monotonic() + limit
    while True:
        result = engine.invoke_plugin_hook(hook)
        if result == expected or time.monotonic() >= deadline:
            return result
        time.sleep(0.005)


def test_hooks_may_call_back_into_the_engine(plugins_dir: Path, make_zip: Any) -> None:
    engine = PluginEngine(plugins_dir)
    install(
        engine,
        make_zip("reentrant", "1.0.0", """
            class Plugin:
                def names(self, engine):
                    engine.reload()
                    return [row["name"] for row in engine.plugins_status()]
        """),
    )
    assert engine.invoke_plugin_hook("names", engine) == [["reentrant"]]


def test_concurrent_calls_and_uploads(plugins_dir: Path, make_zip: Any) -> None:
    engine = PluginEngine(plugins_dir, watch_interval=0.0)
    code = "class Plugin:\n    def value(self):\n        return self.plugin_manifest.version\n"
    install(engine, make_zip("busy", "1.0.0", code))
    zips = [make_zip("busy", f"1.0.{i}", code) for i in range(1, 4)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def caller() -> None:
        try:
            while not stop.is_set():
                for result in engine.invoke_plugin_hook("value"):
                    assert result.startswith("1.0.")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for zip_path in zips:
            engine.upload_plugin(zip_path.name, zip_path.read_bytes(), replace=True)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a caller thread hung"
    assert errors == []
    assert engine.invoke_plugin_hook("value") == ["1.0.3"]


def test_status_rows_have_one_shape_with_an_error_kind(plugins_dir: Path) -> None:
    write_plugin_zip(plugins_dir, "fine", "1.0.0", "class Plugin: pass\n")
    write_plugin_zip(plugins_dir, "sick", "1.0.0", "raise ImportError('no driver')\n")
    write_plugin_zip(plugins_dir, "unnamed", "1.0.0", "class Plugin: pass\n", manifest_extra="prioritty: 1\n")
    engine = PluginEngine(plugins_dir, watch_interval=None)
    rows = {row["name"]: row for row in engine.plugins_status()}
    keys = [
        "name", "version", "priority", "url", "category", "components", "status", "error",
        "error_kind", "venv", "warnings", "zip_path", "plugin_dir", "config_path",
    ]
    assert all(list(row) == keys for row in rows.values()), rows
    fine, sick, unnamed = rows["fine"], rows["sick"], rows["unnamed"]
    assert (fine["status"], fine["error"], fine["error_kind"]) == ("loaded", None, None)
    assert fine["plugin_dir"] == str(data_of(engine, "fine").plugin_dir)
    assert (sick["status"], sick["error_kind"]) == ("failed", "import")
    assert "ImportError: no driver" in sick["error"] and "plugin.py" in sick["error"]
    assert (unnamed["status"], unnamed["error_kind"]) == ("failed", "manifest")
    assert "prioritty" in unnamed["error"]


def data_of(engine: PluginEngine, name: str) -> Any:
    return engine.find_plugin(name)


UNLOADING_PLUGIN = """
import threading

class Plugin:
    def __init__(self):
        self.stop = threading.Event()
        # The thread holds the event, not the instance, so only the engine keeps it.
        self.thread = threading.Thread(target=self.stop.wait, name="rt-unload-watcher", daemon=True)
        self.thread.start()

    def on_unload(self):
        self.stop.set()

    def me(self):
        return self
"""


def _unload_watchers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "rt-unload-watcher"]


def test_replaced_and_deleted_instances_hear_on_unload_and_are_collected(
    tmp_path: Path, plugins_dir: Path
) -> None:
    import gc
    import weakref

    engine = PluginEngine(plugins_dir)
    install(engine, write_plugin_zip(tmp_path / "z", "watching", "1.0", UNLOADING_PLUGIN))
    first = weakref.ref(engine.invoke_one_plugin_hook("watching", "me"))
    other = write_plugin_zip(tmp_path / "z", "unrelated", "1.0", "class Plugin:\n    pass\n")
    for _ in range(4):
        install(engine, other)
        engine.delete_plugin_by_name("unrelated")
    current = engine.invoke_one_plugin_hook("watching", "me").thread
    for thread in _unload_watchers():
        if thread is not current:
            thread.join(timeout=10)
    # Every reload made a new instance; each replaced one stopped its thread.
    assert [t for t in _unload_watchers() if t.is_alive()] == [current]
    del current
    gc.collect()
    assert first() is None, gc.get_referrers(first())
    engine.delete_plugin_by_name("watching")
    for thread in _unload_watchers():
        thread.join(timeout=10)
    assert not any(t.is_alive() for t in _unload_watchers())


EXITING_HOST = """
import sys, threading, zipfile, pathlib
from racetrack_plugins import PluginEngine

root = pathlib.Path(sys.argv[1])
zip_path = root / "spin-1.0.zip"
with zipfile.ZipFile(zip_path, "w") as zf:
    zf.writestr("plugin-manifest.yaml", "name: spin\\nversion: '1.0'\\n")
    zf.writestr(
        "plugin.py",
        "class Plugin:\\n"
        "    def spin(self, started):\\n"
        "        started.set()\\n"
        "        while True:\\n"
        "            pass\\n",
    )
engine = PluginEngine(root / "plugins")
engine.upload_plugin(zip_path.name, zip_path.read_bytes())
timeout = float(sys.argv[2]) if len(sys.argv) > 2 else None
started = threading.Event()

def call():
    try:
        engine.invoke_plugin_hook("spin", started, timeout=timeout)
    except BaseException as e:
        print("hook ended:", type(e).__name__, flush=True)

threading.Thread(target=call, daemon=True).start()
started.wait()
print("main exits", flush=True)
"""


@pytest.mark.parametrize("timeout", [None, "300"])
def test_host_exits_cleanly_while_a_cpu_bound_hook_runs(tmp_path: Path, timeout: Any) -> None:
    import subprocess
    import sys

    script = tmp_path / "host.py"
    script.write_text(EXITING_HOST)
    argv = [sys.executable, str(script), str(tmp_path)] + ([timeout] if timeout else [])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    assert "main exits" in done.stdout
    assert "Fatal Python error" not in done.stderr
