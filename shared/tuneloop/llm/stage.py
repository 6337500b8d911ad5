"""The language-model kind's trainer, inside the fine_tune stage: LoRA SFT or DPO on the job's rows.

Every log_every steps a `metrics` event; at each epoch end the HF checkpoint (adapter,
optimizer, scheduler) goes to the artifact store, its manifest to the job's artifacts in
Redis, and the epoch is recorded through the run (which stops training when the job was
cancelled or this runner lost its lease). A pause stops training after the step it is seen
at: its checkpoint (the epoch's, at an epoch end; else one at that step) is uploaded and named
the one to resume from. A run killed or paused mid-way resumes from the last checkpoint. The
adapter is uploaded before the model's manifest is published, once.
"""

import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from tuneloop.agent.trainer import Trained, TrainingRun
from tuneloop.errors import StageError
from tuneloop.llm import kind, rows, spec
from tuneloop.llm.agent import LoraAgent

STAGE = "fine_tune"
POINTER = "llm_checkpoint"  # the job artifact naming the last checkpoint: {epoch, key, step}
METRICS = "metrics"  # the event type OpenAI lists as a metrics event
KEPT = "llm_checkpoints"  # every epoch's checkpoint with its metrics, for checkpoints.list


def flat(batches: Iterable[list[dict]]) -> list[dict]:
    """Return the rows of batches as one list."""
    return [row for batch in batches for row in batch]


def examples(method: str, batch_rows: list[dict], min_gap: float) -> list[dict]:
    """Return the trainer's examples: prompt-completion rows, or preference pairs for dpo."""
    if method != "dpo":
        return rows.sft_examples(batch_rows)
    if any(r.get("rejected") for r in batch_rows):
        return rows.pairs_from_preference_rows(batch_rows)
    return rows.pairs_from_ratings(batch_rows, min_gap)


def checkpoint_key(jid: str, epoch: int) -> str:
    """Return the artifact-store key of a job's epoch checkpoint."""
    return f"{spec.job_files(jid)}/checkpoints/epoch-{epoch}"


def pause_key(jid: str, step: int) -> str:
    """Return the artifact-store key of the checkpoint a pause took at a step inside an epoch."""
    return f"{spec.job_files(jid)}/checkpoints/step-{step}"


def adapter_key(model_id: str) -> str:
    """Return the artifact-store key of a fine-tuned model's adapter."""
    return f"models/{model_id}/adapter"


class Hooks:
    """What training calls back: step metrics, epoch and pause checkpoints, whether to stop."""

    def __init__(self, run: TrainingRun, n_epochs: int, store_url: str) -> None:
        self.run, self.n_epochs = run, n_epochs
        self.artifacts = kind.artifact_store(store_url)
        self.stop_reason: str | None = None
        self.pausing = False  # the job was seen pausing at the last step's check
        self.kept: list[dict] = list(run.store.artifacts.get_or_none(run.job_id, KEPT) or [])
        self.last_step = 0

    def on_step(self, step: int, train_loss: float) -> None:
        """Write a metrics event for the step (once per step, whoever writes it)."""
        self.last_step = step
        self.run.store.jobs.add_event(
            self.run.job_id,
            f"{STAGE}:step:{step}",
            METRICS,
            f"step {step}: train loss {train_loss:.4f}",
            {"step": step, "train_loss": train_loss},
        )

    def on_epoch(
        self, epoch: int, checkpoint_dir: Path, train_loss: float, valid_loss: float | None
    ) -> None:
        """Upload the epoch's checkpoint, name it, then record the epoch (or stop)."""
        jid, key = self.run.job_id, checkpoint_key(self.run.job_id, epoch)
        self.artifacts.put_dir(key, checkpoint_dir)
        row = {
            "epoch": epoch,
            "step": int(checkpoint_dir.name.rpartition("-")[2] or self.last_step),
            "train_loss": train_loss,
            "valid_loss": valid_loss,
            "full_valid_loss": valid_loss,
        }
        self.kept = [c for c in self.kept if c["epoch"] != epoch] + [{**row, "key": key}]
        self.run.store.artifacts.put(jid, KEPT, self.kept)
        self.run.store.artifacts.put(jid, POINTER, {"epoch": epoch, "key": key})
        if self.run.record_epoch(self.n_epochs, row):  # pausing: this checkpoint resumes it
            from tuneloop.llm.training import Stopped  # called from training: loaded already

            self.stop_reason = "paused"
            raise Stopped(f"paused after epoch {epoch}")

    def should_stop(self) -> bool:
        """Return whether the job ended or another runner holds the stage's lease (a pause
        stops after this step, with a checkpoint: pause_requested)."""
        reason = self.run.stop_reason()
        self.pausing = reason == "paused"
        self.stop_reason = None if self.pausing else reason
        return self.stop_reason is not None

    def pause_requested(self) -> bool:
        """Return whether the job was pausing at this step's check."""
        return self.pausing

    def on_pause(self, step: int, checkpoint_dir: Path) -> None:
        """Upload the checkpoint a pause took at a step inside an epoch; resume from it."""
        jid, key = self.run.job_id, pause_key(self.run.job_id, step)
        self.artifacts.put_dir(key, checkpoint_dir)
        epochs = max((c["epoch"] for c in self.kept), default=0)
        self.run.store.artifacts.put(jid, POINTER, {"epoch": epochs, "key": key, "step": step})
        self.stop_reason = "paused"


def _resume(run: TrainingRun, hooks: Hooks, into: Path) -> Path | None:
    """Fetch the last checkpoint into a local directory, or None to start from scratch."""
    pointer = run.store.artifacts.get_or_none(run.job_id, POINTER)
    if pointer is None or not hooks.artifacts.get_dir(pointer["key"], into):
        return None
    if "step" in pointer:  # a pause's checkpoint inside an epoch
        key, where = f"resume:step:{pointer['step']}", f"at step {pointer['step']}"
    else:
        key, where = f"resume:{pointer['epoch']}", f"after epoch {pointer['epoch']}"
    run.store.jobs.add_event(
        run.job_id,
        key,
        "message",
        f"resuming fine-tuning {where} from its checkpoint",
        {k: pointer[k] for k in ("epoch", "step") if k in pointer},
    )
    return into


def train(run: TrainingRun) -> Trained:
    """Train a LoRA adapter on the job's training side (resuming); return the tuned model."""
    from tuneloop.llm import training  # torch: only the llm worker gets here

    request, hp = run.request, run.hyperparameters
    train_examples = examples(request.method, flat(run.training_rows()), request.min_gap)
    valid_examples = examples(request.method, flat(run.validation_rows()), request.min_gap)
    if not train_examples:
        why = "no examples on the training side"
        if request.method == "dpo":
            why = (
                "no preference pairs on the training side (pairs from ratings need two answers "
                f"to one input rated at least min_gap {request.min_gap} apart)"
            )
        raise StageError("no_training_data", why)
    hooks = Hooks(run, hp["n_epochs"], kind.artifacts_url())
    work = Path(tempfile.mkdtemp(prefix=f"tuneloop-{run.job_id}-"))
    started = time.perf_counter()
    try:
        resume = _resume(run, hooks, work / "resume")
        try:
            result = training.train(
                request.method,
                kind.location(request.model),
                train_examples,
                valid_examples,
                hp,
                work / "run",
                hooks,
                resume_from=resume,
            )
        except training.Stopped:
            run.stop(hooks.stop_reason or "ended")
        key = adapter_key(run.model_id)
        hooks.artifacts.put_dir(key, Path(result.adapter_dir))
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)
    run.epochs_trained(len(result.epochs), seconds)
    agent = LoraAgent(run.model_id, request.model, key, request.method)
    best = min(
        hooks.kept, key=lambda c: (c["valid_loss"] is None, c["valid_loss"] or 0.0, -c["epoch"])
    )
    report = {
        "epochs": [{k: c[k] for k in ("epoch", "train_loss", "valid_loss")} for c in hooks.kept],
        "best_epoch": len(hooks.kept),  # the adapter published is the last epoch's
        "lowest_valid_loss_epoch": best["epoch"],
        "stopped_early": False,
        "abstention": None,
        "method": request.method,
        "checkpoints": [{k: v for k, v in c.items() if k != "key"} for c in hooks.kept],
        "training_tokens": result.train_tokens,
        "tokens_per_second": result.train_tokens / max(result.seconds, 1e-9),
    }
    message = (
        f"{request.method}: trained {len(hooks.kept)} epochs, {result.steps} steps, "
        f"{result.train_tokens} tokens in {result.seconds:.1f}s "
        f"({report['tokens_per_second']:.0f} tokens/s) on {len(train_examples)} examples"
    )
    summary = {
        "steps": result.steps,
        "training_tokens": result.train_tokens,
        "train_seconds": result.seconds,
        "adapter": key,
    }
    return Trained(agent, report, len(train_examples), len(hooks.kept), (message, summary))
