"""The job report pages in headless Chromium at 1280 and 390 px, with real jobs' data.

A fine-tuning job and an evaluation job of its model: the jobs list, the job page (verdict
first, sortable and filterable per-task table, charts readable on a phone), its wrong cases and
the evaluation's page naming both models. Screenshots: pages-{jobs,job,cases,evaluation}-WIDTH.
"""

import random
import secrets
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from .support import (
    ApiClient,
    Stack,
    create_job,
    evaluate_model,
    training_items,
    wait_for_job,
)
from .support.browser import chromium, console_errors
from .test_pages_browser import HEIGHT, WIDTHS, emulate, fits_the_width, log_in, screenshot

SECTIONS = ["verdict", "setup", "losses", "metrics", "tasks", "confusions", "calibration"]
MIN_TEXT_PX = 11.0  # no chart text smaller than this on screen


TAG = secrets.token_hex(3)
NOISE = 0.3  # the share of training rows given another task type: what the model overfits


def noisy_items() -> list[dict]:
    """The seed's items under task types of this module's own, a share relabelled (seeded)."""
    items = [{**i, "task_type": f"{i['task_type']}{TAG}"} for i in training_items(16)]
    types, draw = sorted({i["task_type"] for i in items}), random.Random(0)
    for item in items:
        if draw.random() < NOISE:
            item["task_type"] = draw.choice([t for t in types if t != item["task_type"]])
    return items


@pytest.fixture(scope="module")
def tuned(client: ApiClient, stack: Stack) -> dict:
    """A real fine-tuning job with a gate, a suffix and held-out cases, run past its best epoch.

    Its rows and task types are the module's own (no other module's rows reach it), and a
    third of them carry the wrong label: memorising those raises the validation loss.
    """
    items = noisy_items()
    stored = client.post("/v1/interactions/batch", json={"items": items})
    assert stored.status_code == 201, stored.text
    gate = [{"metric": "task_accuracy", "min_delta": 0.0}]
    job_id = create_job(
        client,
        30,
        holdout_fraction=0.25,
        suffix="report",
        promote_if=gate,
        lab_eval_set=False,
        task_types=sorted({i["task_type"] for i in items}),
    )
    job = wait_for_job(client, stack, job_id)
    epochs = job["result"]["epochs"]
    assert job["result"]["best_epoch"] < epochs[-1]["epoch"], f"no epoch after the best: {epochs}"
    return job


@pytest.fixture(scope="module")
def evaluation(client: ApiClient, stack: Stack, tuned: dict) -> dict:
    """A real evaluation job of the fine-tuned model against the baseline."""
    return evaluate_model(client, stack, tuned["result"]["model_id"])


def report_sections(driver: WebDriver) -> list[str]:
    """The report sections shown, top to bottom."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('section.report-section'))"
        ".filter(s => s.offsetParent !== null)"
        ".sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)"
        ".map(s => s.id)"
    )


def smallest_chart_text(driver: WebDriver) -> float:
    """The smallest on-screen font size (px) of the text in every visible chart."""
    return driver.execute_script(
        "let least = Infinity;"
        "for (const svg of document.querySelectorAll('svg.chart')) {"
        "  const box = svg.getBoundingClientRect(); if (!box.width) continue;"
        "  const scale = box.width / svg.viewBox.baseVal.width;"
        "  for (const t of svg.querySelectorAll('text')) {"
        "    least = Math.min(least, parseFloat(getComputedStyle(t).fontSize) * scale); } }"
        "return least;"
    )


def boxed_tables_fit(driver: WebDriver, *table_ids: str) -> dict[str, bool]:
    """Per table: whether its whole width shows inside its box (no column scrolled away)."""
    return {
        t: driver.execute_script(
            "const t = document.getElementById(arguments[0]);"
            "const box = t.closest('.scroll') || t.parentElement;"
            "return t.getBoundingClientRect().width <= box.clientWidth + 1;",
            t,
        )
        for t in table_ids
    }


def column(driver: WebDriver, index: int, visible_only: bool = True) -> list[str]:
    """The data-value of one column of the per-task table, top to bottom."""
    rows = driver.find_elements(By.CSS_SELECTOR, "#task-table tbody tr")
    cells = [r.find_elements(By.TAG_NAME, "td")[index] for r in rows if r.is_displayed()]
    return [c.get_attribute("data-value") for c in cells]


def numbers(values: list[str]) -> list[float]:
    return [float(v) for v in values if v not in ("None", "")]


def check_sort_and_filter(driver: WebDriver) -> None:
    """Sort the per-task table by its change column both ways, then filter it by a name."""
    change = driver.find_element(By.CSS_SELECTOR, "#task-table th:nth-child(5) button.sort")
    assert change.text == "Change"
    change.click()
    assert numbers(column(driver, 4)) == sorted(numbers(column(driver, 4)))
    change.click()
    assert numbers(column(driver, 4)) == sorted(numbers(column(driver, 4)), reverse=True)
    tasks = column(driver, 0)
    assert len(tasks) >= 3
    box = driver.find_element(By.ID, "task-filter")
    assert box.is_displayed()
    box.send_keys(tasks[-1][:4])
    shown = column(driver, 0)
    assert shown and all(tasks[-1][:4] in t for t in shown) and len(shown) < len(tasks)
    box.send_keys("\b" * 4)  # emptied: every row is back, in the sorted order
    assert column(driver, 0) == tasks


@pytest.mark.parametrize("width", WIDTHS)
def test_the_job_report_reads_verdict_first_at_both_widths(
    width: int, tuned: dict, evaluation: dict, stack: Stack, tmp_path: Path
) -> None:
    job_id, result = tuned["id"], tuned["result"]
    with chromium(tmp_path, width=max(width, 500), height=HEIGHT) as driver:
        emulate(driver, width)
        log_in(driver, stack.base_url, "/ui/jobs")
        row = driver.find_element(By.CSS_SELECTOR, f'tr[data-job-id="{job_id}"]')
        assert job_id in row.text and "report" in row.text and result["model_id"] in row.text
        assert evaluation["id"] in driver.find_element(By.ID, "jobs-table").text
        assert fits_the_width(driver), f"the jobs list scrolls sideways at {width} px"
        screenshot(driver, f"pages-jobs-{width}", width)

        row.find_element(By.LINK_TEXT, job_id).click()
        assert report_sections(driver) == SECTIONS
        verdict_top = driver.find_element(By.ID, "verdict").rect["y"]
        assert verdict_top < HEIGHT, "the verdict is below the first screen"
        assert result["significance"]["verdict"] in driver.find_element(By.ID, "verdict").text
        shaded = driver.find_elements(By.CSS_SELECTOR, "#loss-chart .after-best")
        assert [s.is_displayed() for s in shaded].count(True) == 1  # the chart for this width
        assert smallest_chart_text(driver) >= MIN_TEXT_PX
        assert boxed_tables_fit(driver, "task-table", "metrics-table", "calibration-table") == {
            "task-table": True,
            "metrics-table": True,
            "calibration-table": True,
        }
        check_sort_and_filter(driver)
        assert fits_the_width(driver), f"the job page scrolls sideways at {width} px"
        screenshot(driver, f"pages-job-{width}", width)

        driver.find_element(By.ID, "cases-wrong-link").click()
        listed = driver.find_elements(By.CSS_SELECTOR, "#cases-list .case-row")
        assert len(listed) == min(result["cases"]["wrong"], 25) > 0
        assert fits_the_width(driver), f"the cases page scrolls sideways at {width} px"
        screenshot(driver, f"pages-cases-{width}", width)

        driver.get(f"{stack.base_url}/ui/jobs/{evaluation['id']}")
        request = evaluation["request"]
        assert driver.find_element(By.ID, "model-a-link").text == request["model_a"]
        assert driver.find_element(By.ID, "model-b-link").text == request["model_b"]
        assert report_sections(driver) == [s for s in SECTIONS if s != "losses"]
        assert "No epoch" not in driver.find_element(By.TAG_NAME, "main").text
        assert fits_the_width(driver), f"the evaluation page scrolls sideways at {width} px"
        screenshot(driver, f"pages-evaluation-{width}", width)
        assert console_errors(driver) == []
