"""The plugin API's limits and concurrency, over real HTTP: the upload size limit,
uploads of one version at once, uploads and listings from many clients."""

from __future__ import annotations

import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from admin_support import (
    Admin,
    admin,  # noqa: F401  (fixture)
    names,
    plugin_zip,
    sample_zip,
    start_admin,
)


def test_upload_over_the_limit_is_413(tmp_path: Path) -> None:
    for admin in start_admin(tmp_path, "--max-upload-mb", "1"):
        big = plugin_zip(tmp_path / "dist", "big", "1.0", "class Plugin: pass\n", {"blob.bin": "x" * 10})
        # Stored, not deflated: over 1 MiB on the wire.
        with zipfile.ZipFile(big, "a", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("noise.bin", bytes(range(256)) * 6000)
        data = big.read_bytes()
        assert len(data) > 1024 * 1024
        r = requests.post(f"{admin.api}/plugin/upload/{big.name}", data=data, headers=admin.staff(), timeout=60)
        assert r.status_code == 413 and "1 MiB" in r.json()["error"]
        r = requests.post(f"{admin.api}/plugin/upload", files={"file": (big.name, data)}, headers=admin.staff(), timeout=60)
        assert r.status_code == 413
        assert names(admin) == []
        small = sample_zip(tmp_path / "dist")
        r = requests.post(f"{admin.api}/plugin/upload/{small.name}", data=small.read_bytes(), headers=admin.staff(), timeout=120)
        assert r.status_code == 200


BLOCKING_PLUGIN = """
import os, time
from pathlib import Path

_dir = Path({gate!r})
(_dir / "started").touch()
_deadline = time.monotonic() + 120
while not (_dir / "go").exists() and time.monotonic() < _deadline:
    time.sleep(0.02)

class Plugin:
    def markdown_docs(self):
        return "slow"
"""


def test_same_version_uploading_is_409_and_listing_keeps_answering(admin: Admin) -> None:
    gate = admin.tmp / "gate"
    gate.mkdir()
    slow = plugin_zip(admin.tmp / "dist", "slow", "1.0", BLOCKING_PLUGIN.format(gate=str(gate)))
    sample = sample_zip(admin.tmp / "dist")
    requests.post(f"{admin.api}/plugin/upload/{sample.name}", data=sample.read_bytes(), headers=admin.staff(), timeout=120).raise_for_status()

    results: dict = {}

    def upload_slow() -> None:
        results["slow"] = requests.post(f"{admin.api}/plugin/upload/{slow.name}", data=slow.read_bytes(), headers=admin.staff(), timeout=180)

    thread = threading.Thread(target=upload_slow)
    thread.start()
    try:
        # Wait (event-driven, bounded) until the plugin's import is running.
        for _ in range(6000):
            if (gate / "started").exists():
                break
            threading.Event().wait(0.02)
        assert (gate / "started").exists(), "the slow upload never started"
        r = requests.post(f"{admin.api}/plugin/upload/{slow.name}", data=slow.read_bytes(), headers=admin.staff(), timeout=30)
        assert r.status_code == 409 and "slow 1.0" in r.json()["error"]
        # Listing and docs answer while the install is held up.
        assert names(admin) == ["skynet-watcher==1.2.3"]
        docs = requests.get(f"{admin.api}/plugin/skynet-watcher/docs", headers=admin.user(), timeout=30)
        assert docs.status_code == 200
    finally:
        (gate / "go").touch()
        thread.join(timeout=180)
    assert results["slow"].status_code == 200, results["slow"].text
    assert names(admin) == ["skynet-watcher==1.2.3", "slow==1.0"]


def test_concurrent_uploads_and_listing(admin: Admin) -> None:
    zips = [plugin_zip(admin.tmp / "dist", f"p{i}", "1.0", f"class Plugin:\n    def markdown_docs(self):\n        return 'p{i}'\n") for i in range(6)]

    def upload(path: Path) -> int:
        return requests.post(f"{admin.api}/plugin/upload/{path.name}", data=path.read_bytes(), headers=admin.staff(), timeout=180).status_code

    def listing(_: int) -> int:
        return requests.get(f"{admin.api}/plugin", headers=admin.user(), timeout=60).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        uploads = [pool.submit(upload, z) for z in zips]
        lists = [pool.submit(listing, i) for i in range(12)]
        assert [f.result() for f in uploads] == [200] * 6
        assert [f.result() for f in lists] == [200] * 12
    assert names(admin) == [f"p{i}==1.0" for i in range(6)]
