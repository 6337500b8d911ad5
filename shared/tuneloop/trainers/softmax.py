"""The softmax kind's trainer: stream the job's rows into features, train epoch by epoch.

Each epoch is recorded through the run (which stops the trainer when the job ended or the
lease was lost) and offered to a background checkpoint writer; a run killed mid-way resumes
from the last checkpoint and ends with the same model as one never killed. An epoch recorded
while the job is pausing is checkpointed whatever the schedule, and the run stops there: its
resume starts at the next epoch.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tuneloop import failpoints
from tuneloop.agent import checkpoint
from tuneloop.agent.features import N_FEATURES
from tuneloop.agent.learned import LearnedAgent
from tuneloop.agent.softmax import TrainConfig, TrainState, stopped_early
from tuneloop.agent.trainer import Trained, TrainingRun
from tuneloop.store import Store
from tuneloop.trainers.softmax_fit import (
    MakeAgent,
    TrainingData,
    check_out_of_scope,
    fine_tune,
    load_data,
    set_abstention,
)

# Checkpoints alternate between two slots: "best" holds the state after the best epoch so
# far, "last" the state after the latest checkpointed epoch when that was not the best. The
# small "checkpoint" pointer names the slot to resume from, and is written after the slot.
POINTER, BEST, LAST = "checkpoint", "checkpoint:best", "checkpoint:last"
clock = time.perf_counter  # the checkpoint schedule's clock (a test may replace it)


@dataclass(frozen=True)
class Recipe:
    """What a kind trained by this trainer brings: its rows, its agent, its abstention."""

    load: Callable[[TrainingRun], TrainingData]
    make: MakeAgent | None  # None: the learned agent
    abstain: Callable[..., dict | None]  # as set_abstention


def _ngram_rows(run: TrainingRun) -> TrainingData:
    """Return the run's rows as hashed n-gram features."""
    return load_data(run.kept_rows(), *run.sides())


SOFTMAX = Recipe(_ngram_rows, None, set_abstention)


def train(run: TrainingRun, recipe: Recipe = SOFTMAX) -> Trained:
    """Train (or resume) on the run's training side; return the best epoch's agent."""
    config = TrainConfig(**run.hyperparameters)
    state = _resume(run.store, run.job_id)
    started = time.perf_counter()
    prepared = recipe.load(run)
    load_seconds = time.perf_counter() - started
    out_of_scope = run.request.out_of_scope_task
    check_out_of_scope(prepared.classes, out_of_scope)  # before training, not after it
    run.check_size(_size_bound(prepared), "at least")  # before any weight is allocated
    resumed_after = state.epoch if state is not None else 0
    agent, state, costs = _train(run, prepared, config, state, recipe.make)
    # Only the epochs this run trained, over their training time (checkpoint writes excluded).
    run.epochs_trained(state.epoch - resumed_after, costs["epoch_seconds"])
    abstention = recipe.abstain(
        agent,
        prepared,
        out_of_scope,
        run.request.abstain_threshold,
        run.request.max_in_scope_loss,
    )
    if abstention is not None:
        _record_abstention(run.store, run.job_id, abstention)
    return Trained(
        agent,
        _report(state, config, abstention),
        len(prepared.train),
        state.epoch,
        _summary(state, prepared, load_seconds, costs, run.checkpoint_interval),
    )


def _summary(
    state: TrainState, prepared: TrainingData, load_seconds: float, costs: dict, interval: float
) -> tuple[str, dict]:
    """Return the fine_tune:summary event's message and data: what training cost."""
    feature_bytes = prepared.train.nbytes + prepared.validation.nbytes
    message = (
        f"trained {state.epoch} epochs (best {state.best_epoch}) on {len(prepared.train)} rows; "
        f"features loaded in {load_seconds:.2f}s ({feature_bytes} bytes); "
        f"{len(costs['checkpoint_epochs'])} checkpoints (at most one each {interval:g}s) held "
        f"training up {costs['checkpoint_seconds']:.2f}s (written in "
        f"{costs['write_seconds']:.2f}s beside it) in {costs['epoch_seconds']:.2f}s of epochs"
    )
    return message, {"feature_seconds": load_seconds, **costs, "checkpoint_interval": interval}


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

    def offer(self, state: TrainState, improved: bool, now: float, force: bool = False) -> None:
        """Checkpoint the state when due (or forced); else keep a copy if it is the best so far."""
        began = time.perf_counter()
        if self.schedule.due(now) or force:
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


def _train(
    run: TrainingRun,
    prepared: TrainingData,
    config: TrainConfig,
    state: TrainState | None,
    make: MakeAgent | None = None,
) -> tuple[LearnedAgent, TrainState, dict]:
    """Run the epochs with their events and background checkpoints; return the costs too."""
    schedule = checkpoint.Schedule(run.checkpoint_interval, clock())
    saver = _CheckpointWriter(run.store, run.job_id, schedule)
    epoch_started = [time.perf_counter()]

    def on_checkpoint(state: TrainState, improved: bool) -> None:
        """Record the epoch (or stop: the job ended, the lease was lost), then offer its state;
        at a pause, checkpoint it and stop once the checkpoint is whole.

        The checkpoint in flight is whole before the next epoch is announced.
        """
        saver.costs["epoch_seconds"] += time.perf_counter() - epoch_started[0]  # called first
        saver.wait()
        pausing = run.record_epoch(config.n_epochs, state.history[-1])
        saver.offer(state, improved, clock(), force=pausing)
        if pausing:
            saver.wait()
            run.stop("paused")

    def on_epoch(row: dict) -> None:
        """Hit the epoch failpoint; the next epoch's clock starts after."""
        failpoints.hit("epoch", row["epoch"])
        epoch_started[0] = time.perf_counter()

    try:
        agent, state = fine_tune(
            prepared, config, run.model_id, state, on_epoch, on_checkpoint, make
        )
    finally:
        saver.close()
    return agent, state, {**saver.costs, "checkpoint_epochs": saver.epochs}


def _size_bound(prepared: TrainingData) -> int:
    """Return the least bytes the saved model can take: float16 weights of every used row."""
    used = np.zeros(N_FEATURES, dtype=bool)
    cols = prepared.train.cols
    for start in range(0, len(cols), 1 << 20):  # bincount would copy all columns to int64
        used[cols[start : start + (1 << 20)]] = True
    dense = prepared.train.n_features - N_FEATURES  # columns every row uses (a kind's own)
    used_rows = int(np.count_nonzero(used)) + dense
    return used_rows * len(prepared.classes) * 2


def _report(state: TrainState, config: TrainConfig, abstention: dict | None) -> dict:
    """Return what the job result says about training (all computed, none timed)."""
    return {
        "epochs": state.history,
        "best_epoch": state.best_epoch,
        "stopped_early": stopped_early(state, config),
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
