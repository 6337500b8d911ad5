"""LOG_FORMAT=json: every line of the gateway and a worker is a JSON object, with the context.

One private stack for the module (gunicorn gateway and one worker, with LOG_FORMAT=json),
one small job sent without an X-Request-ID (the gateway makes one), then both processes are
stopped so that their start-up and shutdown lines are in the logs too. The stack writes each
process's stdout and stderr to <workdir>/<name>.log; the tests read those files.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tuneloop import contracts

from .support import STAGES, client_for, private_stack, seed_interactions, wait_for_job

pytestmark = pytest.mark.integration

TASK_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SUCCEEDED = re.compile(r"Task tuneloop\.stages\.(\w+)\[([0-9a-f-]+)\] succeeded")


@dataclass
class Run:
    """What the module's run left: the job, the id its request got, and the log lines."""

    job_id: str
    request_id: str
    text: dict[str, list[str]]  # the non-empty lines of each log, as written

    def records(self, name: str) -> list[dict]:
        """Return the lines of one log parsed as JSON (AssertionError naming a bad line)."""
        parsed = []
        for number, line in enumerate(self.text[name], 1):
            try:
                parsed.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"{name}.log line {number} is not JSON: {line!r}") from None
        return parsed

    def of_job(self) -> list[dict]:
        """Return the worker's records that name the job."""
        return [r for r in self.records("w1") if r.get("job_id") == self.job_id]


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    with private_stack("tuneloop-logs-", {"LOG_FORMAT": "json"}) as stack:
        stack.start_redis()
        stack.start_gateway(wait=False)
        stack.start_worker("w1", wait=False)
        stack.wait_gateway()
        stack.wait_worker("w1")
        client = client_for(stack)
        seed_interactions(client)
        body = {
            "include_synthetic": False,
            "lab_eval_set": True,
            "hyperparameters": {"n_epochs": 1},
        }
        created = client.post("/v1/jobs", json=body)
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        wait_for_job(client, stack, job_id, contracts.SUCCEEDED)
        client.close()
        stack.remove("gateway")  # SIGTERM: their shutdown lines are logged too
        stack.remove("w1")
        text = {
            name: [ln for ln in (stack.workdir / f"{name}.log").read_text().splitlines() if ln]
            for name in ("gateway", "w1")
        }
        yield Run(job_id, created.headers["X-Request-ID"], text)


@pytest.mark.parametrize("name", ["gateway", "w1"])
def test_every_line_a_process_writes_is_a_json_object_with_the_common_fields(run, name):
    records = run.records(name)
    assert len(records) >= 5, run.text[name]
    for record in records:
        assert {"ts", "level", "logger", "message", "process"} <= record.keys(), record
        assert record["ts"].endswith("Z"), record


def test_start_up_and_shutdown_lines_of_gunicorn_and_celery_are_json_too(run):
    gateway = [r["message"] for r in run.records("gateway")]
    worker = [r["message"] for r in run.records("w1")]
    assert any(m.startswith("Starting gunicorn") for m in gateway), gateway
    assert any(m.startswith("Handling signal: term") for m in gateway), gateway
    assert any("[queues]" in m and "tuneloop.pipeline" in m for m in worker), worker  # banner
    assert any(m.endswith(" ready.") for m in worker), worker
    assert any("shutdown" in m for m in worker), worker  # written from a signal handler


def test_the_workers_lines_of_the_job_name_its_stage_and_task(run):
    lines = run.of_job()
    started = {r["stage"] for r in lines if r["message"].endswith(": started")}
    assert started == set(STAGES), lines
    for record in lines:
        assert record["stage"] in STAGES, record
        assert TASK_ID.fullmatch(record["task_id"]), record


def test_celerys_own_task_lines_carry_the_tasks_id_job_and_stage(run):
    done = [(r, SUCCEEDED.search(r["message"])) for r in run.records("w1")]
    done = [(r, m) for r, m in done if m]
    assert {m[1] for _, m in done} >= set(STAGES), done
    for record, match in done:
        assert (record.get("stage"), record.get("task_id")) == (match[1], match[2]), record
        assert record.get("job_id") == run.job_id, record


def test_the_workers_lines_of_the_job_carry_the_request_id_that_created_it(run):
    lines = run.of_job()
    assert lines
    assert {r.get("request_id") for r in lines} == {run.request_id}


def test_the_access_line_carries_the_request_id_the_client_received(run):
    access = [r for r in run.records("gateway") if r["logger"] == "gunicorn.access"]
    posted = [r for r in access if (r["method"], r["path"]) == ("POST", "/v1/jobs")]
    assert len(posted) == 1, access
    line = posted[0]
    assert line["request_id"] == run.request_id
    assert (line["status"], line["remote_addr"]) == (202, "127.0.0.1")
    assert isinstance(line["bytes"], int) and line["bytes"] > 0
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert len({r["request_id"] for r in access}) == len(access)  # one id per request
