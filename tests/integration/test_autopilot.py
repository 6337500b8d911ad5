"""The autopilot end to end: new ratings start a run through the scheduler (Celery beat with
its lock in Redis), the gate promotes its model, and the model's own ratings roll it back.

A private stack: redis-server, a pipeline worker, the webhooks worker (it takes the ticks and
delivers the events), the scheduler ticking every second and the gunicorn gateway.
Banking77's four-intent subset (tests/fixtures/banking77-4) is posted through the API; a
receiver on 127.0.0.1 verifies the autopilot's signed events.
"""

import csv
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from tuneloop import contracts

from .support import ApiClient, Stack, assert_problem, client_for, wait_until
from .support.jobs import all_events, wait_for_job
from .support.pages import csrf_of, login
from .support.receiver import Receiver, serve
from .support.scheduler import scheduled_stack, wait_ticks

pytestmark = pytest.mark.integration

BANKING77 = Path(__file__).resolve().parents[1] / "fixtures" / "banking77-4"
SETTINGS = {
    "TUNELOOP_SCHEDULER_INTERVAL": "1",
    "TUNELOOP_SCHEDULER_LOCK_TIMEOUT": "4",
    "TUNELOOP_WEBHOOK_ALLOW_PRIVATE": "1",
    "TUNELOOP_WEBHOOK_RETRY_DELAYS": "1,1",
}
PASSES = [{"metric": "task_accuracy", "min_delta": -1.0}]  # any model passes: the gate is run
JOB = {"hyperparameters": {"n_epochs": 2}, "suffix": "auto"}
RUN_TIMEOUT = 120.0


def rows(name: str = "train.csv", model: str | None = None, rating: float = 0.9) -> list[dict]:
    """A split of the four-intent subset as rated interactions (of model, when given)."""
    with (BANKING77 / name).open(newline="") as f:
        found = [
            {
                "input": r["text"],
                "output": f"About {r['category'].replace('_', ' ')}: here is how.",
                "rating": rating,
                "task_type": r["category"],
            }
            for r in csv.DictReader(f)
        ]
    return [{**r, "model": model} if model else r for r in found]


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[Stack, ApiClient]]:
    """The module's stack with the training split posted."""
    with scheduled_stack("tuneloop-autopilot-", SETTINGS) as stack, client_for(stack) as client:
        posted = client.post("/v1/interactions/batch", json={"items": rows()[:400]})
        assert posted.status_code == 201, posted.text
        yield stack, client


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """The test's webhook receiver on 127.0.0.1."""
    yield from serve(Receiver())


def subscribe(client: ApiClient, receiver: Receiver, path: str, types: list[str]) -> str:
    """Create an endpoint for types at the receiver's path; return its secret."""
    made = client.post("/v1/webhooks", json={"url": receiver.url(path), "events": types})
    assert made.status_code == 201, made.text
    return made.json()["secret"]


def events_at(receiver: Receiver, path: str, secret: str, count: int) -> list[dict]:
    """Wait until path got count POSTs; return their events, each verified."""
    wait_until(lambda: len(receiver.at(path)) >= count, 30, lambda: f"{count} POSTs to {path}")
    return [Webhook(secret).verify(got.body, got.headers) for got in receiver.at(path)]


def create(client: ApiClient, **body: object) -> dict:
    """Create an autopilot (new_ratings 50, the passing gate, unless body says otherwise)."""
    sent = {"trigger": {"new_ratings": 50}, "job": JOB, "promote_if": PASSES, **body}
    answer = client.post("/v1/autopilots", json=sent)
    assert answer.status_code == 201, answer.text
    return answer.json()


def post_ratings(client: ApiClient, items: list[dict]) -> None:
    """Post rated interactions in one batch."""
    answer = client.post("/v1/interactions/batch", json={"items": items})
    assert answer.status_code == 201, answer.text


def wait_run(stack: Stack, client: ApiClient, aid: str, count: int = 1) -> dict:
    """Wait until the autopilot lists count runs whose newest has ended; return it."""
    seen: dict = {}

    def settled() -> bool:
        seen.update(client.get(f"/v1/autopilots/{aid}").json())
        runs = seen["runs"]
        return len(runs) >= count and seen["in_flight"] is None

    wait_until(settled, RUN_TIMEOUT, lambda: f"run {count} of {aid} to end: {seen}\n{stack.logs()}")
    return seen


def test_an_autopilot_starts_a_run_after_50_new_ratings_and_lists_it(running, receiver) -> None:
    stack, client = running
    secret = subscribe(client, receiver, "/started", ["autopilot.run.started"])
    autopilot = create(client, name="banking")
    aid = autopilot["id"]
    assert autopilot["status"] == "active" and autopilot["runs"] == []
    test_rows = rows("test.csv")
    post_ratings(client, test_rows[:49])
    wait_ticks(stack)  # two ticks have seen 49 new ratings
    read = client.get(f"/v1/autopilots/{aid}").json()
    assert read["runs"] == [] and read["new_ratings"] == 49, read
    post_ratings(client, test_rows[49:50])
    posted_at = time.monotonic()
    wait_until(
        lambda: client.get(f"/v1/autopilots/{aid}").json()["runs"],
        30,
        lambda: f"a run of {aid}\n{stack.logs()}",
        0.05,
    )
    print(f"\n50th rating to its run listed: {time.monotonic() - posted_at:.2f} s (tick: 1 s)")
    run = client.get(f"/v1/autopilots/{aid}").json()["runs"][0]
    assert run["reason"].startswith("50 new ratings"), run
    job = wait_for_job(client, stack, run["job_id"])
    assert job["autopilot_id"] == aid
    assert [{**rule, "use_lower_bound": False} for rule in PASSES] == job["request"]["promote_if"]
    done = wait_run(stack, client, aid)
    run = done["runs"][0]
    assert run["status"] == "succeeded" and run["promoted"] is True, run
    assert run["model_id"] == job["model_id"] and run["verdict"], run
    alias = client.get(f"/v1/models/{contracts.LATEST_PROMOTED}").json()
    assert alias["id"] == job["model_id"]
    events = [e["type"] for e in all_events(client, job["id"])]
    assert "autopilot.run.started" in events
    assert done["new_ratings"] == 0 and done["runs_count"] == 1
    (told,) = events_at(receiver, "/started", secret, 1)
    assert told["type"] == "autopilot.run.started" and told["data"]["id"] == aid
    assert told["data"]["job_id"] == job["id"] and told["data"]["reason"] == run["reason"]
    assert client.delete(f"/v1/autopilots/{aid}").status_code == 200  # no run in later tests


def test_a_paused_autopilot_starts_no_run_until_resumed(running) -> None:
    stack, client = running
    aid = create(client, trigger={"new_ratings": 10})["id"]
    with ApiClient(stack.base_url) as browser:  # paused from its page's button
        assert login(browser, stack.base_url).status_code == 303
        page = browser.get(f"/ui/autopilots/{aid}")
        assert f'action="/ui/autopilots/{aid}/pause"' in page.text
        paused = browser.post(
            f"/ui/autopilots/{aid}/pause", data={"csrf_token": csrf_of(page.text)}
        )
        assert paused.status_code == 200 and "The autopilot is paused." in paused.text
        assert f'action="/ui/autopilots/{aid}/resume"' in paused.text
    assert client.get(f"/v1/autopilots/{aid}").json()["status"] == "paused"
    post_ratings(client, rows("test.csv")[50:60])
    wait_ticks(stack)
    assert client.get(f"/v1/autopilots/{aid}").json()["runs"] == []
    assert client.post(f"/v1/autopilots/{aid}/resume").json()["status"] == "active"
    done = wait_run(stack, client, aid)
    assert done["runs"][0]["status"] == "succeeded", done
    assert client.post(f"/v1/autopilots/{aid}/pause").status_code == 200  # stop it
    gone = client.delete(f"/v1/autopilots/{aid}")
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert client.get(f"/v1/autopilots/{aid}").status_code == 404
    assert client.get(f"/v1/jobs/{done['runs'][0]['job_id']}").status_code == 200  # its job stays


def test_the_live_models_own_low_ratings_roll_it_back_to_the_previous_model(
    running, receiver
) -> None:
    stack, client = running
    secret = subscribe(client, receiver, "/rolled", ["model.rolled_back"])
    first = client.post("/v1/jobs", json={**JOB, "promote_if": PASSES})
    assert first.status_code == 202, first.text
    previous = wait_for_job(client, stack, first.json()["id"])["model_id"]
    rule = {"window": 20, "margin": 0.1, "confidence": 0.95}
    aid = create(client, trigger={"new_ratings": 45}, rollback_if=rule)["id"]
    post_ratings(client, rows("test.csv")[60:105])
    run = wait_run(stack, client, aid)["runs"][0]
    assert run["promoted"] is True, run
    live = run["model_id"]
    assert client.get(f"/v1/models/{contracts.LATEST_PROMOTED}").json()["id"] == live
    good = [0.8, 0.9, 1.0, 0.9]
    bad = [0.2, 0.3, 0.1, 0.2]
    items = rows("test.csv")[105:145]  # 40 new ratings: short of a second run
    post_ratings(
        client,
        [{**r, "model": previous, "rating": g} for r, g in zip(items[:20], itertools.cycle(good))]
        + [{**r, "model": live, "rating": b} for r, b in zip(items[20:], itertools.cycle(bad))],
    )
    wait_until(
        lambda: client.get(f"/v1/models/{contracts.LATEST_PROMOTED}").json()["id"] == previous,
        30,
        lambda: f"latest-promoted back at {previous}\n{stack.logs()}",
    )
    read = client.get(f"/v1/autopilots/{aid}").json()
    rolled = next(r for r in read["runs"] if r["job_id"] == run["job_id"])["rolled_back"]
    assert rolled["restored_model_id"] == previous
    assert rolled["high"] < -0.1 and rolled["live_ratings"] == rolled["previous_ratings"] == 20
    events = [e for e in all_events(client, run["job_id"]) if e["type"] == "model.rolled_back"]
    assert len(events) == 1 and previous in events[0]["message"], events
    assert len(read["runs"]) == 1, read
    (told,) = events_at(receiver, "/rolled", secret, 1)
    assert told["type"] == "model.rolled_back" and told["data"]["id"] == live
    assert told["data"]["restored_model_id"] == previous and told["data"]["autopilot_id"] == aid
    with ApiClient(stack.base_url) as browser:
        assert login(browser, stack.base_url).status_code == 303
        page = browser.get(f"/ui/autopilots/{aid}")
        assert page.status_code == 200, page.text
        assert f'href="/ui/jobs/{run["job_id"]}"' in page.text
        assert "rolled back" in page.text and f"back to {previous}" in page.text
        listed = browser.get("/ui/autopilots")
        assert f'href="/ui/autopilots/{aid}"' in listed.text


def test_the_scheduler_sends_a_webhook_retry_when_it_is_due(running, receiver) -> None:
    stack, client = running
    receiver.answers["/retry"] = [500, 200]
    secret = subscribe(client, receiver, "/retry", ["fine_tuning.job.succeeded"])
    posted = client.post("/v1/jobs", json=JOB)
    assert posted.status_code == 202, posted.text
    wait_for_job(client, stack, posted.json()["id"])
    first, second = events_at(receiver, "/retry", secret, 2)  # no one sent a dispatch by hand
    assert first["id"] == second["id"] and first["data"]["id"] == posted.json()["id"]
    gap = receiver.at("/retry")[1].at - receiver.at("/retry")[0].at
    assert gap >= 1.0  # its 1 s delay, then the scheduler's next dispatch (every second here)
    print(f"\nretry after a 500: {gap:.2f} s (delay 1 s, dispatch every 1 s)")
    assert "tuneloop.webhooks.dispatch" in stack.log_text("webhooks")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"trigger": {}}, "trigger"),
        ({"trigger": {"every": "10s"}}, "trigger.every"),
        ({"trigger": {"every": "often"}}, "trigger.every"),
        ({"job": {**JOB, "eval_set": []}}, "job.eval_set"),
        ({"job": {**JOB, "promote_if": PASSES}}, "job.promote_if"),
        ({"promote_if": []}, "promote_if"),
        ({"rollback_if": {"window": 2}}, "rollback_if.window"),
    ],
)
def test_a_bad_autopilot_is_refused_naming_its_field_and_nothing_is_stored(
    running, body: dict, field: str
) -> None:
    _, client = running
    before = client.get("/v1/autopilots", params={"limit": 100}).json()["data"]
    sent = {"trigger": {"new_ratings": 50}, "job": JOB, "promote_if": PASSES, **body}
    answer = client.post("/v1/autopilots", json=sent)
    assert_problem(answer, 422, [field])
    assert client.get("/v1/autopilots", params={"limit": 100}).json()["data"] == before
