"""The new-job form, the workers page and the model page's downloads in headless Chromium.

At 1280 and 390 px: the form is filled and sent in the browser and lands on the new job's
page; the workers page shows the stack's real worker and the job's running stage; the model
page of a real finished job offers its downloads. Screenshots: pages-new-job-*, pages-workers-*,
pages-model-* (support/browser.py: ARTIFACTS).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from .support import (
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
from .support.browser import chromium, console_errors
from .test_pages_browser import HEIGHT, WIDTHS, emulate, fill, fits_at, log_in, screenshot

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def slow_stack() -> Iterator[Stack]:
    """A private stack whose worker (w1) sleeps through every epoch: a job runs for seconds."""
    with fault_stack(workers=[("w1", SLOW_EPOCHS)]) as running:
        with client_for(running) as api:
            seed_interactions(api)
        yield running


@pytest.fixture(scope="module")
def finished_job(client: ApiClient, stack: Stack) -> dict:
    """A real fine-tuning job of the session stack, succeeded, with its model."""
    seed_interactions(client)
    return wait_for_job(client, stack, create_job(client, 4, holdout_fraction=0.25))


def fill_field(driver: WebDriver, name: str, text: str) -> None:
    """Replace the text of the form's input name."""
    fill(driver, f"field-{name}", text)


def fill_the_form(driver: WebDriver, suffix: str) -> None:
    """Fill the new-job form as a user would: a suffix, a slow job, a promotion rule."""
    fill_field(driver, "suffix", suffix)
    fill_field(driver, "n_epochs", "60")
    fill_field(driver, "early_stopping_patience", "never")
    fill_field(driver, "min_score", "0.5")
    fill_field(driver, "seed", "11")
    driver.find_element(By.ID, "field-lab_eval_set").click()
    Select(driver.find_element(By.ID, "promote_metric_0")).select_by_value("task_accuracy")
    driver.find_element(By.ID, "promote_threshold_0").send_keys("0.01")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_job_made_in_the_form_runs_and_the_workers_page_shows_its_stage(
    width: int, slow_stack: Stack, tmp_path: Path
) -> None:
    base = slow_stack.base_url
    with client_for(slow_stack) as api, chromium(tmp_path, max(width, 500), HEIGHT) as driver:
        emulate(driver, width)
        log_in(driver, base, "/ui/jobs/new")
        fill_the_form(driver, f"browser-{width}")
        assert fits_at(driver, width), f"the new-job form scrolls sideways at {width} px"
        screenshot(driver, f"pages-new-job-{width}", width)
        driver.find_element(By.ID, "create-job").click()
        wait_until(
            lambda: driver.current_url.startswith(f"{base}/ui/jobs/ftjob-"),
            15,
            lambda: [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".error")],
        )
        job_id = driver.current_url.rsplit("/", 1)[1]
        assert job_id in driver.find_element(By.TAG_NAME, "h1").text
        request = api.get(f"/v1/jobs/{job_id}").json()["request"]
        assert request["suffix"] == f"browser-{width}" and request["hyperparameters"]["seed"] == 11
        assert request["promote_if"][0]["min_delta"] == 0.01 and request["lab_eval_set"] is True
        wait_job_status(api, slow_stack, job_id, {"running"}, 30)
        stage = lambda: api.get(f"/v1/jobs/{job_id}").json()["stage"]  # noqa: E731
        wait_until(lambda: stage() == "fine_tune", 30, lambda: f"stage fine_tune, not {stage()}")

        driver.find_element(By.ID, "nav-workers").click()
        wait_until(lambda: driver.find_elements(By.ID, "queues-table"), 15, lambda: driver.title)
        workers = driver.find_elements(By.CSS_SELECTOR, "#workers-table tr.worker-row")
        assert [w.get_attribute("data-worker").split("@")[0] for w in workers] == ["w1"]
        row = driver.find_element(By.CSS_SELECTOR, f'#running-table tr[data-job-id="{job_id}"]')
        assert row.find_element(By.CSS_SELECTOR, ".stage").text == "fine_tune"
        assert fits_at(driver, width), f"the workers page scrolls sideways at {width} px"
        screenshot(driver, f"pages-workers-{width}", width)
        assert console_errors(driver) == []
        api.post(f"/v1/jobs/{job_id}/cancel")
        wait_job_status(api, slow_stack, job_id, {"cancelled"}, 30)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_model_page_offers_its_downloads(
    width: int, finished_job: dict, stack: Stack, tmp_path: Path
) -> None:
    model_id = finished_job["result"]["model_id"]
    with chromium(tmp_path, max(width, 500), HEIGHT) as driver:
        emulate(driver, width)
        log_in(driver, stack.base_url, f"/ui/models/{model_id}")
        links = {
            a.get_attribute("id"): a.get_attribute("href")
            for a in driver.find_elements(By.CSS_SELECTOR, "#downloads a")
        }
        job_id = finished_job["id"]
        assert links == {
            "download-model": f"{stack.base_url}/ui/models/{model_id}/download",
            "download-report-md": f"{stack.base_url}/ui/jobs/{job_id}/download/report.md",
            "download-report-json": f"{stack.base_url}/ui/jobs/{job_id}/download/report.json",
            "download-training": f"{stack.base_url}/ui/jobs/{job_id}/download/training.jsonl",
        }
        assert fits_at(driver, width), f"the model page scrolls sideways at {width} px"
        screenshot(driver, f"pages-model-{width}", width)
        assert console_errors(driver) == []
