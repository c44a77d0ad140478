"""Racetrack's plugin API served by ``racetrack-plugin serve``, over real HTTP on a
loopback port: every route, every error status, path tricks (limits and concurrency
are in ``test_admin_api_limits.py``, users and logins in ``test_admin_api_auth.py``)."""

from __future__ import annotations

import http.client
import re
import zipfile
from typing import Tuple
from urllib.parse import urlsplit

import pytest
import requests

from admin_support import (
    Admin,
    admin,  # noqa: F401  (fixture)
    audit_lines,
    names,
    plugin_zip,
    sample_zip,
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


def test_unknown_api_route_is_json_404(admin: Admin) -> None:
    r = requests.get(f"{admin.api}/nothing/here", headers=admin.staff(), timeout=30)
    assert r.status_code == 404 and "error" in r.json()
