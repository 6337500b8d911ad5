"""Headless Chromium for the browser tests: Debian's chromium and chromedriver, driven by selenium.

Usage:

    with chromium(tmp_path) as driver:   # a selenium WebDriver, quit at the end
        driver.get(f"{stack.base_url}/docs")
        save_screenshot(driver, "docs")   # -> artifacts/browser/docs.png
        assert console_errors(driver) == []

Chromium gets a fresh profile under tmp_path and resolves no host but this machine's, so a page
that needs the internet (a CDN script, a font) fails in the test instead of working by chance.
When chromium or chromedriver is missing the test is skipped, saying what to install; in CI
(CI set) it fails instead: `make test` installs both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

REPO = Path(__file__).resolve().parents[3]
# Screenshots and other files a test leaves for people to look at (TUNELOOP_ARTIFACTS moves them).
ARTIFACTS = Path(os.environ.get("TUNELOOP_ARTIFACTS") or REPO / "artifacts") / "browser"
PAGE_LOAD_TIMEOUT = 30.0
MAX_SCREENSHOT_HEIGHT = 8000  # pixels: a long page is cut there
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",  # containers often have a small /dev/shm
    # Only this machine resolves: a page that fetches from the internet shows it at once.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
)
INSTALL = "install Debian's chromium and chromium-driver (services/devstack/bootstrap.sh does)"


def _binaries() -> tuple[str, str]:
    """Paths of chromium and chromedriver; skip (fail in CI) when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser and driver:
        return browser, driver
    missing = [name for name, path in (("chromium", browser), ("chromedriver", driver)) if not path]
    message = f"{' and '.join(missing)} not on PATH: {INSTALL}"
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{message}; CI must have them", pytrace=False)
    pytest.skip(message)


@contextlib.contextmanager
def chromium(tmp_path: Path, width: int = 1280, height: int = 900) -> Iterator[WebDriver]:
    """A headless Chromium with a fresh profile under tmp_path, as a selenium WebDriver."""
    browser, driver_path = _binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = browser  # with both paths given, Selenium Manager never runs
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # for console_errors()
    service = Service(executable_path=driver_path, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT)
        yield driver
    finally:
        driver.quit()


def console_errors(driver: WebDriver) -> list[str]:
    """The console messages of level SEVERE since the last call (uncaught errors, failed loads).

    The browser's own request for /favicon.ico is left out: no page asks for it.
    """
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "/favicon.ico " not in entry["message"]
    ]


def save_screenshot(driver: WebDriver, name: str) -> Path:
    """Save a PNG of the whole page (up to a height) as ARTIFACTS/NAME.png; return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = driver.get_window_size()
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(size["width"], min(max(height, size["height"]), MAX_SCREENSHOT_HEIGHT))
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(size["width"], size["height"])
    return path
