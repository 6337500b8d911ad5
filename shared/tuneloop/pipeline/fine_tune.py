"""The fine_tune stage: the job's model kind trains on its rows; the model is published.

The trainer is the one registered for the format the job's base model (request "model")
trains (tuneloop.agent.registry); it sees the job through a StageRun (the TrainingRun of
tuneloop.agent.trainer). This module saves, bounds, reports and publishes what it returns.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

from tuneloop import failpoints, graph
from tuneloop.agent import registry
from tuneloop.agent.protocol import Agent
from tuneloop.agent.trainer import Trained
from tuneloop.contracts import HALTED, RUNNING
from tuneloop.errors import JobCancelled, JobPaused, StageError, StageSkipped
from tuneloop.job_request import JobRequest, request_of
from tuneloop.pipeline import data, fanout
from tuneloop.pipeline.runner import Limits
from tuneloop.stages.prepare import VALIDATION, one_side
from tuneloop.store import Store, ids, keys
from tuneloop.store.budget import BudgetExceeded
from tuneloop.timeutil import now

STAGE = "fine_tune"


def model_id_for(job: dict) -> str:
    """Return the id the job's fine-tuned model is saved under (stable across retries)."""
    return ids.fine_tuned_model(job["id"], request_of(job).suffix)


def base_model(job: dict) -> str:
    """Return the base model a job fine-tunes (the keyword baseline unless it names one)."""
    return request_of(job).model


@dataclass
class StageRun:
    """One run of the fine_tune stage as a trainer sees it (agent.trainer.TrainingRun)."""

    store: Store
    job: dict
    limits: Limits
    model_id: str
    hyperparameters: dict

    @property
    def job_id(self) -> str:
        """Return the job's id."""
        return self.job["id"]

    @property
    def request(self) -> JobRequest:
        """Return the job's request."""
        return request_of(self.job)

    @property
    def checkpoint_interval(self) -> float:
        """Return the least seconds between checkpoints."""
        return self.limits.checkpoint_interval

    def kept_rows(self) -> Iterator[list[dict]]:
        """Yield the examples that passed the filter, every side of the split."""
        return data.kept(self.store, self.job)

    def sides(self) -> tuple[int, float | None, frozenset[int]]:
        """Return the seed, band and held-out ranks that place an input on its side."""
        return data.sides(self.store, self.job)

    def training_rows(self) -> Iterator[list[dict]]:
        """Yield the kept examples on the training side."""
        return data.training_rows(self.store, self.job)

    def validation_rows(self) -> Iterator[list[dict]]:
        """Yield the kept examples on the validation side."""
        seed, holdout, held = self.sides()
        return one_side(self.kept_rows(), seed, holdout, VALIDATION, held)

    def record_epoch(self, n_epochs: int, row: dict) -> bool:
        """Write one epoch's losses as an event (once) and count it, while the job is ours;
        return whether the job is pausing (checkpoint this epoch, then stop("paused"))."""
        jid = self.job_id
        valid = "n/a" if row["valid_loss"] is None else f"{row['valid_loss']:.4f}"
        message = (
            f"epoch {row['epoch']}/{n_epochs}: train loss {row['train_loss']:.4f}, "
            f"validation loss {valid}"
        )
        step, holder = f"epoch:{row['epoch']}", self.job["lease_holder"]
        code = self.store.jobs.record_step_if_held(jid, STAGE, holder, step, message, row)
        if code == 0:
            raise JobCancelled(jid)  # the job ended (cancelled, most often)
        if code < 0:
            raise StageSkipped(f"fine_tune of job {jid} lost its lease; stopping here")
        return code == 2

    def check_size(self, size: int, qualifier: str = "") -> None:
        """Fail the job with model_too_large when size is over the configured limit."""
        check_size(size, self.limits, qualifier)

    def stop_reason(self) -> str | None:
        """Return "ended" when the job ended, "paused" when it is pausing (stop after a
        checkpoint), "lease" when another runner holds the stage, else None: two reads, cheap
        enough to ask at every training step."""
        status = self.store.jobs.status(self.job_id)
        if status in HALTED:
            return "paused"
        if status != RUNNING:
            return "ended"
        holder = self.store.redis.get(keys.lease(self.job_id, STAGE))
        if holder is not None and holder != self.job["lease_holder"]:
            return "lease"
        return None

    def stop(self, reason: str) -> NoReturn:
        """Raise what ends this run for a stop_reason: JobCancelled, JobPaused or StageSkipped."""
        if reason == "lease":
            raise StageSkipped(f"fine_tune of job {self.job_id} lost its lease; stopping here")
        if reason == "paused":
            raise JobPaused(self.job_id)
        raise JobCancelled(self.job_id)

    def epochs_trained(self, n: int, seconds: float) -> None:
        """Count the epochs this run trained and their training time."""
        self.store.metrics.epochs_trained(n, seconds)


def run(store: Store, job: dict, limits: Limits) -> None:
    """Train the job's model kind on the training side (resuming); publish the model."""
    jid = job["id"]
    try:
        fmt = registry.trained_format(base_model(job))
        train = registry.trainer(fmt)
    except KeyError:
        raise StageError(
            "model_kind_unknown", f"no trainer here for base model {base_model(job)!r}"
        ) from None
    hyperparameters = store.artifacts.get(jid, "hyperparameters")
    trained = train(StageRun(store, job, limits, model_id_for(job), hyperparameters))
    payload = trained.agent.save()
    check_size(len(payload), limits)
    store.artifacts.put(jid, "training", {**trained.report, "model_size_bytes": len(payload)})
    if trained.report.get("stopped_early"):
        total = graph.progress_total(trained.epochs) + fanout.parts_planned(store, jid)
        store.jobs.update_if_active(jid, total_steps=total)
    failpoints.hit("publish")
    _publish(store, job, model_meta(job, trained, len(payload)), payload)
    if trained.summary is not None:
        message, summary = trained.summary
        data_ = {**summary, "model_bytes": len(payload)}
        store.jobs.add_event(jid, "fine_tune:summary", "message", message, data_)


def model_meta(job: dict, trained: Trained, size: int) -> dict:
    """Describe a fine-tuned model for GET /v1/models."""
    agent: Agent = trained.agent
    return {
        "id": agent.model_id,
        "object": "model",
        "created_at": now(),
        "owned_by": "tuneloop",
        "base_model": base_model(job),
        "job_id": job["id"],
        "project": job["project"],
        **agent.describe(),
        "training_examples": trained.training_examples,
        "size_bytes": size,
    }


OVER_BUDGET = "project_over_budget"  # the error code of a job whose output would not fit


def _publish(store: Store, job: dict, meta: dict, payload: bytes) -> None:
    """Publish the model unless the job ended or this runner lost its lease (then stop)."""
    jid, holder = job["id"], job["lease_holder"]
    try:
        code = store.models.publish(meta, payload, jid, keys.lease(jid, STAGE), holder)
    except BudgetExceeded as exc:
        message = f"the model was not kept: {exc.describe(meta['project'])}"
        raise StageError(OVER_BUDGET, message) from None
    if code == 0:
        raise JobCancelled(jid)  # the job ended first: cancel is final, no model
    if code < 0:
        raise StageSkipped(f"fine_tune of job {jid} lost its lease; the new holder publishes")


def check_size(size: int, limits: Limits, qualifier: str = "") -> None:
    """Fail the job with model_too_large when size is over the configured limit."""
    if size > limits.max_model_bytes:
        raise StageError(
            "model_too_large",
            f"the model would be {qualifier + ' ' if qualifier else ''}{size} bytes, over the "
            f"limit of {limits.max_model_bytes} (TUNELOOP_MAX_MODEL_BYTES); select fewer task "
            "types or raise the limit",
        )
