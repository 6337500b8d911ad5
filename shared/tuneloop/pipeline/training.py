"""The fine_tune stage's store side: data in, per-epoch events and checkpoints, model out."""

import threading
import time

import numpy as np

from tuneloop import contracts, failpoints, graph
from tuneloop.agent import checkpoint
from tuneloop.agent.features import N_FEATURES
from tuneloop.agent.learned import LearnedAgent
from tuneloop.agent.softmax import TrainConfig, TrainState, stopped_early
from tuneloop.errors import JobCancelled, StageError, StageSkipped
from tuneloop.pipeline import data
from tuneloop.pipeline.runner import Limits
from tuneloop.stages.fine_tune import (
    TrainingData,
    check_out_of_scope,
    fine_tune,
    load_data,
    set_abstention,
)
from tuneloop.store import Store, keys
from tuneloop.timeutil import now

# Checkpoints alternate between two slots: "best" holds the state after the best epoch so
# far, "last" the state after the latest checkpointed epoch when that was not the best. The
# small "checkpoint" pointer names the slot to resume from, and is written after the slot.
POINTER, BEST, LAST = "checkpoint", "checkpoint:best", "checkpoint:last"
STAGE = "fine_tune"
clock = time.perf_counter  # the checkpoint schedule's clock (a test may replace it)


def model_meta(job: dict, agent: LearnedAgent, n_train: int, size: int) -> dict:
    """Describe a fine-tuned model for GET /v1/models."""
    return {
        "id": agent.model_id,
        "object": "model",
        "created_at": now(),
        "owned_by": "tuneloop",
        "base_model": contracts.BASELINE_MODEL_ID,
        "job_id": job["id"],
        **agent.describe(),
        "training_examples": n_train,
        "size_bytes": size,
    }


def _resume(store: Store, jid: str) -> TrainState | None:
    """Return the state of the last checkpoint, with its best-epoch weights, or None."""
    pointer = store.artifacts.get_or_none(jid, POINTER)
    if pointer is None:
        return None
    best = store.artifacts.get_blob(jid, BEST)
    slot = store.artifacts.get_blob(jid, pointer["slot"])
    if slot is None or best is None:
        return None
    best_state = checkpoint.load(best)
    state = checkpoint.load(slot, best_state)
    if state.best_epoch not in (state.epoch, best_state.epoch):
        return None  # a best slot of another epoch (two runners raced): start over, same result
    store.jobs.add_event(
        jid,
        f"resume:{state.epoch}",
        "message",
        f"resuming fine-tuning after epoch {state.epoch}",
        {"epoch": state.epoch},
    )
    return state


class _CheckpointWriter:
    """Writes the due epochs' states in a background thread while the next epochs train.

    Every epoch end is offered; one is due by the schedule (checkpoint.Schedule). The
    training thread only copies arrays. A best epoch that was not due is kept in memory: the
    next due epoch, if worse, writes it to the best slot first, so the pointer always names
    a slot whose best weights are stored. Writes go in order, each slot before the pointer,
    and a failed write is raised on the training thread at the next offer or at close.
    """

    def __init__(self, store: Store, jid: str, schedule: checkpoint.Schedule) -> None:
        self.store, self.jid, self.schedule = store, jid, schedule
        self.costs = {"checkpoint_seconds": 0.0, "write_seconds": 0.0, "epoch_seconds": 0.0}
        self.epochs: list[int] = []  # the epochs checkpointed, in order
        self._best: TrainState | None = None  # a best epoch not written yet
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def offer(self, state: TrainState, improved: bool, now: float) -> None:
        """Checkpoint the state when due; else keep a copy if it is the best so far."""
        began = time.perf_counter()
        if self.schedule.due(now):
            self.wait()
            if improved:
                slots = [(BEST, checkpoint.copy_at_best(state))]
            else:
                slots = [(BEST, self._best)] if self._best is not None else []
                slots.append((LAST, checkpoint.copy(state)))
            self._best = None
            self.epochs.append(state.epoch)
            self._thread = threading.Thread(target=self._write, args=(slots,), daemon=True)
            self._thread.start()
        elif improved:
            self._best = checkpoint.copy_at_best(state)
        self.costs["checkpoint_seconds"] += time.perf_counter() - began

    def _write(self, slots: list[tuple[str, TrainState]]) -> None:
        began = time.perf_counter()
        try:
            for slot, state in slots:
                self.store.artifacts.put_blob(self.jid, slot, checkpoint.dump(state))
                self.store.artifacts.put(self.jid, POINTER, {"slot": slot, "epoch": state.epoch})
        except BaseException as exc:  # raised on the training thread by wait
            self._error = exc
        self.costs["write_seconds"] += time.perf_counter() - began

    def wait(self) -> None:
        """Wait for the write in flight, if any; raise its error if it failed."""
        if self._thread is not None:
            began = time.perf_counter()
            self._thread.join()
            self._thread = None
            self.costs["checkpoint_seconds"] += time.perf_counter() - began
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def close(self) -> None:
        """Wait for the last write; raise its error if it failed."""
        self.wait()


def run(store: Store, job: dict, limits: Limits, model_id: str) -> None:
    """Train (or resume), record each epoch once, and save the best epoch's agent."""
    jid = job["id"]
    config = TrainConfig(**store.artifacts.get(jid, "hyperparameters"))
    state = _resume(store, jid)
    started = time.perf_counter()
    prepared = load_data(data.kept(store, job), *data.sides(store, job))
    load_seconds = time.perf_counter() - started
    out_of_scope = job["request"].get("out_of_scope_task")
    check_out_of_scope(prepared.classes, out_of_scope)  # before training, not after it
    _check_size(_size_bound(prepared), limits, "at least")  # before any weight is allocated
    resumed_after = state.epoch if state is not None else 0
    interval = limits.checkpoint_interval
    agent, state, costs = _train(store, job, prepared, config, model_id, state, interval)
    # Only the epochs this run trained, over their training time (checkpoint writes excluded).
    store.metrics.epochs_trained(state.epoch - resumed_after, costs["epoch_seconds"])
    request = job["request"]
    abstention = set_abstention(
        agent,
        prepared,
        out_of_scope,
        request.get("abstain_threshold"),
        request.get("max_in_scope_loss"),
    )
    payload = agent.save()
    _check_size(len(payload), limits)
    store.artifacts.put(jid, "training", _report(state, config, len(payload), abstention))
    if abstention is not None:
        _record_abstention(store, jid, abstention)
    if stopped_early(state, config):
        store.jobs.update_if_active(jid, total_steps=graph.progress_total(state.epoch))
    failpoints.hit("publish")
    _publish(store, job, model_meta(job, agent, len(prepared.train), len(payload)), payload)
    feature_bytes = prepared.train.nbytes + prepared.validation.nbytes
    store.jobs.add_event(
        jid,
        "fine_tune:summary",
        "message",
        f"trained {state.epoch} epochs (best {state.best_epoch}) on {len(prepared.train)} rows; "
        f"features loaded in {load_seconds:.2f}s ({feature_bytes} bytes); "
        f"{len(costs['checkpoint_epochs'])} checkpoints (at most one each {interval:g}s) held "
        f"training up {costs['checkpoint_seconds']:.2f}s (written in "
        f"{costs['write_seconds']:.2f}s beside it) in {costs['epoch_seconds']:.2f}s of epochs",
        {
            "feature_seconds": load_seconds,
            **costs,
            "checkpoint_interval": interval,
            "model_bytes": len(payload),
        },
    )


def _publish(store: Store, job: dict, meta: dict, payload: bytes) -> None:
    """Publish the model unless the job ended or this runner lost its lease (then stop)."""
    jid, holder = job["id"], job["lease_holder"]
    code = store.models.publish(meta, payload, jid, keys.lease(jid, STAGE), holder)
    if code == 0:
        raise JobCancelled(jid)  # the job ended first: cancel is final, no model
    if code < 0:
        raise StageSkipped(f"fine_tune of job {jid} lost its lease; the new holder publishes")


def _train(
    store: Store,
    job: dict,
    prepared: TrainingData,
    config: TrainConfig,
    model_id: str,
    state: TrainState | None,
    interval: float,
) -> tuple[LearnedAgent, TrainState, dict]:
    """Run the epochs with their events and background checkpoints; return the costs too."""
    saver = _CheckpointWriter(store, job["id"], checkpoint.Schedule(interval, clock()))
    epoch_started = [time.perf_counter()]

    def on_checkpoint(state: TrainState, improved: bool) -> None:
        """Record the epoch (or stop: the job ended, the lease was lost), then offer its state.

        The checkpoint in flight is whole before the next epoch is announced.
        """
        saver.costs["epoch_seconds"] += time.perf_counter() - epoch_started[0]  # called first
        saver.wait()
        _record_epoch(store, job, config.n_epochs, state.history[-1])
        saver.offer(state, improved, clock())

    def on_epoch(row: dict) -> None:
        """Hit the epoch failpoint; the next epoch's clock starts after."""
        failpoints.hit("epoch", row["epoch"])
        epoch_started[0] = time.perf_counter()

    try:
        agent, state = fine_tune(prepared, config, model_id, state, on_epoch, on_checkpoint)
    finally:
        saver.close()
    return agent, state, {**saver.costs, "checkpoint_epochs": saver.epochs}


def _size_bound(prepared: TrainingData) -> int:
    """Return the least bytes the saved model can take: float16 weights of every used row."""
    used = np.zeros(N_FEATURES, dtype=bool)
    cols = prepared.train.cols
    for start in range(0, len(cols), 1 << 20):  # bincount would copy all columns to int64
        used[cols[start : start + (1 << 20)]] = True
    used_rows = int(np.count_nonzero(used))
    return used_rows * len(prepared.classes) * 2


def _check_size(size: int, limits: Limits, qualifier: str = "") -> None:
    """Fail the job with model_too_large when size is over the configured limit."""
    if size > limits.max_model_bytes:
        raise StageError(
            "model_too_large",
            f"the model would be {qualifier + ' ' if qualifier else ''}{size} bytes, over the "
            f"limit of {limits.max_model_bytes} (TUNELOOP_MAX_MODEL_BYTES); select fewer task "
            "types or raise the limit",
        )


def _report(
    state: TrainState, config: TrainConfig, model_bytes: int, abstention: dict | None
) -> dict:
    """Return what the job result says about training (all computed, none timed)."""
    return {
        "epochs": state.history,
        "best_epoch": state.best_epoch,
        "stopped_early": stopped_early(state, config),
        "model_size_bytes": model_bytes,
        "abstention": abstention,
    }


def _record_abstention(store: Store, jid: str, abstention: dict) -> None:
    """Write one event saying when the model answers out of scope, and how that was chosen."""
    how = {
        "request": "set by the request",
        "validation": "chosen on the validation split: the best out-of-scope recall losing at "
        f"most {abstention.get('max_in_scope_loss')} of in-scope accuracy",
        "default": "no validation rows to choose it on, so it never abstains",
    }[abstention["chosen_by"]]
    figures = abstention["validation"]
    measured = ""
    if figures is not None:
        measured = "; on validation: " + ", ".join(
            f"{name.replace('_', ' ')} {'n/a' if figures[name] is None else f'{figures[name]:.3f}'}"
            for name in ("in_scope_accuracy", "out_of_scope_recall", "in_scope_loss")
        )
    message = (
        f"out-of-scope task {abstention['task']!r}: abstain when the top probability is under "
        f"{abstention['threshold']:.4f} ({how}){measured}"
    )
    store.jobs.add_event(jid, "fine_tune:abstention", "message", message, abstention)


def _record_epoch(store: Store, job: dict, n_epochs: int, row: dict) -> None:
    """Write one epoch's losses as an event (once) and count it, while the job is ours to run."""
    jid = job["id"]
    valid = "n/a" if row["valid_loss"] is None else f"{row['valid_loss']:.4f}"
    message = (
        f"epoch {row['epoch']}/{n_epochs}: train loss {row['train_loss']:.4f}, "
        f"validation loss {valid}"
    )
    step = f"epoch:{row['epoch']}"
    code = store.jobs.record_step_if_held(jid, STAGE, job["lease_holder"], step, message, row)
    if code == 0:
        raise JobCancelled(jid)  # the job ended (cancelled, most often)
    if code < 0:
        raise StageSkipped(f"fine_tune of job {jid} lost its lease; stopping here")
