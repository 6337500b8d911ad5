"""The report pages in headless Chromium: a real job's pages at two widths, live progress, cancel.

Screenshots go to artifacts/browser/pages-*.png (support/browser.py: ARTIFACTS).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from .support import (
    API_KEY,
    SLOW_EPOCHS,
    ApiClient,
    Stack,
    client_for,
    create_job,
    fault_stack,
    seed_interactions,
    wait_for_job,
    wait_job_status,
    wait_until,
)
from .support.browser import ARTIFACTS, MAX_SCREENSHOT_HEIGHT, chromium, console_errors

WIDTHS = (1280, 390)  # a laptop and a phone
HEIGHT = 900


@pytest.fixture(scope="module")
def finished_job(client: ApiClient, stack: Stack) -> dict:
    """A real fine-tuning job of the session stack, succeeded, with held-out evaluation cases."""
    seed_interactions(client)
    job_id = create_job(client, 8, holdout_fraction=0.25)
    return wait_for_job(client, stack, job_id)


def text_of(driver: WebDriver, element_id: str) -> str:
    """The element's text, or "" while the page that holds it is loading."""
    try:
        return driver.find_element(By.ID, element_id).text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def log_in(driver: WebDriver, base_url: str, page: str) -> None:
    """Open a page, get sent to the login form, log in with the key and land on the page."""
    driver.get(f"{base_url}{page}")
    assert driver.find_element(By.ID, "login-form")
    driver.find_element(By.ID, "api_key").send_keys(API_KEY)
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait_until(lambda: driver.current_url == f"{base_url}{page}", 15, lambda: driver.current_url)


def emulate(driver: WebDriver, width: int, height: int = HEIGHT) -> None:
    """Give pages a viewport of width px: headless Chromium's windows are at least 500 wide."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def screenshot(driver: WebDriver, name: str, width: int) -> Path:
    """Save the whole page (up to a height) at width px as ARTIFACTS/NAME.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    emulate(driver, width, min(max(height, HEIGHT), MAX_SCREENSHOT_HEIGHT))
    try:
        driver.save_screenshot(str(path))
    finally:
        emulate(driver, width)
    return path


def fits_the_width(driver: WebDriver) -> bool:
    """Whether the page needs no sideways scrolling (wide tables scroll inside their box)."""
    return driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1"
    )


def fits_at(driver: WebDriver, width: int) -> bool:
    """Whether the page is laid out at width px (a phone's viewport widens to fit a page wider
    than the screen) without sideways scrolling."""
    return driver.execute_script("return window.innerWidth") == width and fits_the_width(driver)


def fill(driver: WebDriver, element_id: str, value: str) -> None:
    """Type value into a form field, replacing what it held."""
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


def points(driver: WebDriver, series: str) -> int:
    """How many points of a series the loss chart shows."""
    return len(driver.find_elements(By.CSS_SELECTOR, f'#loss-chart circle[data-series="{series}"]'))


def epoch_rows(driver: WebDriver) -> int:
    """How many per-epoch events the events log shows."""
    return len(driver.find_elements(By.CSS_SELECTOR, '#events-body tr[data-type="metrics"]'))


@pytest.mark.parametrize("width", WIDTHS)
def test_each_page_renders_a_real_job(
    width: int, finished_job: dict, stack: Stack, tmp_path: Path
) -> None:
    result, job_id = finished_job["result"], finished_job["id"]
    shots = []
    with chromium(tmp_path, width=max(width, 500), height=HEIGHT) as driver:
        emulate(driver, width)
        log_in(driver, stack.base_url, "/ui/jobs")
        row = driver.find_element(By.CSS_SELECTOR, f'tr[data-job-id="{job_id}"]')
        assert "succeeded" in row.text
        shots.append(screenshot(driver, f"pages-jobs-{width}", width))

        row.find_element(By.LINK_TEXT, job_id).click()
        wait_until(lambda: driver.find_elements(By.ID, "losses"), 15, lambda: driver.page_source)
        assert points(driver, "train") == points(driver, "valid") == len(result["epochs"])
        metric_rows = driver.find_elements(By.CSS_SELECTOR, "#metrics-table tbody tr")
        assert len(metric_rows) >= 4
        assert driver.find_elements(By.CSS_SELECTOR, "#task-table tbody tr")
        assert driver.find_elements(By.CSS_SELECTOR, "#distribution-table tbody tr")
        assert driver.find_elements(By.CSS_SELECTOR, "#events-table tbody tr")
        assert driver.find_elements(By.CSS_SELECTOR, "#examples .pair")
        assert driver.execute_script("return window.innerWidth") == width
        assert fits_the_width(driver), f"the job page scrolls sideways at {width} px"
        shots.append(screenshot(driver, f"pages-job-{width}", width))

        driver.find_element(By.ID, "model-link").click()
        driver.find_element(By.ID, "question").send_keys("Will it snow in Oslo tomorrow?")
        driver.find_element(By.ID, "ask-button").click()
        # The form posts and the page comes back once a worker answered: wait for it.
        wait_until(
            lambda: driver.find_elements(By.ID, "answer-text"), 30, lambda: driver.page_source
        )
        answer = driver.find_element(By.ID, "answer-text")
        assert answer.text and driver.find_element(By.ID, "answer-reasoning").text
        assert fits_the_width(driver), f"the model page scrolls sideways at {width} px"
        shots.append(screenshot(driver, f"pages-model-{width}", width))
        assert console_errors(driver) == []
    print("\nscreenshots: " + ", ".join(str(p) for p in shots))


@pytest.fixture(scope="module")
def slow_stack() -> Iterator[Stack]:
    """A private stack whose worker sleeps through every epoch, so a job runs for seconds."""
    with fault_stack(workers=[("w1", SLOW_EPOCHS)]) as running:
        yield running


def test_progress_advances_live_while_a_job_runs_and_cancel_stops_it(
    slow_stack: Stack, tmp_path: Path
) -> None:
    with client_for(slow_stack) as api:
        seed_interactions(api)
        job_id = create_job(api, 60)
        with chromium(tmp_path) as driver:
            log_in(driver, slow_stack.base_url, f"/ui/jobs/{job_id}")
            driver.execute_script("window.loadedOnce = true")  # gone if the page reloads
            seen: set[float] = set()
            first_epochs = epoch_rows(driver)

            def advanced() -> bool:
                value = driver.find_element(By.ID, "job-progress").get_attribute("value")
                seen.add(float(value))
                more_rows = epoch_rows(driver) >= first_epochs + 2
                return len(seen) >= 3 and points(driver, "train") >= 2 and more_rows

            wait_until(advanced, 60, lambda: f"progress values seen: {sorted(seen)}", 0.2)
            assert driver.execute_script("return window.loadedOnce === true")
            screenshot(driver, "pages-job-running", 1280)
            driver.find_element(By.ID, "cancel").click()
            # The form posts and the page loads again: wait for the new page, not the old one.
            wait_until(
                lambda: "The job was cancelled." in text_of(driver, "notice"),
                10,
                lambda: f"the notice of the cancel; the page shows {text_of(driver, 'notice')!r}",
                0.1,
            )
            assert "cancelled" in driver.find_element(By.ID, "job-status").text
            assert console_errors(driver) == []
        wait_job_status(api, slow_stack, job_id, {"cancelled"}, 10)
