"""Who may use the plugin API, over real HTTP: failed logins throttled, ``--no-auth``
only on loopback, the ``users`` commands, the page's logins, CSRF and cookies."""

from __future__ import annotations

import re
from pathlib import Path

import requests

from admin_support import (
    Admin,
    Server,
    add_user,
    admin,  # noqa: F401  (fixture)
    audit_lines,
    names,
    run_cli,
    sample_zip,
    start_admin,
)


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
