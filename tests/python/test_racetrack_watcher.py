"""Racetrack's own engine sharing the plugins directory notices our changes at once.

Its watcher (watchdog on the plugins dir, not recursive) reacts to created, modified,
deleted and moved-away events of ``last-change.txt`` and reads it with ``int(text)``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import List

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from racetrack_plugins import PluginEngine

from conftest import MakeZip

LAST_CHANGE = "last-change.txt"


class RacetrackStyleHandler(FileSystemEventHandler):
    """Racetrack's ChangesHandler: only ``src_path`` counts, as in its engine."""

    def __init__(self, plugins_dir: Path) -> None:
        self.plugins_dir = plugins_dir
        self.values: List[int] = []
        self.seen = threading.Event()

    def _check(self, event: FileSystemEvent) -> None:
        if Path(str(event.src_path)).name == LAST_CHANGE:
            path = self.plugins_dir / LAST_CHANGE
            text = path.read_text() if path.is_file() else ""
            if text:
                self.values.append(int(text.strip()))
                self.seen.set()

    def on_created(self, event: FileSystemEvent) -> None:
        self._check(event)

    def on_deleted(self, event: FileSystemEvent) -> None:
        self._check(event)

    def on_modified(self, event: FileSystemEvent) -> None:
        self._check(event)

    def on_moved(self, event: FileSystemEvent) -> None:
        self._check(event)


def test_racetracks_watcher_sees_our_changes(plugins_dir: Path, make_zip: MakeZip) -> None:
    engine = PluginEngine(plugins_dir, watch_interval=None)
    first = make_zip("watched", "1.0", "class Plugin:\n    pass\n")
    engine.upload_plugin(first.name, first.read_bytes())
    before = int((plugins_dir / LAST_CHANGE).read_text())

    handler = RacetrackStyleHandler(plugins_dir)
    observer = Observer()
    observer.schedule(handler, path=str(plugins_dir), recursive=False)
    observer.start()
    try:
        second = make_zip("watched", "2.0", "class Plugin:\n    pass\n")
        engine.upload_plugin(second.name, second.read_bytes())
        assert handler.seen.wait(timeout=10), "Racetrack's watcher saw no event"
        handler.seen.clear()
        engine.delete_plugin_by_version("watched", "1.0")
        assert handler.seen.wait(timeout=10), "no event for the delete"
    finally:
        observer.stop()
        observer.join(timeout=10)
    assert handler.values, "no readable value"
    assert all(value > before for value in handler.values), (before, handler.values)
    assert max(handler.values) >= before + 2, "two changes must be two values"
