"""The Administration page in a real browser: Debian's headless Chromium driven by
selenium. Screenshots of each step go to ``<tmp_path>/screenshots``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from admin_support import Admin, admin, plugin_zip, sample_zip  # noqa: F401  (fixture)


def _find(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"none of {names} on PATH: scripts/test.sh installs chromium and chromium-driver")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = _find("chromium", "chromium-browser")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(executable_path=_find("chromedriver")), options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


class Steps:
    def __init__(self, driver: WebDriver, out: Path) -> None:
        self.driver = driver
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def shot(self, name: str) -> Path:
        self.n += 1
        path = self.out / f"{self.n:02d}-{name}.png"
        assert self.driver.save_screenshot(str(path))
        return path


def navigate(driver: WebDriver, action: "WebElement | str", keys: str = "") -> None:
    """Clicks (or types ``keys`` into) an element and waits for the next page to load.

    The old page is marked with a script variable, and the next page is the one without
    it. (Waiting for the old ``<html>`` element to go stale races with ChromeDriver,
    which may answer "node does not belong to the document" mid-navigation.)
    """
    driver.execute_script("window.__leaving = true;")
    element = driver.find_element(By.CSS_SELECTOR, action) if isinstance(action, str) else action
    if keys:
        element.send_keys(keys)
    else:
        element.click()

    def next_page_loaded(d: WebDriver) -> bool:
        try:
            return bool(
                d.execute_script(
                    "return window.__leaving === undefined && document.readyState === 'complete'"
                )
            )
        except WebDriverException:
            return False  # mid-navigation: ask again

    WebDriverWait(driver, 120).until(next_page_loaded)


def login(driver: WebDriver, url: str, name: str, token: str) -> None:
    """With the keyboard only: type, Tab to the token, Enter."""
    driver.get(f"{url}/login")
    field = driver.find_element(By.ID, "name")
    field.send_keys(name)
    field.send_keys(Keys.TAB)
    navigate(driver, driver.switch_to.active_element, token + Keys.ENTER)


def nav_links(driver: WebDriver) -> list:
    return [a.text for a in driver.find_elements(By.CSS_SELECTOR, "header a")]


def test_staff_uploads_reads_docs_and_deletes(admin: Admin, browser: WebDriver, tmp_path: Path) -> None:
    steps = Steps(browser, tmp_path / "screenshots")
    browser.get(admin.url)
    assert browser.current_url.endswith("/login")
    steps.shot("login")
    login(browser, admin.url, "alice", admin.staff_token)
    assert browser.current_url.endswith("/admin")
    assert "Administration" in nav_links(browser)
    steps.shot("admin-empty")

    zip_path = sample_zip(tmp_path / "dist")
    browser.find_element(By.ID, "file").send_keys(str(zip_path))
    navigate(browser, "form[action$='/admin/upload'] button[type=submit]")
    assert "Installed plugin skynet-watcher 1.2.3." in browser.find_element(By.CSS_SELECTOR, ".notice").text
    row = browser.find_element(By.CSS_SELECTOR, "tr[data-plugin='skynet-watcher-1.2.3']")
    assert "loaded" in row.text and "-1" in row.text and "https://github.com/TheRacetrack/racetrack" in row.text
    steps.shot("uploaded")

    broken = plugin_zip(tmp_path / "broken", "broken", "0.1", "raise ImportError('missing dependency xyz')\n")
    browser.find_element(By.ID, "file").send_keys(str(broken))
    navigate(browser, "form[action$='/admin/upload'] button[type=submit]")
    error = browser.find_element(By.ID, "upload-error").text
    assert "broken-0.1.zip" in error and "missing dependency xyz" in error
    assert not browser.find_elements(By.CSS_SELECTOR, "tr[data-plugin='broken-0.1']")
    steps.shot("upload-refused")

    row = browser.find_element(By.CSS_SELECTOR, "tr[data-plugin='skynet-watcher-1.2.3']")
    navigate(browser, row.find_element(By.LINK_TEXT, "Config"))
    area = browser.find_element(By.ID, "config_data")
    area.clear()
    area.send_keys("watch: all\n")
    navigate(browser, "form[action$='/config'] button[type=submit]")
    assert "Saved the config of skynet-watcher 1.2.3." in browser.find_element(By.CSS_SELECTOR, ".notice").text
    cfg = admin.plugins_dir / "config" / "skynet-watcher-1.2.3" / "config.yaml"
    assert cfg.read_text() == "watch: all\n"

    row = browser.find_element(By.CSS_SELECTOR, "tr[data-plugin='skynet-watcher-1.2.3']")
    navigate(browser, row.find_element(By.LINK_TEXT, "Docs"))
    assert browser.find_element(By.CSS_SELECTOR, "article.docs h1").text == "skynet-watcher"
    assert "SKYNET_WATCHER" in browser.find_element(By.CSS_SELECTOR, "article.docs code").text
    steps.shot("docs")

    browser.get(f"{admin.url}/admin")
    row = browser.find_element(By.CSS_SELECTOR, "tr[data-plugin='skynet-watcher-1.2.3']")
    navigate(browser, row.find_element(By.LINK_TEXT, "Delete"))
    assert "Delete skynet-watcher 1.2.3?" in browser.find_element(By.TAG_NAME, "h1").text
    steps.shot("delete-confirm")
    # Keyboard: the confirm button has focus.
    navigate(browser, browser.switch_to.active_element, Keys.ENTER)
    assert "Deleted plugin skynet-watcher 1.2.3." in browser.find_element(By.CSS_SELECTOR, ".notice").text
    assert not browser.find_elements(By.CSS_SELECTOR, "tr[data-plugin='skynet-watcher-1.2.3']")
    assert not (admin.plugins_dir / "skynet-watcher-1.2.3.zip").exists()
    steps.shot("deleted")

    # Phone width: nothing wider than the screen.
    requests_zip = sample_zip(tmp_path / "dist2")
    browser.find_element(By.ID, "file").send_keys(str(requests_zip))
    navigate(browser, "form[action$='/admin/upload'] button[type=submit]")
    browser.set_window_size(390, 844)
    browser.get(f"{admin.url}/admin")
    overflow = browser.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    steps.shot("phone")


def test_non_staff_is_refused_the_administration_page(admin: Admin, browser: WebDriver, tmp_path: Path) -> None:
    steps = Steps(browser, tmp_path / "screenshots")
    login(browser, admin.url, "bob", admin.user_token)
    assert browser.current_url.endswith("/plugins")
    assert "Administration" not in nav_links(browser)
    steps.shot("non-staff-plugins")
    browser.get(f"{admin.url}/admin")
    assert "Not allowed" in browser.find_element(By.TAG_NAME, "h1").text
    assert "not staff" in browser.find_element(By.CSS_SELECTOR, ".alert").text
    assert not browser.find_elements(By.ID, "file")
    steps.shot("non-staff-refused")

    browser.delete_all_cookies()
    login(browser, admin.url, "alice", "alice." + "0" * 64)
    assert "Wrong user name or token." in browser.find_element(By.CSS_SELECTOR, ".alert").text


XSS_DOCS = '''
class Plugin:
    def markdown_docs(self):
        return """# Docs with tricks

<script>document.title = "pwned-script"; alert("pwned");</script>

<img src="x" onerror="document.title = 'pwned-img'">

[click me](javascript:document.title='pwned-link')
"""
'''


def test_docs_cannot_run_script(admin: Admin, browser: WebDriver, tmp_path: Path) -> None:
    steps = Steps(browser, tmp_path / "screenshots")
    path = plugin_zip(tmp_path / "dist", "tricky", "1.0", XSS_DOCS)
    with path.open("rb") as f:
        import requests

        r = requests.post(f"{admin.api}/plugin/upload/{path.name}", data=f.read(), headers=admin.staff(), timeout=120)
    assert r.status_code == 200, r.text
    login(browser, admin.url, "alice", admin.staff_token)
    browser.get(f"{admin.url}/plugins/tricky/docs")
    article = browser.find_element(By.CSS_SELECTOR, "article.docs")
    assert '<script>document.title = "pwned-script"' in article.text
    assert not article.find_elements(By.TAG_NAME, "script")
    assert not article.find_elements(By.TAG_NAME, "img")
    article.find_element(By.LINK_TEXT, "click me").click()
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text
    assert "pwned" not in browser.title
    steps.shot("docs-escaped")
