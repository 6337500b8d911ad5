"""A project's byte budget under a stream of uploads: how many are stored, and what it holds.

The review behind issue #27 sent 200 uploads of 0.85 MiB and all were accepted (38 s). This
starts a stack as `make run` does, with TUNELOOP_MAX_PROJECT_BYTES set (default 64 MiB),
and sends the same 200 uploads one after the other, each a valid chat-format file of
0.85 MiB of random hex text. An upload counts its raw bytes until a worker has checked it,
then its compressed bytes: uploads sent faster than the checks meet the budget at their raw
size. It prints how many were accepted and refused, the first refusal's message, the
project's usage against its budget once every accepted file is checked, Redis's used memory,
and the time of an upload (median, min, max).

    .venv/bin/python tests/benchmarks/bench_budget_uploads.py [--uploads 200] [--budget-mib 64]
"""

import argparse
import json
import os
import secrets
import statistics
import time

from benchsupport import mib, redis_used, start_stack, wait_processed

FILE_BYTES = int(0.85 * 1024 * 1024)


def chat_file(size: int) -> bytes:
    """A valid chat JSONL file of about size bytes, of random hex text."""
    lines, total = [], 0
    while total < size:
        messages = [
            {"role": "user", "content": f"where is my card {secrets.token_hex(40)}"},
            {"role": "assistant", "content": "It is on its way."},
        ]
        line = json.dumps({"messages": messages, "metadata": {"task_type": "card_arrival"}})
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines).encode()


def main() -> None:
    """Send the uploads and print what the budget let through."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--budget-mib", type=float, default=64.0)
    args = parser.parse_args()
    budget = int(args.budget_mib * 1024 * 1024)
    os.environ["TUNELOOP_MAX_PROJECT_BYTES"] = str(budget)
    stack, client = start_stack()
    try:
        before = redis_used(stack)
        content = chat_file(FILE_BYTES)
        accepted, refused, seconds, first_refusal = [], 0, [], ""
        started = time.perf_counter()
        for i in range(args.uploads):
            t0 = time.perf_counter()
            answer = client.session.post(
                f"{stack.base_url}/v1/files",
                files={"file": (f"u{i}.jsonl", content)},
                data={"purpose": "fine-tune"},
                timeout=120,
            )
            seconds.append(time.perf_counter() - t0)
            if answer.status_code == 200:
                accepted.append(answer.json()["id"])
            elif answer.status_code == 429:
                refused += 1
                first_refusal = first_refusal or answer.json()["error"]["message"]
            else:
                raise SystemExit(f"upload {i}: {answer.status_code} {answer.text[:300]}")
        elapsed = time.perf_counter() - started
        for fid in accepted:
            wait_processed(client, fid)
        usage = client.get("/v1/usage")
        size = f"{len(content) / 2**20:.2f} MiB"
        print(f"uploads: {args.uploads} of {size} each, budget {mib(budget)}")
        print(f"accepted {len(accepted)}, refused {refused} (429 insufficient_quota)")
        print(f"first refusal: {first_refusal}")
        print(
            f"usage once checked: {mib(usage['bytes'])} of {mib(budget)} "
            f"(files: {usage['by_kind']['files']})"
        )
        print(f"Redis used memory grew by {mib(redis_used(stack) - before)}")
        print(
            f"all uploads answered in {elapsed:.1f} s; one upload: median "
            f"{statistics.median(seconds) * 1000:.0f} ms (min {min(seconds) * 1000:.0f}, "
            f"max {max(seconds) * 1000:.0f})"
        )
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
