"""Data, jobs and observers for the fault tests: training items, epochs, leases, deliveries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import redis
from tuneloop_devstack.stack import Stack

from tuneloop import contracts
from tuneloop.store import keys

from .api import ApiClient
from .jobs import job_state
from .polling import wait_until

TOPICS = {
    "weather": ["rain", "snow", "wind", "sunny", "storm", "forecast", "cloudy", "fog"],
    "travel": ["flight", "train", "hotel", "visa", "airport", "luggage", "ticket", "ferry"],
    "billing": ["invoice", "refund", "charge", "payment", "receipt", "card", "subscription"],
}
PLACES = ["Oslo", "Lima", "Porto", "Kyoto", "Quito", "Bergen"]


def training_items(per_task: int = 12) -> list[dict]:
    """Rated interactions over three task types, varied enough for the router to learn."""
    items = []
    for task, words in TOPICS.items():
        for i in range(per_task):
            word, place = words[i % len(words)], PLACES[i % len(PLACES)]
            items.append(
                {
                    "input": f"Question {i} about the {word} in {place}?",
                    "output": f"About the {word} in {place}: answer {i}.",
                    "rating": 0.85 + 0.01 * (i % 10),
                    "task_type": task,
                }
            )
    return items


def seed_interactions(client: ApiClient, per_task: int = 12) -> list[str]:
    """Store the training items; return their ids."""
    response = client.post("/v1/interactions/batch", json={"items": training_items(per_task)})
    assert response.status_code == 201, response.text
    return response.json()["ids"]


def create_job(client: ApiClient, n_epochs: int, **request: object) -> str:
    """POST a job with n_epochs, the lab's synthetic examples off and its five test cases as
    the eval set (plus any holdout the request asks for); return its id."""
    hyperparameters = {"n_epochs": n_epochs, "early_stopping_patience": None}
    body = {
        "include_synthetic": False,
        "lab_eval_set": True,
        "hyperparameters": hyperparameters,
        **request,
    }
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def events_of(stack: Stack, job_id: str) -> list[dict]:
    """Every event of the job, read from the store (works while the gateway is busy)."""
    return stack.store.jobs.events(job_id, limit=100_000)[0]


def epochs_in(events: Iterable[dict]) -> list[int]:
    """The epoch numbers of the job's per-epoch `metrics` events, in order."""
    return [e["data"]["epoch"] for e in events if e["type"] == "metrics"]


def stages_started(events: Iterable[dict]) -> list[str]:
    """The stages of the job's stage.started events, in order."""
    return [e["data"]["stage"] for e in events if e["type"] == "stage.started"]


def wait_for_epochs(stack: Stack, job_id: str, at_least: int, timeout: float = 60.0) -> int:
    """Wait until the job has at least so many epoch events; return how many it has."""

    def enough() -> int:
        return n if (n := len(epochs_in(events_of(stack, job_id)))) >= at_least else 0

    return wait_until(
        enough,
        timeout,
        lambda: f"{at_least} epoch events of {job_id}: {describe_job(stack, job_id)}",
        interval=0.05,
    )


def describe_job(stack: Stack, job_id: str) -> str:
    """The job's state, deliveries, events and every log tail, for failure messages."""
    try:
        job = stack.store.jobs.get(job_id)
        events = [(e["type"], e["message"]) for e in events_of(stack, job_id)]
    except redis.RedisError as exc:
        return f"(redis unreachable: {exc})\n{stack.logs()}"
    deliveries = job and job.get("deliveries")
    return f"{job_state(job)} deliveries={deliveries}\nevents={events}\n{stack.logs()}"


def wait_job_status(
    client: ApiClient, stack: Stack, job_id: str, statuses: Iterable[str], timeout: float
) -> dict:
    """Poll GET /v1/jobs/{id} until its status is one of statuses; return the job."""
    wanted, last = set(statuses), {}

    def reached() -> dict | None:
        response = client.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        last.update(response.json())
        return last if last["status"] in wanted else None

    return wait_until(
        reached,
        timeout,
        lambda: f"job {job_id} to be {sorted(wanted)}: {describe_job(stack, job_id)}",
        interval=0.1,
    )


def deliveries(stack: Stack, job_id: str) -> dict[str, int]:
    """How often each stage of the job started (the job record's crash counter)."""
    job = stack.store.jobs.get(job_id)
    assert job is not None, job_id
    return job["deliveries"]


def lease_holder(stack: Stack, job_id: str, stage: str) -> str | None:
    """The lease value "host|pid|rand" of the job's stage, or None when nobody holds it."""
    return stack.store.redis.get(keys.lease(job_id, stage))


def holder_pid(holder: str) -> int:
    """The process id in a lease value."""
    return int(holder.split("|")[1])


def alive(pid: int) -> bool:
    """Whether a process with this id exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class LeaseWatcher:
    """Poll a stage lease in a thread; record each new holder and who was still alive then."""

    def __init__(self, stack: Stack, job_id: str, stage: str, interval: float = 0.02) -> None:
        self.key, self.interval = keys.lease(job_id, stage), interval
        self.redis = redis.Redis.from_url(stack.redis_url, decode_responses=True, socket_timeout=2)
        # (time, new holder, the earlier holders whose process was still alive at that time)
        self.takeovers: list[tuple[float, str, list[str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-watcher", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                holder = self.redis.get(self.key)
            except redis.RedisError:
                continue
            if holder is not None and holder not in self.holders():
                earlier = [h for h in self.holders() if alive(holder_pid(h))]
                self.takeovers.append((time.monotonic(), holder, earlier))

    def holders(self) -> list[str]:
        """The distinct holders seen, in order of first appearance."""
        return [holder for _, holder, _ in self.takeovers]

    def overlaps(self) -> list[tuple[str, list[str]]]:
        """Each holder that took the lease while an earlier holder's process still lived."""
        return [(holder, earlier) for _, holder, earlier in self.takeovers if earlier]

    def __enter__(self) -> LeaseWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.redis.close()


def assert_one_run_per_epoch(events: list[dict], n_epochs: int) -> None:
    """Exactly one metrics event per epoch, 1..n_epochs, in order."""
    assert epochs_in(events) == list(range(1, n_epochs + 1)), [
        (e["type"], e["message"]) for e in events
    ]


def models_of(client: ApiClient, job_id: str) -> list[dict]:
    """The models GET /v1/models lists for the job."""
    response = client.get("/v1/models")
    assert response.status_code == 200, response.text
    return [m for m in response.json()["data"] if m.get("job_id") == job_id]


def comparable(result: dict) -> dict:
    """A job result without what differs between two jobs on the same data (the model id)."""
    return {k: v for k, v in result.items() if k != "model_id"}


def wait_ended(stack: Stack, job_id: str, timeout: float) -> dict:
    """Wait until the job has ended, read from the store (works while the gateway is busy)."""
    return wait_until(
        lambda: (j := stack.store.jobs.get(job_id))["status"] in contracts.TERMINAL and j,
        timeout,
        lambda: f"job {job_id} to end: {describe_job(stack, job_id)}",
        interval=0.1,
    )
