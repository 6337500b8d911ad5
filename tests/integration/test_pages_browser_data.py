"""The interactions pages in headless Chromium at 1280 and 390 px: filter, open, edit.

Banking77 rows of a model unique to this module are posted through the API. Screenshots go to
artifacts/browser/pages-interactions-<width>.png and pages-interaction-<width>.png.
"""

import uuid
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from .support import ApiClient, Stack, wait_until
from .support.banking77_rows import post_rows, varied_rows
from .support.browser import chromium, console_errors
from .test_pages_browser import HEIGHT, WIDTHS, emulate, fill, fits_at, log_in, screenshot, text_of

pytestmark = pytest.mark.integration


@pytest.fixture
def rows(client: ApiClient) -> dict:
    """Sixteen rated Banking77 rows of a new model for each test, some with a named score."""
    model = f"browser-data-{uuid.uuid4().hex[:8]}"
    return {"model": model, "records": post_rows(client, varied_rows(4, model))}


def listed(driver: WebDriver) -> list[str] | None:
    """The ids of the rows the list shows, in order; None while the next page replaces it."""
    try:
        rows = driver.find_elements(By.CSS_SELECTOR, "#interactions-table tr.interaction-row")
        return [row.get_attribute("data-interaction-id") for row in rows]
    except StaleElementReferenceException:
        return None


@pytest.mark.parametrize("width", WIDTHS)
def test_filter_open_and_edit_an_interaction(
    width: int, rows: dict, client: ApiClient, stack: Stack, tmp_path: Path
) -> None:
    model, records = rows["model"], rows["records"]
    with chromium(tmp_path, width=max(width, 500), height=HEIGHT) as driver:
        emulate(driver, width)
        log_in(driver, stack.base_url, "/ui/interactions")
        driver.get(f"{stack.base_url}/ui/interactions?model={model}")
        assert listed(driver) == [r["id"] for r in records]

        fill(driver, "filter-q", "card")
        fill(driver, "filter-min-rating", "0.3")
        driver.find_element(By.ID, "filter-button").click()
        wanted = [
            r["id"]
            for r in records
            if "card" in (r["input"] + r["output"]).lower() and r["rating"] >= 0.3
        ]
        assert 0 < len(wanted) < len(records)
        wait_until(
            lambda: listed(driver) == wanted,
            15,
            lambda: f"{driver.current_url}: {listed(driver)} != {wanted}",
        )
        assert fits_at(driver, width), f"the interactions list scrolls sideways at {width} px"
        if width >= 1280:  # a laptop sees every column without scrolling the table either
            assert driver.execute_script(
                "const box = document.querySelector('.scroll');"
                "return box.scrollWidth <= box.clientWidth + 1"
            ), "the interactions table scrolls inside its box at 1280 px"
        screenshot(driver, f"pages-interactions-{width}", width)

        scored = [r for r in records if r["id"] in wanted and r["scores"]]
        before = (scored or [r for r in records if r["id"] == wanted[0]])[0]
        target = before["id"]
        driver.find_element(By.CSS_SELECTOR, f'a[href="/ui/interactions/{target}"]').click()
        wait_until(lambda: driver.find_elements(By.ID, "edit-form"), 15, lambda: driver.current_url)
        assert fits_at(driver, width), f"the interaction page scrolls sideways at {width} px"
        new_rating = 0.05 if before["rating"] != 0.05 else 0.95
        fill(driver, "edit-rating", str(new_rating))
        driver.find_element(By.ID, "save").click()
        wait_until(
            lambda: "new version" in text_of(driver, "notice"), 15, lambda: driver.page_source[:500]
        )
        versions = driver.find_elements(By.CSS_SELECTOR, "#versions-table tr.version-row")
        assert versions[0].get_attribute("data-version") == str(len(versions))
        assert f"{before['rating']} → {new_rating}" in versions[0].text
        assert driver.find_elements(
            By.CSS_SELECTOR, '#events-table tr[data-type="interaction.updated"]'
        )
        assert client.get(f"/v1/interactions/{target}").json()["rating"] == new_rating
        assert fits_at(driver, width), f"the interaction page scrolls sideways at {width} px"
        screenshot(driver, f"pages-interaction-{width}", width)

        assert console_errors(driver) == []

        fill(driver, "edit-rating", "2")
        driver.find_element(By.ID, "save").click()
        wait_until(lambda: text_of(driver, "error-rating"), 15, lambda: driver.page_source[:500])
        assert client.get(f"/v1/interactions/{target}").json()["rating"] == new_rating
        assert fits_at(driver, width), f"the form's error scrolls sideways at {width} px"
        # Chromium logs the form's 422 answer as a failed load; nothing else may be logged.
        logged = console_errors(driver)
        assert len(logged) == 1 and f"/ui/interactions/{target}/edit" in logged[0], logged
        assert "status of 422" in logged[0], logged
