"""Constructor options of the Python engine that bound or widen what loading does."""

from __future__ import annotations

import http.server
import os
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, List

import pytest

from racetrack_plugins import PluginEngine

from conftest import write_plugin_zip


def test_load_timeout_fails_a_stuck_import_and_loads_the_others(plugins_dir: Path, tmp_path: Path) -> None:
    release = tmp_path / "release"
    # The import waits for the test (not for ever), so its thread ends with the test.
    write_plugin_zip(plugins_dir, "stuck", "1.0.0", f"""
        import os, time
        while not os.path.exists({str(release)!r}):
            time.sleep(0.05)
        class Plugin:
            pass
    """)
    write_plugin_zip(plugins_dir, "fine", "1.0.0", "class Plugin:\n    def who(self):\n        return 'fine'\n")
    cwd = os.getcwd()
    try:
        engine = PluginEngine(plugins_dir, watch_interval=None, load_timeout=2.5)
        # The stuck import made its folder the working directory; the engine put it back.
        assert os.getcwd() == cwd
        assert not any("stuck-1.0.0" in p for p in sys.path)
        rows = {row["name"]: row for row in engine.plugins_status()}
        assert rows["fine"]["status"] == "loaded"
        stuck = rows["stuck"]
        assert (stuck["status"], stuck["error_kind"]) == ("failed", "timeout")
        assert "stuck-1.0.0/plugin.py: import did not finish in 2.5 s" in stuck["error"]
        assert engine.invoke_plugin_hook("who") == ["fine"]
    finally:
        release.touch()


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("inf")])
def test_load_timeout_must_be_positive(plugins_dir: Path, seconds: float) -> None:
    with pytest.raises(ValueError, match="load_timeout"):
        PluginEngine(plugins_dir, load_timeout=seconds)


@pytest.fixture
def index_hits() -> Iterator[tuple[str, List[str]]]:
    """A package index on 127.0.0.1 that has nothing; yields its URL and the paths asked."""
    hits: List[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple", hits
    finally:
        server.shutdown()
        server.server_close()


def test_allow_requirement_options_lets_a_plugin_choose_its_index(
    plugins_dir: Path, index_hits: tuple[str, List[str]]
) -> None:
    url, hits = index_hits
    write_plugin_zip(
        plugins_dir, "indexed", "1.0.0", "class Plugin: pass\n",
        files={"requirements.txt": f"--index-url {url}\nrtopt-missing==1.0\n"},
    )
    refused = PluginEngine(plugins_dir, watch_interval=None)
    (row,) = refused.plugins_status()
    assert (row["status"], row["error_kind"]) == ("failed", "deps")
    assert f"`--index-url {url}` is refused" in row["error"]
    assert "--allow-requirement-options" in row["error"]
    assert hits == []

    # Allowed, the installer asks that index (which has nothing, so the plugin still fails).
    allowed = PluginEngine(plugins_dir, watch_interval=None, allow_requirement_options=True)
    (row,) = allowed.plugins_status()
    assert row["status"] == "failed"
    assert "is refused" not in row["error"]
    assert hits, "the plugin's index was not asked"
