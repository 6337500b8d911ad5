"""`make demo` without a terminal: with DEMO_HOLD its job's link works while it waits, and a
SIGTERM then stops everything it started."""

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from .support import ApiClient, free_port, wait_until
from .support.pages import csrf_of

pytestmark = pytest.mark.integration
HOLD = re.compile(r"The job's page stays up at (http://\S+/ui/jobs/(ftjob-\w+)) \(key (\S+)\)")


def read_until(proc: subprocess.Popen, pattern: re.Pattern, timeout: float) -> re.Match:
    """Read the process's output line by line until pattern matches; fail with what it said."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    said: list[str] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            said.append(lines.get(timeout=left))
        except queue.Empty:
            break
        if found := pattern.search(said[-1]):
            return found
    raise AssertionError("the demo never said its link:\n" + "".join(said[-60:]))


def test_the_demos_job_link_stays_valid_while_it_holds(tmp_path: Path) -> None:
    port = free_port()
    # As a user runs it: none of the suite's Tuneloop or Redis settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNELOOP_", "REDIS_"))}
    env.update(PORT=str(port), DEMO_HOLD="300", PYTHONUNBUFFERED="1")
    demo = subprocess.Popen(
        [sys.executable, "-m", "tuneloop_devstack.demo"],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        link, job_id, key = read_until(demo, HOLD, 300).groups()
        base = link.split("/ui/", 1)[0]
        with ApiClient(base) as browser:
            form = browser.get(link)  # sent to the login form, which comes back to the link
            assert form.url.endswith(f"/ui/login?next=/ui/jobs/{job_id}"), form.url
            data = {"csrf_token": csrf_of(form.text), "api_key": key, "next": f"/ui/jobs/{job_id}"}
            page = browser.post(f"{base}/ui/login", data=data)
            assert page.status_code == 200 and page.url == link
            assert job_id in page.text and "succeeded" in page.text
        assert demo.poll() is None  # still holding
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(60) == 0
        with pytest.raises(requests.ConnectionError):
            requests.get(link, timeout=5)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(30)
    wait_until(lambda: demo.poll() is not None, 5, lambda: "the demo to exit")
