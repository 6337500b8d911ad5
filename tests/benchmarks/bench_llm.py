"""LoRA SFT on the CPU: training tokens per second of a ~10M-parameter model, and the job's
fine_tune stage (and whole job) against the same training run bare (llm_bare.py: TRL called
directly on the rows the job trained on, read back from its training file, with the same
settings; the bare run skips the job's per-epoch validation loss, so that counts against the
job), interleaved bare, job, bare, job, with medians and min/max. Goal: fine_tune stage / bare
<= 1.15. GPU figures where a GPU exists.

Needs the llm extra (`make llm`); prints why and exits 0 without it.
"""

import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from benchsupport import events, spread, stage_seconds, wait_processed
from tuneloop_cli.client import Api, Config
from tuneloop_devstack import llm_data
from tuneloop_devstack.stack import Stack

from tuneloop.llm import hyperparameters

ROUNDS = int(os.environ.get("BENCH_LLM_ROUNDS", "3"))
PER_INTENT = 100  # 400 rows: about 256 trained on, 64 validate, 80 held out
SEED = 42
SIZE = {"hidden": 256, "layers": 8, "heads": 4, "vocab": 2048}  # about 10M parameters
REQUEST_HP = {"n_epochs": 2, "batch_size": 8}
BARE = Path(__file__).with_name("llm_bare.py")


def parameters(model_dir: Path) -> int:
    """Return the model's parameter count."""
    from tuneloop.llm import models

    model, _ = models.load_base(model_dir)
    return sum(p.numel() for p in model.parameters())


def upload(stack: Stack, content: bytes) -> str:
    """Upload the chat file (purpose fine-tune); return its id."""
    answer = requests.post(
        f"{stack.base_url}/v1/files",
        headers={"Authorization": f"Bearer {stack.api_key}"},
        files={"file": ("chat.jsonl", content)},
        data={"purpose": "fine-tune"},
        timeout=60,
    )
    answer.raise_for_status()
    return wait_processed(Api(Config(stack.base_url, stack.api_key)), answer.json()["id"])["id"]


def run_bare(model_dir: Path, rows_path: Path, hp: dict) -> dict:
    """Run llm_bare.py once; return its figures."""
    done = subprocess.run(
        [sys.executable, str(BARE), str(model_dir), str(rows_path), json.dumps(hp)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_job(client: Api, fid: str) -> dict:
    """Run one supervised job on the file; return its wall time, stage time and tokens/s."""
    body = {
        "model": "bench-10m",
        "training_file": fid,
        "seed": SEED,
        "method": {"type": "supervised", "supervised": {"hyperparameters": REQUEST_HP}},
    }
    started = time.perf_counter()
    job = client.post("/v1/fine_tuning/jobs", body)
    while True:
        job = client.get(f"/v1/jobs/{job['id']}")
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.2)
    wall = time.perf_counter() - started
    if job["status"] != "succeeded":
        sys.exit(f"job {job['id']} {job['status']}: {job.get('error')}")
    seconds = stage_seconds(events(client, job["id"]))
    return {
        "id": job["id"],
        "wall": wall,
        "fine_tune": seconds["fine_tune"],
        "tokens_per_second": job["result"]["tokens_per_second"],
        "tokens": job["result"]["training_tokens"],
    }


def trained_rows(stack: Stack, job_id: str, path: Path) -> int:
    """Write the rows the job trained on (its training file) for the bare run; count them."""
    answer = requests.get(
        f"{stack.base_url}/v1/jobs/{job_id}/training_file",
        headers={"Authorization": f"Bearer {stack.api_key}"},
        timeout=60,
    )
    answer.raise_for_status()
    lines = answer.text.splitlines()
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            messages = json.loads(line)["messages"]
            row = {"prompt": messages[:-1], "completion": [messages[-1]], "side": "train"}
            out.write(json.dumps(row) + "\n")
    return len(lines)


def main() -> None:
    """Measure and print."""
    try:
        import torch  # noqa: F401
        import trl  # noqa: F401
    except ImportError:
        print("bench_llm: the llm extra is not installed (make llm): skipped")
        return
    from tuneloop.llm import tiny

    with tempfile.TemporaryDirectory(prefix="tuneloop-bench-llm-") as workdir:
        root = Path(workdir)
        model_dir = tiny.build(root / "model", llm_data.texts(PER_INTENT), **SIZE)
        print(f"model: {parameters(model_dir) / 1e6:.1f}M parameters, {SIZE}")
        lines = "".join(line + "\n" for line in llm_data.chat_lines(PER_INTENT)).encode()
        env = {
            **os.environ,
            "TUNELOOP_BASE_MODELS": f"bench-10m={model_dir}",
            "TUNELOOP_ARTIFACTS": str(root / "artifacts"),
            "HF_HUB_OFFLINE": "1",
        }
        (root / "stack").mkdir()
        stack = Stack(api_key=secrets.token_urlsafe(16), workdir=root / "stack", base_env=env)
        try:
            stack.start()
            stack.start_worker("llm", queues="tuneloop.llm,tuneloop.llm.interactive")
            client = Api(Config(stack.base_url, stack.api_key))
            fid = upload(stack, lines)
            warm = run_job(client, fid)  # loads the model once; its training file is the rows
            n_train = trained_rows(stack, warm["id"], root / "rows.jsonl")
            hp = hyperparameters.resolve("supervised", {**REQUEST_HP, "seed": SEED}, n_train)
            bare, jobs = [], []
            for _ in range(ROUNDS):  # interleaved: bare, job, bare, job, ...
                bare.append(run_bare(model_dir, root / "rows.jsonl", hp))
                jobs.append(run_job(client, fid))
        finally:
            stack.stop()
    bare_s = [b["seconds"] for b in bare]
    stage_s, wall_s = [j["fine_tune"] for j in jobs], [j["wall"] for j in jobs]
    print(f"rows trained on: {n_train}; epochs {hp['n_epochs']}, batch {hp['batch_size']}")
    print(f"bare TRL run (load to adapter saved): {spread(bare_s)}")
    print(f"job fine_tune stage:                   {spread(stage_s)}")
    print(f"whole job (POST to succeeded):         {spread(wall_s)}")
    ratio = statistics.median(stage_s) / statistics.median(bare_s)
    print(f"fine_tune stage / bare, medians: {ratio:.3f}x (goal <= 1.15x)")
    whole = statistics.median(wall_s) / statistics.median(bare_s)
    print(f"whole job / bare, medians: {whole:.3f}x (the job also evaluates both models)")
    bare_tps = [b["tokens"] / b["seconds"] for b in bare]
    job_tps = [j["tokens_per_second"] for j in jobs]
    print(f"training tokens/s, bare (load included): {spread(bare_tps, unit=' tok/s')}")
    print(f"training tokens/s, job (training only):  {spread(job_tps, unit=' tok/s')}")


if __name__ == "__main__":
    main()
