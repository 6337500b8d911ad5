"""Time from a job's end to a webhook receiver getting its signed POST, over 20 jobs.

The devstack as `make run` starts it (Stack.start: the pipeline worker, the responder, the
webhooks worker on its own queue and threads, the gateway), private targets allowed, and a
receiver on 127.0.0.1 that verifies each delivery with standardwebhooks. A job's end is when
its `job.succeeded` event was written (the Redis stream id's milliseconds), just before its
status changed; the receiver stamps each POST when its body has been read. Both clocks are
this machine's. Each job is small (36 rated rows, one epoch), so the figure is the delivery
path: the Lua step that records the event, the Celery message, the attempt. It does not grow
with the job's size.

    PYTHONPATH=... python tests/benchmarks/bench_webhook_latency.py
"""

import http.server
import os
import secrets
import statistics
import sys
import threading
import time

from standardwebhooks import Webhook
from tuneloop_cli.client import Api, Config
from tuneloop_devstack.procs import free_port
from tuneloop_devstack.stack import Stack

RUNS = 20
ROWS = [
    {
        "input": f"Question {i} about the {topic} in Oslo?",
        "output": f"About the {topic}: answer {i}.",
        "rating": 0.9,
        "task_type": task,
    }
    for task, topic in (("weather", "rain"), ("travel", "flight"), ("billing", "refund"))
    for i in range(12)
]
REQUEST = {"include_synthetic": False, "lab_eval_set": True, "hyperparameters": {"n_epochs": 1}}
got: list[tuple[float, dict, bytes]] = []


class Receiver(http.server.BaseHTTPRequestHandler):
    """Stamps and keeps each POST, answers 204."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        got.append((time.time(), dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    """Run the jobs one after another; print each latency and the median, min and max."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**os.environ, "TUNELOOP_WEBHOOK_ALLOW_PRIVATE": "1"}
    stack = Stack(api_key=secrets.token_urlsafe(16), port=free_port(), base_env=env)
    try:
        stack.start()
        client = Api(Config(stack.base_url, stack.api_key))
        url = f"http://127.0.0.1:{server.server_port}/hook"
        hook = client.post("/v1/webhooks", {"url": url, "events": ["fine_tuning.job.succeeded"]})
        client.post("/v1/interactions/batch", {"items": ROWS})
        latencies = [one_job(client, stack, hook["secret"], n) for n in range(RUNS)]
    finally:
        stack.stop()
        server.shutdown()
    print(
        f"job end -> receiver, {RUNS} jobs: median {statistics.median(latencies):.1f} ms, "
        f"min {min(latencies):.1f} ms, max {max(latencies):.1f} ms"
    )


def one_job(client: Api, stack: Stack, secret: str, n: int) -> float:
    """Run one job; return the milliseconds from its end to its delivery's arrival."""
    job = client.post("/v1/jobs", REQUEST)
    deadline = time.monotonic() + 120
    while len(got) <= n:
        if time.monotonic() > deadline:
            sys.exit(f"no delivery for job {job['id']} in 120 s")
        time.sleep(0.01)
    arrived, headers, body = got[n]
    event = Webhook(secret).verify(body, headers)
    assert event["data"]["id"] == job["id"], event
    events = stack.store.jobs.events(job["id"], 1000)[0]
    ended = next(int(e["id"].split("-")[0]) for e in events if e["type"] == "job.succeeded")
    latency = arrived * 1000 - ended
    print(f"job {n + 1}: {latency:.1f} ms", flush=True)
    return latency


if __name__ == "__main__":
    main()
