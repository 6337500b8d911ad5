"""What a filtered GET /v1/interactions costs as the project grows.

Posts Banking77's train split (../shared/data/banking77) COPIES times over (about 10,000 rows
each, ratings and sources varied, every 7th of the first 1,000 scored) to a private stack,
then times READS list requests of each kind, interleaved, through the gateway (server time +
transfer). A filter that matches often fills its page after reading a few hundred rows; one
that matches rarely reads up to 10,000 rows (interaction_filters.MAX_SCANNED) and answers a
short page with next_after, so a request's cost stops growing with the project.

    .venv/bin/python tests/benchmarks/bench_interaction_filters.py [--copies 5] [--reads 10]
"""

import argparse
import csv
import statistics
import time
from pathlib import Path

import requests
from benchsupport import post_rows, start_stack

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "banking77" / "train.csv"
QUERIES = {
    "no filter": {},
    "task_type (its index)": {"task_type": "card_arrival"},
    "q common ('card')": {"q": "card"},
    "q + rating range": {"q": "card", "min_rating": 0.4, "max_rating": 0.8},
    "named score >= 0.5": {"score": "helpfulness", "min_score": 0.5},
    "q rare (last copy only)": {"q": "copy-last"},
}


def rows(copies: int) -> list[dict]:
    """The train split copies times, varied; only the last copy's outputs say copy-last."""
    with DATA.open(newline="") as f:
        base = list(csv.DictReader(f))
    return [
        {
            "input": r["text"],
            "output": f"{r['category']} ({'copy-last' if c == copies - 1 else f'copy-{c}'})",
            "rating": (i % 11) / 10,
            "task_type": r["category"],
            "source": ("human", "synthetic", "import")[i % 3],
        }
        for c in range(copies)
        for i, r in enumerate(base)
    ]


def score_some(session: requests.Session, base: str, every: int = 7) -> None:
    """Give every every-th of the first 1,000 rows a helpfulness score."""
    page = session.get(f"{base}/v1/interactions", params={"limit": 1000}).json()
    for i, row in enumerate(page["data"][::every]):
        body = {"name": "helpfulness", "value": (i % 10) / 9, "source": "app"}
        session.post(f"{base}/v1/interactions/{row['id']}/scores", json=body).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--reads", type=int, default=10)
    args = parser.parse_args()
    stack, client = start_stack()
    try:
        data = rows(args.copies)
        print(f"posting {len(data)} rows: {post_rows(client, data):.1f} s")
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {stack.api_key}"
        score_some(session, stack.base_url)
        times: dict[str, list[float]] = {name: [] for name in QUERIES}
        shown: dict[str, str] = {}
        for _ in range(args.reads):
            for name, params in QUERIES.items():
                start = time.perf_counter()
                page = session.get(
                    f"{stack.base_url}/v1/interactions", params={"limit": 100, **params}
                ).json()
                times[name].append(time.perf_counter() - start)
                shown[name] = f"{len(page['data'])} rows, has_more {page['has_more']}"
        for name, seconds in times.items():
            ms = sorted(s * 1000 for s in seconds)
            print(
                f"{name:26} median {statistics.median(ms):7.1f} ms "
                f"(min {ms[0]:.1f}, max {ms[-1]:.1f}); first page: {shown[name]}"
            )
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
