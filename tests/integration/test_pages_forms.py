"""The pages' new-job form, clone, downloads, workers page and the root's redirect, over HTTP.

The form and the downloads run against the session's gunicorn gateway and worker; the
workers page gets a private stack whose one worker consumes the pipeline and interactive
queues, so a message on the webhooks queue waits for nobody.
"""

import html
import io
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator

import pytest
from celery import Celery
from flask import render_template

from tuneloop.agent import registry
from tuneloop.celery_config import PIPELINE_QUEUE, WEBHOOKS_QUEUE
from tuneloop.llm import spec
from tuneloop.report_metrics import HEADLINE, interval, num, signed

from .support import (
    API_KEY,
    SLOW_EPOCHS,
    ApiClient,
    Stack,
    client_for,
    create_job,
    fault_stack,
    gateway_app,
    seed_interactions,
    wait_for_job,
    wait_job_status,
)
from .support.pages import csrf_of, login

pytestmark = pytest.mark.integration
FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')


@pytest.fixture(scope="module")
def finished_job(client: ApiClient, stack: Stack) -> dict:
    """A real fine-tuning job of the session stack, succeeded, with held-out evaluation cases."""
    seed_interactions(client)
    job_id = create_job(client, 5, holdout_fraction=0.25, suffix="forms-src", min_score=0.5)
    return wait_for_job(client, stack, job_id)


@pytest.fixture
def web(stack: Stack) -> Iterator[ApiClient]:
    """A browser-like session (no bearer key) logged in with the stack's admin key."""
    with ApiClient(stack.base_url) as session:
        assert login(session, stack.base_url).status_code == 303
        yield session


def value_of(page: str, name: str) -> str | None:
    """The value of the text input named name (unescaped), or None when it has none."""
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    return html.unescape(found.group(1)) if found else None


def checked(page: str, name: str) -> bool:
    """Whether the checkbox named name is checked."""
    found = re.search(rf'<input type="checkbox"[^>]*name="{re.escape(name)}"[^>]*>', page)
    assert found, f"no checkbox {name}"
    return " checked" in found.group(0)


def selected(page: str, name: str) -> str | None:
    """The selected option of the select named name."""
    found = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', page, re.S)
    assert found, f"no select {name}"
    option = re.search(r'<option value="([^"]*)" selected>', found.group(1))
    return option.group(1) if option else None


def error_of(page: str, name: str) -> str:
    """The error message shown next to the input name ("" when none)."""
    found = re.search(rf'id="error-{re.escape(name)}">([^<]*)<', page)
    return html.unescape(found.group(1)) if found else ""


def new_form(web: ApiClient, query: str = "") -> str:
    """The new-job page's HTML."""
    page = web.get(f"/ui/jobs/new{query}")
    assert page.status_code == 200, page.text[:500]
    return page.text


def submit(web: ApiClient, page: str, fields: dict) -> object:
    """Post the form of page with fields (its CSRF token and form key), not followed."""
    data = {"csrf_token": csrf_of(page), "form_key": FORM_KEY.search(page).group(1), **fields}
    return web.post("/ui/jobs/new", data=data, allow_redirects=False)


def job_ids(client: ApiClient) -> set[str]:
    """The ids of the project's newest 100 jobs."""
    return {j["id"] for j in client.get("/v1/jobs?limit=100").json()["data"]}


GOOD_FORM = {
    "suffix": "from-form",
    "model": "tuneloop-keyword-baseline",
    "method": "supervised",
    "min_score": "0.5",
    "task_types": "weather, travel",
    "holdout_fraction": "0.25",
    "holdout_per_task": "on",
    "lab_eval_set": "on",
    "n_epochs": "3",
    "learning_rate": "auto",
    "early_stopping_patience": "never",
    "seed": "7",
    "promote_metric_0": "task_accuracy",
    "promote_kind_0": "min_value",
    "promote_threshold_0": "0.2",
    "promote_lower_0": "on",
}


def test_the_root_sends_to_the_pages_without_a_key(anon: ApiClient) -> None:
    root = anon.get("/", allow_redirects=False)
    assert root.status_code == 302 and root.headers["Location"] == "/ui/"
    landed = anon.get("/")
    assert landed.status_code == 200 and 'id="login-form"' in landed.text
    assert anon.get("/v1/jobs").status_code == 401  # the API still wants its key
    assert anon.get("/docs").status_code == 200
    assert anon.get("/openapi.json").status_code == 200


def test_the_form_creates_the_job_it_describes_and_a_resubmission_makes_no_second(
    web: ApiClient, client: ApiClient, stack: Stack, finished_job: dict
) -> None:
    page = new_form(web)
    assert not checked(page, "holdout_per_task") and not checked(page, "lab_eval_set")
    assert selected(page, "model") == "tuneloop-keyword-baseline"
    before = job_ids(client)
    created = submit(web, page, GOOD_FORM)
    assert created.status_code == 303, created.text[:2000]
    job_id = created.headers["Location"].rsplit("/", 1)[1]
    assert created.headers["Location"] == f"/ui/jobs/{job_id}"
    request = client.get(f"/v1/jobs/{job_id}").json()["request"]
    assert request["suffix"] == "from-form" and request["min_score"] == 0.5
    assert request["task_types"] == ["weather", "travel"]
    assert request["holdout_fraction"] == 0.25 and request["holdout_per_task"] is True
    assert request["lab_eval_set"] is True and request["include_synthetic"] is False
    hyper = request["hyperparameters"]
    assert (hyper["n_epochs"], hyper["seed"], hyper["learning_rate"]) == (3, 7, "auto")
    assert hyper["early_stopping_patience"] is None
    rule = {"metric": "task_accuracy", "min_value": 0.2, "use_lower_bound": True}
    assert request["promote_if"] == [rule]
    again = submit(web, page, GOOD_FORM)  # the same form sent twice: a double click
    assert again.status_code == 303 and again.headers["Location"] == f"/ui/jobs/{job_id}"
    assert job_ids(client) - before == {job_id}
    job = wait_for_job(client, stack, job_id)
    assert job["status"] == "succeeded", job["error"]
    assert set(job["result"]["training_data"]["task_distribution"]) == {"weather", "travel"}


def test_field_errors_are_shown_by_their_fields_with_the_values_kept_and_nothing_stored(
    web: ApiClient, client: ApiClient
) -> None:
    page = new_form(web)
    before = job_ids(client)
    bad = {
        **GOOD_FORM,
        "suffix": "Not OK!",
        "n_epochs": "0",
        "min_score": "lots",
        "promote_threshold_0": "",
    }
    answer = submit(web, page, bad)
    assert answer.status_code == 422, answer.text[:500]
    shown = answer.text
    assert "pattern" in error_of(shown, "suffix")
    assert "greater than or equal to 1" in error_of(shown, "n_epochs")
    assert "number" in error_of(shown, "min_score")
    assert "number" in error_of(shown, "promote_0")
    assert error_of(shown, "seed") == "" and error_of(shown, "task_types") == ""
    assert value_of(shown, "suffix") == "Not OK!" and value_of(shown, "min_score") == "lots"
    assert value_of(shown, "seed") == "7" and value_of(shown, "task_types") == "weather, travel"
    assert checked(shown, "lab_eval_set") and selected(shown, "promote_metric_0") == "task_accuracy"
    # What the schema passes, the service refuses as POST /v1/jobs does: by field.
    unknown = submit(web, page, {**GOOD_FORM, "model": "no-such-model"})
    assert unknown.status_code == 400
    assert "not a registered base model" in error_of(unknown.text, "model")
    scope = submit(web, page, {**GOOD_FORM, "task_types": "", "out_of_scope_task": "nowhere"})
    assert scope.status_code == 422
    assert "no stored interaction" in error_of(scope.text, "out_of_scope_task")
    assert job_ids(client) == before


def test_at_the_job_quota_the_form_shows_the_quota_error_and_a_resubmission_too() -> None:
    # No worker: the one job stays queued, so the project is at its 1 job not yet ended.
    quota = {"TUNELOOP_MAX_ACTIVE_JOBS": "1"}
    with (
        fault_stack(workers=(), gateway_env=quota) as stack,
        client_for(stack) as api,
        ApiClient(stack.base_url) as web,
    ):
        assert api.post("/v1/jobs", json={"lab_eval_set": True}).status_code == 202
        assert login(web, stack.base_url).status_code == 303
        page = new_form(web)
        refused = submit(web, page, GOOD_FORM)
        assert refused.status_code == 429, refused.text[:2000]
        shown = error_of(refused.text, "_form")
        assert "'default'" in shown and "not yet ended" in shown, refused.text[:2000]
        assert value_of(refused.text, "suffix") == "from-form"  # the values are kept
        assert stack.store.jobs.count() == 1  # nothing stored
        again = submit(web, page, GOOD_FORM)  # the claim was released: refused again at once
        assert again.status_code == 429 and "not yet ended" in error_of(again.text, "_form")
        assert stack.store.jobs.count() == 1


def test_clone_fills_the_form_from_the_jobs_request(web: ApiClient, finished_job: dict) -> None:
    request = finished_job["request"]
    page = new_form(web, f"?from={finished_job['id']}")
    assert finished_job["id"] in page and 'id="clone-note"' in page
    assert value_of(page, "suffix") == request["suffix"] == "forms-src"
    assert value_of(page, "n_epochs") == str(request["hyperparameters"]["n_epochs"]) == "5"
    assert value_of(page, "seed") == str(request["hyperparameters"]["seed"])
    assert value_of(page, "min_score") == "0.5" and value_of(page, "holdout_fraction") == "0.25"
    assert value_of(page, "early_stopping_patience") == "never"
    assert checked(page, "lab_eval_set") and not checked(page, "include_synthetic")
    assert selected(page, "model") == request.get("model", "tuneloop-keyword-baseline")
    missing = web.get("/ui/jobs/new?from=ftjob-000000000000000000000000")
    assert missing.status_code == 404


def test_downloads_serve_the_training_file_and_the_reports_as_attachments(
    web: ApiClient, client: ApiClient, finished_job: dict
) -> None:
    job_id, result = finished_job["id"], finished_job["result"]
    training = web.get(f"/ui/jobs/{job_id}/download/training.jsonl")
    assert training.status_code == 200 and training.headers["Content-Type"] == "application/jsonl"
    disposition = training.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="{job_id}-training.jsonl"'
    assert training.content == client.get(f"/v1/jobs/{job_id}/training_file").content
    lines = training.text.splitlines()
    assert len(lines) == result["training_data"]["total_examples"]
    assert json.loads(lines[0])["messages"][0]["role"] == "user"

    report = web.get(f"/ui/jobs/{job_id}/download/report.json")
    assert report.headers["Content-Type"] == "application/json"
    assert report.headers["Content-Disposition"].endswith(f'filename="{job_id}-report.json"')
    assert report.json()["result"] == client.get(f"/v1/jobs/{job_id}").json()["result"]

    markdown = web.get(f"/ui/jobs/{job_id}/download/report.md")
    assert markdown.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert markdown.headers["Content-Disposition"].endswith(f'filename="{job_id}-report.md"')
    api = client.get(f"/v1/jobs/{job_id}/report.md")
    assert api.status_code == 200 and api.text == markdown.text
    assert_markdown_holds_the_metrics(markdown.text, result)


def test_the_cli_prints_the_same_markdown(
    client: ApiClient, stack: Stack, finished_job: dict
) -> None:
    job_id = finished_job["id"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNELOOP_")}
    env.update(TUNELOOP_URL=stack.base_url, TUNELOOP_API_KEY=API_KEY)
    run = subprocess.run(
        [sys.executable, "-m", "tuneloop_cli", "report", job_id, "--markdown"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == client.get(f"/v1/jobs/{job_id}/report.md").text


def test_the_job_pages_include_links_every_download(stack: Stack, finished_job: dict) -> None:
    job_id, model_id = finished_job["id"], finished_job["result"]["model_id"]
    with gateway_app(stack.env()) as app, app.test_request_context("/ui/jobs"):
        shown = render_template("_job_downloads.html", job=finished_job)
    links = dict(re.findall(r'id="(download-[a-z-]+)" href="([^"]+)"', shown))
    assert links == {
        "download-training": f"/ui/jobs/{job_id}/download/training.jsonl",
        "download-report-json": f"/ui/jobs/{job_id}/download/report.json",
        "download-report-md": f"/ui/jobs/{job_id}/download/report.md",
        "download-model": f"/ui/models/{model_id}/download",
    }


def test_the_job_page_links_its_clone_compare_and_downloads(
    web: ApiClient, finished_job: dict
) -> None:
    job_id, model_id = finished_job["id"], finished_job["result"]["model_id"]
    page = web.get(f"/ui/jobs/{job_id}")
    assert page.status_code == 200, page.text[:500]
    tags = re.findall(r"<a [^>]*>", page.text)
    links = {
        re.search(r'id="([^"]+)"', tag).group(1): html.unescape(
            re.search(r'href="([^"]+)"', tag).group(1)
        )
        for tag in tags
        if 'id="' in tag and 'href="' in tag
    }
    assert links["clone-link"] == f"/ui/jobs/new?from={job_id}"
    assert links["compare-link"] == f"/ui/compare?a={job_id}"
    assert links["download-model"] == f"/ui/models/{model_id}/download"
    assert links["download-report-md"] == f"/ui/jobs/{job_id}/download/report.md"
    clone = web.get(links["clone-link"])
    assert clone.status_code == 200 and 'value="forms-src"' in clone.text
    listed = web.get("/ui/jobs")
    assert 'id="new-job-link"' in listed.text


def test_a_lora_adapter_gets_no_model_file_link(
    stack: Stack, finished_job: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.BASE_MODELS, "tiny-llm", spec.FORMAT)
    llm_job = {**finished_job, "request": {**finished_job["request"], "model": "tiny-llm"}}
    adapter = {"id": "ft-x-0123456789ab", "job_id": finished_job["id"], "format": spec.FORMAT}
    with gateway_app(stack.env()) as app, app.test_request_context("/ui/jobs"):
        job_block = render_template("_job_downloads.html", job=llm_job)
        softmax_block = render_template("_job_downloads.html", job=finished_job)
        model_page = render_template("model.html", model=adapter)
    assert 'id="download-model"' not in job_block and 'id="download-report-md"' in job_block
    assert 'id="download-model"' in softmax_block
    assert 'id="download-model"' not in model_page and 'id="no-model-file"' in model_page


def assert_markdown_holds_the_metrics(text: str, result: dict) -> None:
    """Each headline metric's row shows both values, intervals and the change of the result."""
    base, tuned, change = (
        result["baseline_metrics"],
        result["fine_tuned_metrics"],
        result["improvement"],
    )
    assert f"## Metrics ({base['n_cases']} evaluation cases)" in text
    for metric in HEADLINE:
        row = [
            metric,
            num(base[metric]),
            interval(base["ci95"][metric]),
            num(tuned[metric]),
            interval(tuned["ci95"][metric]),
            signed(change[metric]["absolute"]),
            interval(change[metric]["absolute_ci95"]),
        ]
        assert "| " + " | ".join(row) + " |" in text, (metric, text)
    for task, figures in base["by_task_type"].items():
        assert f"| {task} | {figures['n_cases']} | {num(figures['task_accuracy'])} |" in text
    assert result["significance"]["verdict"] in text
    data = result["training_data"]
    assert f"- Training examples: {data['total_examples']}" in text


def test_the_model_downloads_as_its_stored_bytes(
    web: ApiClient, client: ApiClient, stack: Stack, finished_job: dict
) -> None:
    model_id = finished_job["result"]["model_id"]
    page = web.get(f"/ui/models/{model_id}")
    assert f'href="/ui/models/{model_id}/download"' in page.text
    download = web.get(f"/ui/models/{model_id}/download")
    assert download.status_code == 200, download.text[:300]
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"] == f'attachment; filename="{model_id}.npz"'
    stored = stack.store.models.payload(model_id)
    assert download.content == stored and len(stored) > 0
    meta = client.get(f"/v1/models/{model_id}").json()
    assert int(download.headers["Content-Length"]) == meta["size_bytes"] == len(stored)
    assert client.get(f"/v1/models/{model_id}/content").content == stored
    assert zipfile.ZipFile(io.BytesIO(download.content)).namelist()  # an .npz is a zip
    builtin = client.get("/v1/models/tuneloop-keyword-baseline/content")
    assert builtin.status_code == 409 and "built in" in builtin.json()["detail"]


def test_the_workers_page_needs_admin_and_the_form_needs_jobs(stack: Stack) -> None:
    keys = "viewer:forms-jobs-key-0123456789:jobs,feeder:forms-ingest-key-0123456789:ingest"
    with gateway_app(stack.env(TUNELOOP_API_KEYS=keys)) as app:
        pages = {}
        for name, key in (
            ("jobs", "forms-jobs-key-0123456789"),
            ("ingest", "forms-ingest-key-0123456789"),
        ):
            web = app.test_client()
            form = web.get("/ui/login")
            signed = web.post("/ui/login", data={"csrf_token": csrf_of(form.text), "api_key": key})
            assert signed.status_code == 303
            pages[name] = {
                path: web.get(path).status_code for path in ("/ui/workers", "/ui/jobs/new")
            }
    assert pages == {
        "jobs": {"/ui/workers": 403, "/ui/jobs/new": 200},
        "ingest": {"/ui/workers": 403, "/ui/jobs/new": 403},
    }


@pytest.fixture(scope="module")
def slow_stack() -> Iterator[Stack]:
    """A private stack whose one worker (w1) sleeps through every epoch and consumes the
    pipeline and interactive queues only."""
    with fault_stack(workers=[("w1", SLOW_EPOCHS)]) as running:
        yield running


def test_the_workers_page_shows_workers_queue_depths_and_running_stages(
    slow_stack: Stack,
) -> None:
    celery = Celery("test-workers-page", broker=slow_stack.redis_url, set_as_current=False)
    try:  # a real message on a queue nobody here consumes: it waits
        celery.send_task("tuneloop.webhooks.test_nobody", queue=WEBHOOKS_QUEUE, ignore_result=True)
    finally:
        celery.close()
    with client_for(slow_stack) as api, ApiClient(slow_stack.base_url) as web:
        seed_interactions(api)
        job_id = create_job(api, 60)
        wait_job_status(api, slow_stack, job_id, ("running",), 60)
        assert login(web, slow_stack.base_url).status_code == 303
        started = time.monotonic()
        state = web.get("/ui/workers.json").json()
        took = time.monotonic() - started
        (worker,) = [name for name in state["workers"] if name.startswith("w1@")]
        assert PIPELINE_QUEUE in state["workers"][worker]
        assert state["queues"][WEBHOOKS_QUEUE] == 1 and state["consumers"][WEBHOOKS_QUEUE] == []
        running = {row["id"]: row for row in state["running"]}
        assert running[job_id]["stage"] in ("collect", "filter", "prepare", "fine_tune")
        page = web.get("/ui/workers")
        assert page.status_code == 200 and worker in page.text
        assert f'data-queue="{WEBHOOKS_QUEUE}" data-depth="1"' in page.text
        assert "nobody consumes it" in page.text and f'data-job-id="{job_id}"' in page.text
        api.post(f"/v1/jobs/{job_id}/cancel")
    assert took < 5.0, f"the workers page took {took:.2f} s"
    print(f"\n/ui/workers.json answered in {took:.2f} s (inspect timeout 1 s)")
