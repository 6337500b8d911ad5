"""Median time from POST /v1/jobs to `succeeded` for ten lab-sized jobs.

The same job run in-process (stage functions called directly on the same Redis) is the
baseline measured in the same run: the ratio is what the gateway, broker, chain and
polling add.
"""

import secrets
import statistics
import sys
import time

from tuneloop_cli.client import Api, Config
from tuneloop_devstack.demo_data import HUMAN_RATED
from tuneloop_devstack.procs import free_port
from tuneloop_devstack.stack import Stack

from tuneloop import contracts, graph
from tuneloop.agent.lab import SYNTHETIC_EXAMPLES
from tuneloop.pipeline.runner import run_stage, work_of
from tuneloop.store import Store

RUNS, POLL = 10, 0.02
REQUEST = {
    "min_score": 0.8,
    "include_synthetic": False,
    "lab_eval_set": True,  # evaluated on the lab's five test cases, as before they were asked for
    "hyperparameters": {"seed": 1},
}


def timed_job(client: Api) -> float:
    """Return seconds from POST to succeeded for one job."""
    start = time.perf_counter()
    job = client.post("/v1/jobs", REQUEST)
    deadline = start + 120
    while time.perf_counter() < deadline:
        job = client.get(f"/v1/jobs/{job['id']}")
        if job["status"] in contracts.TERMINAL:
            if job["status"] != contracts.SUCCEEDED:
                sys.exit(f"job {job['id']} ended {job['status']}: {job['error']}")
            return time.perf_counter() - start
        time.sleep(POLL)
    sys.exit(f"job {job['id']} did not finish in 120s")


def in_process(store: Store, request: dict) -> float:
    """Return seconds to run the same job's stages directly, without Celery or HTTP."""
    job = store.jobs.create(request, store.interactions.last_seq(), 27)
    start = time.perf_counter()
    for stage in graph.stages_of(graph.FINE_TUNING):
        run_stage(store, job["id"], stage, work_of(stage))
    return time.perf_counter() - start


def main() -> None:
    """Run the jobs one after another and print the figures."""
    stack = Stack(api_key=secrets.token_urlsafe(16), port=free_port(), workers=2)
    try:
        stack.start()
        client = Api(Config(stack.base_url, stack.api_key))
        items = [{**ex, "source": "synthetic"} for ex in SYNTHETIC_EXAMPLES]
        items += [
            {"input": i, "output": o, "rating": r, "task_type": t} for i, o, r, t in HUMAN_RATED
        ]
        client.post("/v1/interactions/batch", {"items": items})
        timed_job(client)  # warm-up: imports and first model load in the worker
        service = [timed_job(client) for _ in range(RUNS)]
        store = Store.from_url(stack.redis_url)
        last = client.get(f"/v1/jobs/{client.get('/v1/jobs?limit=1')['data'][0]['id']}")
        request = last["request"]
        direct = [in_process(store, request) for _ in range(RUNS)]
    finally:
        stack.stop()
    med, base = statistics.median(service), statistics.median(direct)
    trained = last["result"]
    rows = trained["training_data"]["total_examples"]
    print(
        f"{len(items)} interactions, {RUNS} jobs one after another, each "
        f"{len(trained['epochs'])} epochs of {trained['hyperparameters']['n_epochs']} "
        f"(best {trained['best_epoch']}) on {rows} training rows"
    )
    print(
        f"POST -> succeeded: median {med * 1000:.0f} ms (min {min(service) * 1000:.0f}, "
        f"max {max(service) * 1000:.0f})"
    )
    print(f"same stages in-process: median {base * 1000:.0f} ms")
    print(f"ratio service / in-process: {med / base:.1f}x")


if __name__ == "__main__":
    main()
