"""`make demo-llm`: a tiny language model, a supervised and a DPO job, and a streamed answer.

On the CPU in a few minutes: build a tiny causal LM (random weights, a tokenizer trained on
the demo's texts, a chat template) into the data directory, register it as a base model,
post Banking77 questions with rated replies, run a LoRA SFT job and a DPO job through the API,
print their reports and stream one answer. A tiny random model shows the machinery and the
loss falling, not a useful assistant.
"""

import json
import os
import secrets
import signal
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tuneloop_cli.client import Api, Config

from tuneloop_devstack import llm_data
from tuneloop_devstack.datadir import data_dir
from tuneloop_devstack.demo import interrupt, wait_for_job
from tuneloop_devstack.stack import Stack

BASE = "tiny-chat"
PER_INTENT = 40
SUPERVISED = {
    "type": "supervised",
    "supervised": {
        "hyperparameters": {"n_epochs": 6, "learning_rate_multiplier": 100.0, "batch_size": 8}
    },
}
DPO = {
    "type": "dpo",
    "dpo": {
        "hyperparameters": {
            "n_epochs": 4,
            "beta": 0.1,
            "learning_rate_multiplier": 100.0,
            "batch_size": 8,
        }
    },
}
# Promote only when the held-out likelihood rose (SFT) or preferences improved (DPO), for sure.
GATES = {
    "supervised": {"metric": "nll_reduction", "min_delta": 0.0, "use_lower_bound": True},
    "dpo": {"metric": "preference_accuracy", "min_delta": 0.1, "use_lower_bound": True},
}
LLM_QUEUES = "tuneloop.llm,tuneloop.llm.interactive"
SAYS = (
    "This tiny model has random weights and a vocabulary of a few hundred tokens: it shows the "
    "machinery (LoRA adapters, checkpoints, the report, streaming) and the loss falling, not a "
    "useful assistant. Name a real model in TUNELOOP_BASE_MODELS for that."
)


def build_model(root: Path) -> Path:
    """Build the tiny model once into the data directory; return its directory."""
    from tuneloop.llm import tiny

    target = root / "models" / BASE
    if not (target / "config.json").exists():
        tiny.build(target, llm_data.texts(PER_INTENT))
    return target


def show(job: dict) -> None:
    """Print a language-model job's report: metrics with intervals, the verdict, losses."""
    if job["status"] != "succeeded":
        print(f"  job {job['status']}: {job.get('error')}")
        return
    result = job["result"]
    for name in ("mean_token_nll", "perplexity", "response_chrf", "preference_accuracy"):
        base, tuned = result["baseline_metrics"].get(name), result["fine_tuned_metrics"].get(name)
        if base is None or tuned is None:
            continue
        ci = result["fine_tuned_metrics"]["ci95"].get(name) or [float("nan")] * 2
        print(f"  {name:<20} base {base:8.4f}  tuned {tuned:8.4f}  [{ci[0]:.4f}, {ci[1]:.4f}]")
    print(f"  verdict: {result['significance']['verdict']}")
    if result.get("promotion"):
        print(f"  gate: {result['promotion']['reason']}")
    losses = ", ".join(f"{e['train_loss']:.3f}" for e in result["epochs"])
    print(f"  train loss by epoch: {losses}")


def stream(stack: Stack, model: str, question: str) -> None:
    """Ask the model through chat completions with stream=true; print the pieces as they come."""
    body = {
        "model": model,
        "messages": llm_data.prompt(question),
        "stream": True,
        "max_tokens": 40,
        "temperature": 0,
    }
    request = urllib.request.Request(
        f"{stack.base_url}/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {stack.api_key}", "Content-Type": "application/json"},
    )
    print(f"\nStreaming {model} on {question!r}:\n  ", end="", flush=True)
    with urllib.request.urlopen(request, timeout=60) as response:
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            for choice in json.loads(line[6:]).get("choices", []):
                print(choice["delta"].get("content") or "", end="", flush=True)
    print()


def run(stack: Stack, client: Api) -> int:
    """Post the data, run the two jobs, print the reports and a streamed answer."""
    posted = client.post(
        "/v1/interactions/batch", {"items": llm_data.rated_interactions(PER_INTENT)}
    )
    print(f"Posted {posted['count']} rated replies to Banking77 questions.")
    status, tuned = 0, ""
    for name, method in (("supervised (LoRA SFT)", SUPERVISED), ("DPO (pairs from ratings)", DPO)):
        body = {
            "model": BASE,
            "method": method,
            "min_score": 0.5,
            "suffix": method["type"],
            "promote_if": [GATES[method["type"]]],
        }
        job = client.post("/v1/jobs", body)
        print(f"\n{name}: job {job['id']}")
        job = wait_for_job(client, job["id"])
        show(job)
        status |= job["status"] != "succeeded"
        if method is SUPERVISED and job["status"] == "succeeded":
            tuned = job["result"]["model_id"]
    if status == 0:
        stream(stack, tuned, llm_data.questions(PER_INTENT)[0][0])
    print(f"\n{SAYS}")
    return status


def main() -> None:
    """Run the demo on a private stack with an llm worker; stop everything it started."""
    started = time.monotonic()
    signal.signal(signal.SIGTERM, interrupt)
    model = build_model(data_dir(os.environ, Path.cwd()))
    print(f"Tiny model ready at {model} ({time.monotonic() - started:.1f}s).")
    with tempfile.TemporaryDirectory(prefix="tuneloop-demo-llm-") as workdir:
        env = {
            **os.environ,
            "TUNELOOP_BASE_MODELS": f"{BASE}={model}",
            "TUNELOOP_ARTIFACTS": str(Path(workdir) / "artifacts"),
            "HF_HUB_OFFLINE": "1",
        }
        stack = Stack(
            api_key=secrets.token_urlsafe(16), workers=2, workdir=Path(workdir), base_env=env
        )
        try:
            print("Starting redis-server, the workers (one for language models) and the gateway…")
            stack.start()
            stack.start_worker("llm", queues=LLM_QUEUES, concurrency=2)
            status = run(stack, Api(Config(stack.base_url, stack.api_key)))
        finally:
            stack.stop()
    print(
        f"\nDemo finished in {time.monotonic() - started:.1f}s; everything it started is stopped."
    )
    sys.exit(status)


if __name__ == "__main__":
    main()
