"""Racetrack's plugin API served by ``racetrack-plugin serve``, over real HTTP on a
loopback port: every route, every error status, path tricks, limits, concurrency."""

from __future__ import annotations

import http.client
import re
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, Tuple
from urllib.parse import urlsplit

import pytest
import requests

from admin_support import (
    Admin,
    Server,
    add_user,
    admin,  # noqa: F401  (fixture)
    audit_lines,
    plugin_zip,
    run_cli,
    sample_zip,
    start_admin,
)

JOB_TYPES_PLUGIN = """
class Plugin:
    def fatman_job_types(self, docker_registry_prefix):
        return {"python3:2.4.0": ("python:3.11", "python3.Dockerfile")}

    def markdown_docs(self):
        return "# Python job type"
"""


def raw_request(url: str, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> Tuple[int, bytes]:
    """A request with the path sent exactly as given (no client-side normalising)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body:
            conn.send(body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def names(admin: Admin) -> list:
    r = requests.get(f"{admin.api}/plugin", headers=admin.user(), timeout=60)
    assert r.status_code == 200, r.text
    return sorted(f"{p['name']}=={p['version']}" for p in r.json())


def test_info_and_token_checks(admin: Admin) -> None:
    for prefix in ("/api/v1", "/lifecycle/api/v1"):
        r = requests.get(admin.url + prefix + "/info", timeout=30)
        assert r.status_code == 200 and r.json()["auth_required"] is True
    r = requests.get(f"{admin.api}/users/validate_user_auth", headers=admin.staff(), timeout=30)
    assert r.json() == {"username": "alice", "staff": True}
    r = requests.get(
        f"{admin.url}/lifecycle/api/v1/users/validate_user_auth",
        headers={"Authorization": f"Bearer {admin.user_token}"},
        timeout=30,
    )
    assert r.json() == {"username": "bob", "staff": False}

    r = requests.get(f"{admin.api}/plugin", timeout=30)
    assert r.status_code == 401 and "X-Racetrack-Auth" in r.json()["error"]
    bad = admin.staff_token[:-4] + "0000" if not admin.staff_token.endswith("0000") else admin.staff_token[:-4] + "1111"
    for token in (bad, "bob.nonsense", "nobody.abc", "no-dot-at-all"):
        r = requests.get(f"{admin.api}/plugin", headers={"X-Racetrack-Auth": token}, timeout=30)
        assert r.status_code == 401, token
        assert r.json() == {"error": "invalid auth token"}
    # The token file holds hashes only.
    users_yaml = (admin.plugins_dir / "state" / "users.yaml").read_text()
    assert admin.staff_token not in users_yaml and admin.staff_token.split(".")[1] not in users_yaml
    assert "$argon2" in users_yaml


def test_install_list_docs_config_download_delete(admin: Admin) -> None:
    zip_path = sample_zip(admin.tmp / "dist")
    data = zip_path.read_bytes()
    # Racetrack's client posts the raw zip with a form-urlencoded Content-Type.
    r = requests.post(
        f"{admin.api}/plugin/upload/{zip_path.name}?replace=0",
        data=data,
        headers={**admin.staff(), "Content-Type": "application/x-www-form-urlencoded"},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    manifest = r.json()
    assert manifest["name"] == "skynet-watcher" and manifest["version"] == "1.2.3"
    assert manifest["priority"] == -1 and manifest["url"].startswith("https://")

    r = requests.get(f"{admin.url}/lifecycle/api/v1/plugin", headers=admin.user(), timeout=30)
    assert r.status_code == 200
    [listed] = r.json()
    assert listed["name"] == "skynet-watcher" and listed["status"] == "loaded" and listed["error"] is None

    r = requests.get(f"{admin.api}/plugin/skynet-watcher/docs", headers=admin.user(), timeout=30)
    assert r.status_code == 200 and r.json().startswith("# skynet-watcher")
    r = requests.get(f"{admin.api}/plugin/nope/docs", headers=admin.user(), timeout=30)
    assert r.status_code == 404 and "nope" in r.json()["error"]

    r = requests.get(f"{admin.api}/plugin/skynet-watcher/1.2.3/download", headers=admin.staff(), timeout=30)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "application/zip"
    r = requests.get(f"{admin.api}/plugin/skynet-watcher/9.9.9/download", headers=admin.staff(), timeout=30)
    assert r.status_code == 404

    cfg = f"{admin.api}/plugin/skynet-watcher/1.2.3/config"
    r = requests.get(cfg, headers=admin.staff(), timeout=30)
    assert r.status_code == 200 and r.json() in (None, "")  # no config written yet
    r = requests.put(cfg, json={"config_data": "interval: 5\n"}, headers=admin.staff(), timeout=60)
    assert r.status_code == 200 and r.json() is None, r.text
    assert requests.get(cfg, headers=admin.staff(), timeout=30).json() == "interval: 5\n"
    r = requests.put(cfg, data=b"not json", headers=admin.staff(), timeout=30)
    assert r.status_code == 400 and "config_data" in r.json()["error"]
    r = requests.put(f"{admin.api}/plugin/skynet-watcher/0.0.0/config", json={"config_data": "x"}, headers=admin.staff(), timeout=30)
    assert r.status_code == 404

    r = requests.delete(f"{admin.api}/plugin/skynet-watcher/1.2.3", headers=admin.staff(), timeout=60)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json" and r.json() is None
    assert names(admin) == []
    r = requests.delete(f"{admin.api}/plugin/skynet-watcher/1.2.3", headers=admin.staff(), timeout=60)
    assert r.status_code == 404 and "skynet-watcher" in r.json()["error"]

    actions = [(a["user"], a["action"], a["plugin"], a["version"], a["result"]) for a in audit_lines(admin.plugins_dir)]
    assert ("alice", "install", "skynet-watcher", "1.2.3", "ok") in actions
    assert ("alice", "config", "skynet-watcher", "1.2.3", "ok") in actions
    assert ("alice", "delete", "skynet-watcher", "1.2.3", "ok") in actions
    assert all(re.match(r"\d{4}-\d\d-\d\dT", a["time"]) for a in audit_lines(admin.plugins_dir))


def test_multipart_upload_replace_and_delete_all(admin: Admin) -> None:
    dist = admin.tmp / "dist"
    for version in ("1.0.0", "2.0.0"):
        path = plugin_zip(dist, "jobs", version, JOB_TYPES_PLUGIN, {"python3.Dockerfile": "FROM {{ base_image }}\n"})
        with path.open("rb") as f:
            r = requests.post(f"{admin.api}/plugin/upload", files={"file": (path.name, f)}, headers=admin.staff(), timeout=120)
        assert r.status_code == 200, r.text
    assert names(admin) == ["jobs==1.0.0", "jobs==2.0.0"]

    r = requests.get(f"{admin.api}/plugin/job_type/versions", headers=admin.user(), timeout=30)
    assert r.status_code == 200 and r.json() == ["python3:2.4.0"]

    path = plugin_zip(dist, "jobs", "3.0.0", JOB_TYPES_PLUGIN, {"python3.Dockerfile": "FROM x\n"})
    with path.open("rb") as f:
        r = requests.post(
            f"{admin.api}/plugin/upload",
            files={"file": (path.name, f)},
            data={"replace": "1"},
            headers=admin.staff(),
            timeout=120,
        )
    assert r.status_code == 200, r.text
    assert names(admin) == ["jobs==3.0.0"]
    sample = sample_zip(dist)
    r = requests.post(f"{admin.api}/plugin/upload/{sample.name}", data=sample.read_bytes(), headers=admin.staff(), timeout=120)
    assert r.status_code == 200

    r = requests.post(f"{admin.api}/plugin/upload", data={"nofile": "x"}, headers=admin.staff(), timeout=30)
    assert r.status_code == 400

    r = requests.delete(f"{admin.api}/plugin/all", headers=admin.staff(), timeout=60)
    assert r.status_code == 200 and r.json() is None
    assert names(admin) == []


def test_non_staff_reads_but_changes_nothing(admin: Admin) -> None:
    sample = sample_zip(admin.tmp / "dist")
    requests.post(f"{admin.api}/plugin/upload/{sample.name}", data=sample.read_bytes(), headers=admin.staff(), timeout=120).raise_for_status()
    assert names(admin) == ["skynet-watcher==1.2.3"]
    assert requests.get(f"{admin.api}/plugin/skynet-watcher/docs", headers=admin.user(), timeout=30).status_code == 200
    assert requests.get(f"{admin.api}/plugin/job_type/versions", headers=admin.user(), timeout=30).json() == []

    denied = [
        requests.post(f"{admin.api}/plugin/upload/{sample.name}", data=sample.read_bytes(), headers=admin.user(), timeout=30),
        requests.post(f"{admin.api}/plugin/upload", files={"file": (sample.name, sample.read_bytes())}, headers=admin.user(), timeout=30),
        requests.delete(f"{admin.api}/plugin/skynet-watcher/1.2.3", headers=admin.user(), timeout=30),
        requests.delete(f"{admin.api}/plugin/all", headers=admin.user(), timeout=30),
        requests.get(f"{admin.api}/plugin/skynet-watcher/1.2.3/config", headers=admin.user(), timeout=30),
        requests.put(f"{admin.api}/plugin/skynet-watcher/1.2.3/config", json={"config_data": "x"}, headers=admin.user(), timeout=30),
        requests.get(f"{admin.api}/plugin/skynet-watcher/1.2.3/download", headers=admin.user(), timeout=30),
    ]
    for r in denied:
        assert r.status_code == 403, (r.request.method, r.url, r.text)
        assert "bob is not staff" in r.json()["error"]
    assert names(admin) == ["skynet-watcher==1.2.3"]


def test_bad_uploads_are_400_and_keep_the_working_plugin(admin: Admin) -> None:
    dist = admin.tmp / "dist"
    good = plugin_zip(dist / "good", "keeper", "1.0", "class Plugin:\n    pass\n")
    requests.post(f"{admin.api}/plugin/upload/{good.name}", data=good.read_bytes(), headers=admin.staff(), timeout=120).raise_for_status()

    broken = plugin_zip(dist / "broken", "keeper", "1.0", "class Plugin:\n    def __init__(self):\n        raise RuntimeError('no database')\n")
    r = requests.post(f"{admin.api}/plugin/upload/{broken.name}", data=broken.read_bytes(), headers=admin.staff(), timeout=120)
    assert r.status_code == 400
    assert "keeper-1.0.zip" in r.json()["error"] and "no database" in r.json()["error"]

    r = requests.post(f"{admin.api}/plugin/upload/junk.zip", data=b"this is not a zip", headers=admin.staff(), timeout=30)
    assert r.status_code == 400 and "junk.zip" in r.json()["error"]

    bad_manifest = dist / "badman.zip"
    with zipfile.ZipFile(bad_manifest, "w") as zf:
        zf.writestr("plugin-manifest.yaml", "name: x\n")
        zf.writestr("plugin.py", "class Plugin: pass\n")
    r = requests.post(f"{admin.api}/plugin/upload/badman.zip", data=bad_manifest.read_bytes(), headers=admin.staff(), timeout=30)
    assert r.status_code == 400 and "badman.zip" in r.json()["error"] and "version" in r.json()["error"]

    r = requests.post(f"{admin.api}/plugin/upload/plugin.tar.gz", data=good.read_bytes(), headers=admin.staff(), timeout=30)
    assert r.status_code == 400 and ".zip" in r.json()["error"]
    r = requests.post(f"{admin.api}/plugin/upload/{good.name}?replace=maybe", data=good.read_bytes(), headers=admin.staff(), timeout=30)
    assert r.status_code == 400

    r = requests.get(f"{admin.api}/plugin", headers=admin.user(), timeout=30)
    assert [(p["name"], p["status"]) for p in r.json()] == [("keeper", "loaded")]
    failed = [a for a in audit_lines(admin.plugins_dir) if a["result"] == "error"]
    assert failed and all(a["action"] == "install" for a in failed)


@pytest.mark.parametrize(
    "filename",
    ["..", "%2e%2e", "%2E%2E%2Fevil.zip", "..%2Fevil.zip", "a%2Fb.zip", "a/b.zip", "..%5Cevil.zip", "a%5Cb.zip", "evil%00.zip", "..zip.zip/..", "%2e%2e/%2e%2e/evil.zip"],
)
def test_path_tricks_in_filename(admin: Admin, filename: str) -> None:
    zip_bytes = sample_zip(admin.tmp / "dist").read_bytes()
    status, body = raw_request(admin.url, "POST", f"/api/v1/plugin/upload/{filename}", zip_bytes, admin.staff())
    assert status == 400, body
    assert b'"error"' in body
    assert names(admin) == []
    outside = [p for p in admin.tmp.rglob("*") if p.name.startswith("evil")]
    assert outside == []


@pytest.mark.parametrize(
    "method,path",
    [
        ("DELETE", "/api/v1/plugin/..%2F..%2Fstate/1.0"),
        ("DELETE", "/api/v1/plugin/%2e%2e/1.0"),
        ("DELETE", "/api/v1/plugin/x/..%2F.."),
        ("DELETE", "/lifecycle/api/v1/plugin/x%00/1.0"),
        ("GET", "/api/v1/plugin/..%5Cx/1.0/config"),
        ("PUT", "/api/v1/plugin/%2e%2e/%2e%2e/config"),
        ("GET", "/api/v1/plugin/%2e%2e/1.0/download"),
        ("GET", "/api/v1/plugin/..%2Fx/docs"),
    ],
)
def test_path_tricks_in_names(admin: Admin, method: str, path: str) -> None:
    status, body = raw_request(admin.url, method, path, b'{"config_data": "x"}', admin.staff())
    assert status == 400, body
    assert b"not a plain name" in body
    assert (admin.plugins_dir / "state" / "users.yaml").exists()


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


def test_failed_logins_are_throttled_but_valid_tokens_work(tmp_path: Path) -> None:
    for admin in start_admin(tmp_path):
        wrong = {"X-Racetrack-Auth": "alice." + "0" * 64}
        statuses = [requests.get(f"{admin.api}/plugin", headers=wrong, timeout=60).status_code for _ in range(10)]
        assert statuses == [401] * 10
        r = requests.get(f"{admin.api}/plugin", headers=wrong, timeout=60)
        assert r.status_code == 429 and "too many failed logins" in r.json()["error"]
        assert requests.get(f"{admin.api}/plugin", headers=admin.staff(), timeout=60).status_code == 200
        assert requests.get(f"{admin.api}/plugin", headers=admin.user(), timeout=60).status_code == 200
        assert requests.get(f"{admin.api}/plugin", headers={"X-Racetrack-Auth": "x.y"}, timeout=60).status_code == 429
        assert "failed login" in admin.server.log()


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


def test_unknown_api_route_is_json_404(admin: Admin) -> None:
    r = requests.get(f"{admin.api}/nothing/here", headers=admin.staff(), timeout=30)
    assert r.status_code == 404 and "error" in r.json()


def test_no_auth_is_loopback_only(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    out = run_cli(plugins, "serve", "--no-auth", "--bind", "0.0.0.0:0")
    assert out.returncode == 2 and "loopback" in out.stderr

    server = Server(plugins, tmp_path / "logs", "--no-auth")
    try:
        assert requests.get(f"{server.api}/info", timeout=30).json()["auth_required"] is False
        sample = sample_zip(tmp_path / "dist")
        r = requests.post(f"{server.api}/plugin/upload/{sample.name}", data=sample.read_bytes(), timeout=120)
        assert r.status_code == 200, r.text
        assert audit_lines(plugins)[-1]["user"] == "anonymous"
    finally:
        assert server.stop() == 0


def test_users_commands(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    token = add_user(plugins, "carol", staff=True)
    assert token.startswith("carol.") and len(token) == len("carol.") + 64
    assert run_cli(plugins, "users", "add", "carol").returncode == 2
    assert run_cli(plugins, "users", "add", "../x").returncode == 2
    add_user(plugins, "dave")
    assert run_cli(plugins, "users", "list").stdout.split("\n")[:2] == ["carol staff", "dave"]
    assert run_cli(plugins, "users", "remove", "dave").returncode == 0
    assert run_cli(plugins, "users", "remove", "dave").returncode == 1
    assert "dave" not in run_cli(plugins, "users", "list").stdout


def test_removed_user_is_refused_by_a_running_server(admin: Admin) -> None:
    assert requests.get(f"{admin.api}/plugin", headers=admin.user(), timeout=30).status_code == 200
    assert run_cli(admin.plugins_dir, "users", "remove", "bob").returncode == 0
    assert requests.get(f"{admin.api}/plugin", headers=admin.user(), timeout=30).status_code == 401


def _login(admin: Admin, session: requests.Session, name: str, token: str) -> requests.Response:
    page = session.get(f"{admin.url}/login", timeout=30)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert csrf, page.text
    return session.post(f"{admin.url}/login", data={"name": name, "token": token, "csrf": csrf.group(1)}, allow_redirects=False, timeout=60)


def test_page_forms_need_csrf_and_cookies_are_strict(admin: Admin) -> None:
    s = requests.Session()
    r = s.post(f"{admin.url}/login", data={"name": "alice", "token": admin.staff_token}, allow_redirects=False, timeout=30)
    assert r.status_code == 403
    r = _login(admin, s, "alice", admin.staff_token)
    assert r.status_code == 303 and r.headers["location"].endswith("/admin")
    cookie = r.headers["set-cookie"]
    assert "rtp_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie
    admin_page = s.get(f"{admin.url}/admin", timeout=30)
    assert admin_page.status_code == 200 and "Upload a plugin" in admin_page.text
    sample = sample_zip(admin.tmp / "dist")
    r = s.post(f"{admin.url}/admin/upload", files={"file": (sample.name, sample.read_bytes())}, allow_redirects=False, timeout=60)
    assert r.status_code == 403 and names(admin) == []
    r = s.post(f"{admin.url}/admin/upload", files={"file": (sample.name, sample.read_bytes())}, data={"csrf": "0" * 64}, allow_redirects=False, timeout=60)
    assert r.status_code == 403 and names(admin) == []
    r = s.post(f"{admin.url}/logout", data={"csrf": "wrong"}, allow_redirects=False, timeout=30)
    assert r.status_code == 403

    s2 = requests.Session()
    assert _login(admin, s2, "bob", admin.user_token).headers["location"].endswith("/plugins")
    assert s2.get(f"{admin.url}/admin", timeout=30).status_code == 403
    assert "Administration" not in s2.get(f"{admin.url}/plugins", timeout=30).text
    r = _login(admin, requests.Session(), "alice", admin.user_token)
    assert r.status_code == 401


def test_secure_cookie_behind_tls(tmp_path: Path) -> None:
    for admin in start_admin(tmp_path, "--behind-tls"):
        # A client keeps Secure cookies for https only, so this one is sent by hand.
        page = requests.get(f"{admin.url}/login", timeout=30)
        assert "Secure" in page.headers["set-cookie"]
        csrf = page.cookies.get("rtp_csrf") or re.search(r"rtp_csrf=([0-9a-f]+)", page.headers["set-cookie"]).group(1)  # type: ignore[union-attr]
        r = requests.post(
            f"{admin.url}/login",
            data={"name": "alice", "token": admin.staff_token, "csrf": csrf},
            headers={"Cookie": f"rtp_csrf={csrf}"},
            allow_redirects=False,
            timeout=60,
        )
        assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
