"""Body size and median latency of GET /v1/jobs/{id} for a job with a 10,000-case eval set.

Reads the job once it has ended (so no stage competes for the CPU), by default and with
?include=request.eval_set. Cost grows linearly with the eval set only when it is included.
"""

import statistics
import time
import urllib.request

from benchsupport import run_job, start_stack

CASES, READS = 10_000, 30
# About 1.2 kB a case, the size of the eval set in issue #7 (11.7 MB in all).
EVAL_SET = [
    {
        "input": f"Case {i:05d}: " + "will it rain in Oslo tomorrow? " * 6,
        "expected_type": "weather",
        "reference_output": "Expect light rain in Oslo in the afternoon. " * 20,
    }
    for i in range(CASES)
]


def timed_reads(url: str, api_key: str) -> tuple[int, float]:
    """Return the body size and the median seconds of READS GETs of url."""
    seconds, size = [], 0
    for _ in range(READS):
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"})
        start = time.perf_counter()
        with urllib.request.urlopen(req, timeout=60) as resp:
            size = len(resp.read())
        seconds.append(time.perf_counter() - start)
    return size, statistics.median(seconds)


def main() -> None:
    """Run one job with the eval set, then read it back both ways and print the figures."""
    stack, client = start_stack(workers=1)
    try:
        request = {"eval_set": EVAL_SET, "hyperparameters": {"n_epochs": 1}}
        job, _ = run_job(client, request, timeout=300)
        base = f"{stack.base_url}/v1/jobs/{job['id']}"
        for label, url in (("default", base), ("include", f"{base}?include=request.eval_set")):
            size, median = timed_reads(url, stack.api_key)
            print(f"GET {label:8} {size:>11,} bytes, median {median * 1000:7.1f} ms of {READS}")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
