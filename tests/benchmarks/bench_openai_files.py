"""The OpenAI-compatible path against our own: uploads and jobs, interleaved A/B.

A: Banking77's train split as chat-format JSONL uploaded with the openai SDK
(`files.create`, one multipart request; a worker checks it line by line, and
`files.wait_for_processing` waits until it is processed), then a job over it with
`fine_tuning.jobs.create` polled until it succeeded. B: the same rows posted to
`POST /v1/interactions/batch` in batches of 1,000, then `POST /v1/jobs` over them. B's job
reads every interaction stored so far, so each round starts on a fresh store (FLUSHDB of the
private Redis). Both jobs evaluate on the same 3,080 test cases (A: its validation file;
B: the same cases as eval_set) with the same epochs and seed.

    .venv/bin/python tests/benchmarks/bench_openai_files.py
"""

import io
import json
import statistics
import time

import openai
from bench_banking77 import rows as banking77_rows
from benchsupport import post_rows, run_job, start_stack
from redis import Redis

from tuneloop.contracts import BASELINE_MODEL_ID
from tuneloop.schemas.chat_file import parse, trusted_rows

ROUNDS, EPOCHS, SEED = 3, 10, 42


def chat_jsonl(rows: list[dict]) -> bytes:
    """Rows as chat-format lines, the task type and rating as our extras."""
    return "".join(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": r["input"]},
                    {"role": "assistant", "content": r["output"]},
                ],
                "rating": r["rating"],
                "metadata": {"task_type": r["task_type"]},
            }
        )
        + "\n"
        for r in rows
    ).encode()


def wait(sdk: openai.OpenAI, job_id: str, started: float) -> float:
    """Poll until the job succeeded; return seconds since started."""
    while (job := sdk.fine_tuning.jobs.retrieve(job_id)).status not in ("succeeded", "failed"):
        time.sleep(0.2)
    if job.status != "succeeded":
        raise SystemExit(f"job {job_id} failed: {job.error}")
    return time.perf_counter() - started


def summary(label: str, values: list[float], unit: str) -> str:
    """Median and range."""
    return (
        f"{label:44} median {statistics.median(values):9,.1f} {unit} "
        f"(min {min(values):,.1f}, max {max(values):,.1f})"
    )


def line_check_us(content: bytes, lines: int) -> tuple[list[float], list[float]]:
    """Microseconds a line: the upload's check (parse) and a bare decode (trusted_rows), A/B."""
    checked, bare = [], []
    for _ in range(ROUNDS * 2):
        start = time.perf_counter()
        parse(content)
        checked.append((time.perf_counter() - start) * 1e6 / lines)
        start = time.perf_counter()
        trusted_rows(content)
        bare.append((time.perf_counter() - start) * 1e6 / lines)
    return checked, bare


def main() -> None:
    """Interleave the SDK path and ours; print upload rows/s and POST-to-succeeded seconds."""
    train, test = banking77_rows("train.csv"), banking77_rows("test.csv")
    cases = [
        {"input": r["input"], "expected_type": r["task_type"], "reference_output": r["output"]}
        for r in test
    ]
    train_file, test_file = chat_jsonl(train), chat_jsonl(test)
    checked, bare = line_check_us(train_file, len(train))
    stack, client = start_stack(workers=1)
    redis = Redis.from_url(stack.redis_url)
    sdk = openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key=stack.api_key, max_retries=0)
    up_a, up_b, job_a, job_b, stored = [], [], [], [], 0
    hyper = {"n_epochs": EPOCHS}
    try:
        for r in range(ROUNDS):
            redis.flushdb()
            start = time.perf_counter()
            uploaded = sdk.files.create(
                file=("t.jsonl", io.BytesIO(train_file)), purpose="fine-tune"
            )
            uploaded = sdk.files.wait_for_processing(uploaded.id, poll_interval=0.05)
            up_a.append(len(train) / (time.perf_counter() - start))
            stored = uploaded.model_extra["tuneloop"]["stored_bytes"]
            valid = sdk.files.create(file=("v.jsonl", io.BytesIO(test_file)), purpose="fine-tune")
            sdk.files.wait_for_processing(valid.id, poll_interval=0.05)
            start = time.perf_counter()
            job = sdk.fine_tuning.jobs.create(
                model=BASELINE_MODEL_ID,
                training_file=uploaded.id,
                validation_file=valid.id,
                hyperparameters=hyper,
                seed=SEED,
            )
            job_a.append(wait(sdk, job.id, start))
            redis.flushdb()
            up_b.append(len(train) / post_rows(client, train))
            request = {
                "include_synthetic": False,
                "eval_set": cases,
                "hyperparameters": {**hyper, "seed": SEED},
            }
            job_b.append(run_job(client, request, timeout=900)[1])
            print(
                f"round {r + 1}: upload {up_a[-1]:,.0f} vs batch {up_b[-1]:,.0f} rows/s; "
                f"job {job_a[-1]:.2f} vs {job_b[-1]:.2f} s",
                flush=True,
            )
    finally:
        sdk.close()
        stack.stop()
    print("command: .venv/bin/python tests/benchmarks/bench_openai_files.py")
    print(f"Banking77: {len(train):,} training rows ({len(train_file):,} bytes as chat JSONL,")
    print(f"stored in {stored:,} bytes), {len(test):,} evaluation cases, {ROUNDS} rounds A, B")
    print(summary("A files.create -> processed (SDK)", up_a, "rows/s"))
    print(summary("B POST /v1/interactions/batch (1,000 a batch)", up_b, "rows/s"))
    print(summary("A fine_tuning.jobs.create -> succeeded", job_a, "s"))
    print(summary("B POST /v1/jobs -> succeeded", job_b, "s"))
    print(summary("upload check, in process (parse)", checked, "us/line"))
    print(summary("bare decode of the same lines (trusted_rows)", bare, "us/line"))
    ratios = [a / b for a, b in zip(job_a, job_b, strict=True)]
    print(
        f"job A / B: median {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
