"""Reaching every gunicorn worker of a gateway, and knowing which one answered.

One kept-alive connection is served by one worker for its whole life. Each probe here is a
new connection (``Connection: close``) with its own X-Request-ID; the worker that answered
it is read from the gateway's access line for that id (``request_id=... pid=<N>``).
"""

import re
import uuid
from collections.abc import Callable
from pathlib import Path

import requests
from tuneloop_devstack.stack import Stack

from .polling import wait_until

Send = Callable[[dict[str, str]], requests.Response]


def gunicorn_workers(stack: Stack, name: str = "gateway") -> set[int]:
    """Return the pids of the gateway's gunicorn workers: its master's child processes."""
    master = stack.proc(name).pid
    workers = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # the process ended meanwhile
            continue
        if int(fields[1]) == master:  # the field after the state is the parent's pid
            workers.add(int(stat.parent.name))
    return workers


def answered_by(stack: Stack, request_id: str, name: str = "gateway") -> int:
    """Return the pid of the worker whose access line carries request_id (waits for it)."""
    line = re.compile(rf" request_id={re.escape(request_id)} pid=<(\d+)>")

    def logged() -> int | None:
        found = line.search(stack.log_text(name))
        return int(found.group(1)) if found else None

    return wait_until(logged, 10.0, lambda: f"the access line of {request_id} in {name}'s log")


def probe_every_worker(
    stack: Stack, send: Send, name: str = "gateway", timeout: float = 60.0
) -> list[tuple[int, requests.Response]]:
    """Send probes on new connections until each gunicorn worker answered one.

    send gets the headers to send. Returns every probe's (worker pid, response) in order,
    so that each worker's first answer is among them.
    """
    workers = gunicorn_workers(stack, name)
    assert len(workers) >= 2, f"{name} runs {len(workers)} gunicorn worker(s): {workers}"
    answers: list[tuple[int, requests.Response]] = []

    def every_worker_answered() -> bool:
        rid = f"probe-{uuid.uuid4().hex}"
        response = send({"Connection": "close", "X-Request-ID": rid})
        answers.append((answered_by(stack, rid, name), response))
        return {pid for pid, _ in answers} >= workers

    wait_until(
        every_worker_answered,
        timeout,
        lambda: f"every worker of {sorted(workers)} to answer; answered: {answers}",
        interval=0.0,
    )
    return answers
