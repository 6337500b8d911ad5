"""The compare page in headless Chromium at 1280 and 390 px, with two real jobs.

Screenshots: artifacts/browser/pages-compare-1280.png and pages-compare-390.png.
"""

import re
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from .support import ApiClient, Stack, wait_until
from .support.browser import chromium, console_errors
from .support.pages import login
from .test_job_compare import create_pair
from .test_pages_browser import HEIGHT, WIDTHS, emulate, fill, fits_the_width, log_in, screenshot

pytestmark = pytest.mark.integration

SERIES = ("a-train", "a-valid", "b-train", "b-valid")


@pytest.fixture(scope="module")
def pair(client: ApiClient, stack: Stack) -> tuple[dict, dict]:
    """Jobs A (1 epoch, learning rate 0.05) and B (8 epochs, 0.5) on the same data."""
    return create_pair(client, stack)


def drawn(driver: WebDriver, series: str) -> tuple[int, int]:
    """How many lines and points of a series the compare chart draws."""
    chart = "#compare-loss-chart .size-wide svg"  # the narrow one draws lines only
    lines = driver.find_elements(By.CSS_SELECTOR, f'{chart} polyline[data-series="{series}"]')
    points = driver.find_elements(By.CSS_SELECTOR, f'{chart} circle[data-series="{series}"]')
    return len(lines), len(points)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_compare_page_overlays_both_jobs_and_names_what_differs(
    width: int, pair: tuple[dict, dict], stack: Stack, tmp_path: Path
) -> None:
    a, b = pair
    with chromium(tmp_path, width=max(width, 500), height=HEIGHT) as driver:
        emulate(driver, width)
        log_in(driver, stack.base_url, "/ui/jobs")
        driver.find_element(By.ID, "nav-compare").click()
        wait_until(lambda: driver.find_elements(By.ID, "compare-form"), 15, driver.current_url)
        fill(driver, "a", a["id"])
        driver.find_element(By.ID, "compare-button").click()
        wait_until(lambda: driver.find_elements(By.ID, "b-error"), 15, lambda: driver.page_source)
        assert not driver.find_elements(By.ID, "a-error")  # only the empty field is named
        assert driver.find_element(By.ID, "a").get_attribute("value") == a["id"]

        fill(driver, "b", b["id"])
        driver.find_element(By.ID, "compare-button").click()
        wait_until(
            lambda: driver.find_elements(By.ID, "compare-loss-chart"), 15, driver.page_source
        )
        epochs = {"a": len(a["result"]["epochs"]), "b": len(b["result"]["epochs"])}
        for series in SERIES:
            assert drawn(driver, series) == (1, epochs[series[0]]), series
        config = driver.find_element(By.ID, "config-table").text
        assert "used.n_epochs" in config and "used.learning_rate" in config
        assert driver.find_elements(
            By.CSS_SELECTOR, '#delta-table tr[data-method="paired_bootstrap"]'
        )
        assert driver.find_elements(By.CSS_SELECTOR, "#task-delta-table tbody tr")
        listed = driver.find_elements(By.CSS_SELECTOR, "#cases .pair")
        assert listed, "the jobs differ on some case: it is listed"
        assert driver.execute_script("return window.innerWidth") == width
        assert fits_the_width(driver), f"the compare page scrolls sideways at {width} px"
        shot = screenshot(driver, f"pages-compare-{width}", width)
        assert console_errors(driver) == []
    print(f"\nscreenshot: {shot}")


def test_the_form_names_the_field_of_an_empty_missing_or_unfinished_job(
    client: ApiClient, pair: tuple[dict, dict], stack: Stack
) -> None:
    a = pair[0]["id"]
    gone = "ftjob-" + "0" * 24
    queued = client.post("/v1/jobs", json={"task_types": ["none-here"], "include_synthetic": False})
    assert queued.status_code == 202, queued.text
    with requests.Session() as session:
        session.trust_env = False
        assert login(session, stack.base_url).status_code == 303
        page = f"{stack.base_url}/ui/compare"
        for query, status, named in [
            ({"a": a}, 200, None),  # a link that fills A waits for B
            ({"a": a, "b": ""}, 200, ("b", "Enter a job id")),
            ({"a": a, "b": gone}, 404, ("b", gone)),
            ({"a": "nope", "b": a}, 404, ("a", "nope")),
            ({"a": a, "b": queued.json()["id"]}, 409, ("b", "no result")),
        ]:
            answer = session.get(page, params=query, timeout=30)
            assert answer.status_code == status, (query, answer.status_code, answer.text[:300])
            errors = re.findall(r'<p class="error" id="(\w)-error">([^<]*)</p>', answer.text)
            if named is None:
                assert errors == [], (query, errors)
            else:
                assert [f for f, _ in errors] == [named[0]] and named[1] in errors[0][1], errors
            assert 'id="compare-loss-chart"' not in answer.text
