"""The login page and the autopilot pages in headless Chromium at 1280 and 390 px, with a run.

An autopilot of a private stack (its scheduler ticks every second) starts a real run on
Banking77's four-intent subset; its list and its page, with that run, are shown at both
widths. Screenshots: artifacts/browser/pages-{login,autopilots,autopilot}-{1280,390}.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from .support import Stack, client_for
from .support.browser import chromium, console_errors
from .support.scheduler import scheduled_stack
from .test_autopilot import SETTINGS, create, post_ratings, rows, wait_run
from .test_pages_browser import HEIGHT, WIDTHS, emulate, fits_the_width, log_in, screenshot

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def autopilot_run() -> Iterator[tuple[Stack, dict]]:
    """A private stack and an autopilot whose first run (a real job) has ended."""
    with (
        scheduled_stack("tuneloop-autopilot-pages-", SETTINGS) as stack,
        client_for(stack) as client,
    ):
        post_ratings(client, rows()[:200])
        made = create(client, name="banking pages", trigger={"new_ratings": 20})
        post_ratings(client, rows("test.csv")[:20])
        yield stack, wait_run(stack, client, made["id"])


def test_the_login_page_fits_both_widths(autopilot_run: tuple[Stack, dict], tmp_path: Path) -> None:
    stack, _ = autopilot_run
    for width in WIDTHS:
        with chromium(tmp_path, width=max(width, 500), height=HEIGHT) as driver:
            emulate(driver, width)
            driver.get(f"{stack.base_url}/")  # the root sends a visitor to the login form
            assert driver.find_element(By.ID, "login-form")
            assert driver.execute_script("return window.innerWidth") == width
            assert fits_the_width(driver), f"the login page scrolls sideways at {width} px"
            screenshot(driver, f"pages-login-{width}", width)
            assert console_errors(driver) == []


@pytest.mark.parametrize("width", WIDTHS)
def test_the_autopilot_pages_show_its_run_at_both_widths(
    width: int, autopilot_run: tuple[Stack, dict], tmp_path: Path
) -> None:
    stack, autopilot = autopilot_run
    run = autopilot["runs"][0]
    with chromium(tmp_path, width=max(width, 500), height=HEIGHT) as driver:
        emulate(driver, width)
        log_in(driver, stack.base_url, "/ui/autopilots")
        row = driver.find_element(By.CSS_SELECTOR, f'tr[data-autopilot-id="{autopilot["id"]}"]')
        assert "banking pages" in row.text
        assert driver.execute_script("return window.innerWidth") == width
        assert fits_the_width(driver), f"the autopilots list scrolls sideways at {width} px"
        screenshot(driver, f"pages-autopilots-{width}", width)

        driver.get(f"{stack.base_url}/ui/autopilots/{autopilot['id']}")
        shown = driver.find_element(By.CSS_SELECTOR, f'tr.run-row[data-job-id="{run["job_id"]}"]')
        assert run["status"] in shown.text
        assert driver.find_element(By.ID, "autopilot-toggle").text == "Pause"
        assert driver.execute_script("return window.innerWidth") == width
        assert fits_the_width(driver), f"the autopilot page scrolls sideways at {width} px"
        screenshot(driver, f"pages-autopilot-{width}", width)
        assert console_errors(driver) == []
