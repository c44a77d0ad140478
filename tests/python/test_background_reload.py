"""A host keeps calling hooks while another process installs a slow plugin: changes
are picked up by a reload in the background, and no call waits for it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List

from racetrack_plugins import PluginEngine

from conftest import write_plugin_zip

TICK = "class Plugin:\n    def tick(self):\n        return {!r}\n"


def test_calls_never_wait_for_a_reload_of_another_process_change(plugins_dir: Path, tmp_path: Path) -> None:
    write_plugin_zip(plugins_dir, "steady", "1.0.0", TICK.format("steady"))
    started = tmp_path / "host-import-started"
    release = tmp_path / "release"
    # In this process the import waits for the test to release it, so the test knows
    # for certain when a reload is in progress; in the installing process it just
    # takes a second.
    slow_code = f"""
import os, time
if os.getpid() == {os.getpid()}:
    open({str(started)!r}, "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists({str(release)!r}) and time.monotonic() < deadline:
        time.sleep(0.01)
else:
    time.sleep(1)
""" + TICK.format("slow")
    slow_zip = write_plugin_zip(tmp_path / "dist", "slow", "1.0.0", slow_code)
    engine = PluginEngine(plugins_dir, watch_interval=0.0)
    assert engine.invoke_plugin_hook("tick") == ["steady"]

    enough = threading.Event()
    released_by_watchdog: List[bool] = []

    def watchdog() -> None:
        # Releases the import once enough calls went through during it, or after a
        # generous bound when calls are stuck behind it (then the test fails below).
        deadline = time.monotonic() + 120
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        released_by_watchdog.append(not enough.wait(60))
        release.touch()

    guard = threading.Thread(target=watchdog, daemon=True)
    guard.start()
    installer = subprocess.Popen(
        [sys.executable, "-m", "racetrack_plugins", "--plugins-dir", str(plugins_dir), "install", str(slow_zip)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    calls_during_import = 0
    results_during_import = set()
    result: List[str] = []
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            importing_before = started.exists() and not release.exists()
            result = engine.invoke_plugin_hook("tick")
            if importing_before and not release.exists():
                # This call began and ended while the reload's import was held.
                calls_during_import += 1
                results_during_import.add(tuple(result))
                if calls_during_import >= 20:
                    enough.set()
            if "slow" in result:
                break
    finally:
        release.touch()
        out, err = installer.communicate(timeout=120)
        guard.join(timeout=120)
    assert installer.returncode == 0, err
    assert out == "Installed plugin slow 1.0.0\n"
    assert released_by_watchdog == [False], "hook calls waited for the reload"
    assert calls_during_import >= 20
    # The current set was served until the new one was complete.
    assert results_during_import == {("steady",)}
    assert result == ["steady", "slow"]
