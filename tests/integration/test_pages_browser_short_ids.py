"""The page an ambiguous short id answers, in headless Chromium at 1280 and 390 px: it links
each candidate, a click opens that job's page, and nothing scrolls sideways."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from .support import ApiClient, Stack, failed_jobs, wait_until
from .support.browser import chromium, console_errors
from .test_pages_browser import HEIGHT, WIDTHS, emulate, fits_the_width, log_in, screenshot

pytestmark = pytest.mark.integration

TAG = secrets.token_hex(3)


@pytest.fixture(scope="module")
def jobs(client: ApiClient) -> list[str]:
    """Two real jobs that fail at once (their task type has no data), oldest first."""
    return failed_jobs(client, 2, f"none{TAG}")


@pytest.mark.parametrize("width", WIDTHS)
def test_an_ambiguous_short_id_links_each_candidate(
    width: int, jobs: list[str], stack: Stack, tmp_path: Path
) -> None:
    with chromium(tmp_path, width=max(width, 500), height=HEIGHT) as driver:
        emulate(driver, width)
        log_in(driver, stack.base_url, "/ui/jobs/ftjob-")
        links = driver.find_elements(By.CSS_SELECTOR, "#candidates a")
        assert [a.text for a in links[:2]] == jobs[::-1]
        detail = driver.find_element(By.ID, "ambiguous-detail").text
        assert "have ids starting with ftjob-" in detail, detail
        assert fits_the_width(driver), f"the candidates page scrolls sideways at {width} px"
        screenshot(driver, f"pages-ambiguous-{width}", width)
        links[1].click()
        wait_until(
            lambda: driver.current_url.endswith(f"/ui/jobs/{jobs[0]}"),
            15,
            lambda: driver.current_url,
        )
        assert console_errors(driver) == []
