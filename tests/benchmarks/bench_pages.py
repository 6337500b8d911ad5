"""Load time of the report pages for a job with 100 epochs and a 10,000-case eval set.

Runs one real job (100 epochs, early stopping off), logs in through the form, then times the
job page, its live JSON and the jobs list (READS loads each, server time + transfer, no
rendering), each interleaved with the API read that holds the same data, as a baseline.
Cost: the job page reads the job (its result holds per-task tables and a few side-by-side
examples, not the cases), up to 1,000 events and 10 cases per outcome, so it grows with the
epochs and task types, not with the eval set.

    .venv/bin/python tests/benchmarks/bench_pages.py
"""

import re
import statistics
import time

import requests
from benchsupport import post_rows, run_job, start_stack

EPOCHS, CASES, READS = 100, 10_000, 20
TOPICS = {
    "weather": ["rain", "snow", "wind", "storm", "forecast", "fog"],
    "travel": ["flight", "train", "hotel", "visa", "airport", "ferry"],
    "billing": ["invoice", "refund", "charge", "payment", "receipt", "card"],
}
PLACES = ["Oslo", "Lima", "Porto", "Kyoto", "Quito", "Bergen", "Accra", "Perth"]


def rows() -> list[dict]:
    """Rated interactions over three task types."""
    return [
        {
            "input": f"Question {i} about the {word} in {place}?",
            "output": f"About the {word} in {place}: answer {i}.",
            "rating": 0.9,
            "task_type": task,
        }
        for task, words in TOPICS.items()
        for i, (word, place) in enumerate((w, p) for w in words for p in PLACES)
    ]


def eval_set() -> list[dict]:
    """CASES evaluation cases spread over the task types."""
    tasks = list(TOPICS)
    return [
        {
            "input": f"Case {i}: what about the {TOPICS[t][i % 6]} in {PLACES[i % 8]}?",
            "expected_type": t,
            "reference_output": f"About the {TOPICS[t][i % 6]} in {PLACES[i % 8]}.",
        }
        for i in range(CASES)
        for t in [tasks[i % 3]]
    ]


def timed_get(session: requests.Session, url: str) -> tuple[int, float]:
    """Return the body size and seconds of one GET of url."""
    start = time.perf_counter()
    response = session.get(url, timeout=60)
    response.raise_for_status()
    return len(response.content), time.perf_counter() - start


def compare(session: requests.Session, api_session: requests.Session, page: str, api: str) -> str:
    """Load page and api READS times each, interleaved; describe sizes, medians and ratio."""
    page_s, api_s = [], []
    for _ in range(READS):
        page_size, seconds = timed_get(session, page)
        page_s.append(seconds)
        api_size, seconds = timed_get(api_session, api)
        api_s.append(seconds)
    ratios = [p / a for p, a in zip(page_s, api_s, strict=True)]
    return (
        f"{page_size:>9,} bytes, median {statistics.median(page_s) * 1000:6.1f} ms "
        f"(min {min(page_s) * 1000:.1f}, max {max(page_s) * 1000:.1f}); "
        f"API {api_size:,} bytes, {statistics.median(api_s) * 1000:.1f} ms; "
        f"page / API median {statistics.median(ratios):.2f} "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f})"
    )


def main() -> None:
    """Run the job, log in, time the pages and print the figures."""
    stack, client = start_stack(workers=1)
    try:
        post_rows(client, rows())
        hyper = {"n_epochs": EPOCHS, "early_stopping_patience": None}
        request = {"eval_set": eval_set(), "hyperparameters": hyper, "include_synthetic": False}
        job, _ = run_job(client, request, timeout=900)
        session, base = requests.Session(), stack.base_url
        session.trust_env = False
        form = session.get(f"{base}/ui/login", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        data = {"csrf_token": token, "api_key": stack.api_key}
        session.post(f"{base}/ui/login", data=data, timeout=30).raise_for_status()
        epochs = len(job["result"]["epochs"])
        print(f"job {job['id']}: {epochs} epochs, {CASES:,} evaluation cases")
        print("command: .venv/bin/python tests/benchmarks/bench_pages.py")
        print(f"{READS} loads each, interleaved with the API read of the same data")
        api_session = requests.Session()
        api_session.trust_env = False
        api_session.headers["Authorization"] = f"Bearer {stack.api_key}"
        job_api = f"{base}/v1/jobs/{job['id']}"
        for label, path, api in (
            ("job page", f"/ui/jobs/{job['id']}", job_api),
            ("live JSON", f"/ui/jobs/{job['id']}/live.json", job_api),
            ("jobs list", "/ui/jobs", f"{base}/v1/jobs?limit=50"),
        ):
            print(f"{label:10} {compare(session, api_session, base + path, api)}")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
