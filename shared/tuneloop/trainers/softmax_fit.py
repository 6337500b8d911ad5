"""The softmax kind's pure training: examples to features, router, memory, abstention."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from tuneloop.agent.features import FeatureBank
from tuneloop.agent.learned import LearnedAgent, as_saved
from tuneloop.agent.memory import MemoryBuilder
from tuneloop.agent.softmax import (
    CheckpointCallback,
    EpochCallback,
    Softmax,
    TrainConfig,
    TrainState,
    best_model,
    train,
)
from tuneloop.errors import StageError
from tuneloop.report.abstain import at_threshold, choose_threshold, curve
from tuneloop.report.tradeoff import DEFAULT_MAX_IN_SCOPE_LOSS, curve_thresholds
from tuneloop.stages.prepare import TRAIN, VALIDATION, side_of

PROBA_CHUNK = 4096  # validation rows per router pass
# Adds one side's texts of a batch to its bank (FeatureBank.add, or a kind's own).
AddRows = Callable[[FeatureBank, list[str]], None]
# Makes the agent of the best epoch: (model id, router, training data) -> agent.
MakeAgent = Callable[[str, Softmax, "TrainingData"], LearnedAgent]


@dataclass
class TrainingData:
    """Both sides of the split as compact features and label indexes, plus the memory."""

    classes: list[str]
    train: FeatureBank
    train_labels: np.ndarray
    validation: FeatureBank
    validation_labels: np.ndarray
    memory: dict[str, list[dict]]


def load_data(
    batches: Iterable[list[dict]],
    seed: int,
    holdout: float | None,
    held: frozenset[int] = frozenset(),
    new_bank: Callable[[], FeatureBank] = FeatureBank,
    add: AddRows = FeatureBank.add,
) -> TrainingData:
    """Stream kept examples into compact features; holdout rows are left out altogether."""
    banks = {TRAIN: new_bank(), VALIDATION: new_bank()}
    labels: dict[str, list[np.ndarray]] = {TRAIN: [], VALIDATION: []}
    seen: dict[str, int] = {}  # task type -> index in order of first appearance
    memory = MemoryBuilder()
    for batch in batches:
        sides = [side_of(ex["input"], seed, holdout, held) for ex in batch]
        for side in (TRAIN, VALIDATION):
            rows = [ex for ex, s in zip(batch, sides, strict=True) if s == side]
            add(banks[side], [ex["input"] for ex in rows])
            ids = [seen.setdefault(ex["task_type"], len(seen)) for ex in rows]
            labels[side].append(np.asarray(ids, dtype=np.int32))
        memory.feed(ex for ex, s in zip(batch, sides, strict=True) if s == TRAIN)
    classes = sorted(seen)
    order = np.empty(len(seen), dtype=np.int32)  # first-appearance index -> sorted index
    order[[seen[c] for c in classes]] = np.arange(len(classes), dtype=np.int32)
    index = {side: order[np.concatenate([np.zeros(0, np.int32), *labels[side]])] for side in banks}
    if len(np.unique(index[TRAIN])) < 2:
        raise StageError(
            "too_few_task_types",
            "fine-tuning needs training examples of at least two task types after filtering",
        )
    return TrainingData(
        classes,
        banks[TRAIN].freeze(),
        index[TRAIN],
        banks[VALIDATION].freeze(),
        index[VALIDATION],
        memory.build(),
    )


def fine_tune(
    data: TrainingData,
    config: TrainConfig,
    model_id: str,
    state: TrainState | None = None,
    on_epoch: EpochCallback | None = None,
    on_checkpoint: CheckpointCallback | None = None,
    make: MakeAgent | None = None,
) -> tuple[LearnedAgent, TrainState]:
    """Train (or resume) and return the agent of the best epoch and the final state."""
    validation = (data.validation, data.validation_labels) if len(data.validation) else None
    state = train(
        data.classes,
        data.train,
        data.train_labels,
        config,
        validation,
        state,
        on_epoch,
        on_checkpoint,
    )
    router = best_model(data.classes, state)
    agent = make(model_id, router, data) if make else LearnedAgent(model_id, router, data.memory)
    return agent, state


def check_out_of_scope(classes: list[str], task: str | None) -> None:
    """Fail with out_of_scope_task_missing unless task is None or one of the trained classes."""
    if task is not None and task not in classes:
        raise StageError(
            "out_of_scope_task_missing",
            f"out_of_scope_task {task!r} is not a task type of the training data after "
            f"filtering and the split (task types: {', '.join(classes)})",
        )


def who_chooses(
    data: TrainingData, threshold: float | None, max_in_scope_loss: float | None
) -> tuple[str, float | None]:
    """Return how the abstention is chosen (request, validation, default) and the loss limit."""
    if threshold is not None:
        return "request", None
    chosen_by = "validation" if len(data.validation) else "default"
    return chosen_by, DEFAULT_MAX_IN_SCOPE_LOSS if max_in_scope_loss is None else max_in_scope_loss


def set_abstention(
    agent: LearnedAgent,
    data: TrainingData,
    task: str | None,
    threshold: float | None,
    max_in_scope_loss: float | None = None,
) -> dict | None:
    """Make agent abstain as task under threshold (chosen on validation when None); report it.

    The chosen threshold has the best out-of-scope recall on validation among those losing at
    most max_in_scope_loss of in-scope accuracy. Without validation rows and a threshold the
    agent never abstains (threshold 0.0).
    """
    if task is None:
        return None
    check_out_of_scope(agent.router.classes, task)
    chosen_by, max_in_scope_loss = who_chooses(data, threshold, max_in_scope_loss)
    figures = points = None
    if len(data.validation):
        top, predicted = validation_predictions(agent, data.validation)
        labels, oos = data.validation_labels, agent.router.classes.index(task)
        if threshold is None:
            chosen = choose_threshold(top, predicted, labels, oos, max_in_scope_loss)
        else:
            chosen = at_threshold(top, predicted, labels, oos, threshold)
        threshold, figures = chosen.threshold, chosen.figures()
        shown = curve(top, predicted, labels, oos, curve_thresholds(threshold))
        points = [p.point() for p in shown]
    agent.abstain_task = task
    agent.abstain_threshold = 0.0 if threshold is None else float(threshold)
    return {
        "task": task,
        "threshold": agent.abstain_threshold,
        "chosen_by": chosen_by,
        "max_in_scope_loss": max_in_scope_loss,
        "validation": figures,
        "curve": points,
    }


def validation_predictions(agent: LearnedAgent, bank: FeatureBank) -> tuple[np.ndarray, np.ndarray]:
    """Return each validation row's top probability and argmax, as the saved model gives them."""
    router = as_saved(agent.router)  # the threshold applies to the saved (float16) weights
    top, predicted = [], []
    for start in range(0, len(bank), PROBA_CHUNK):
        proba = router.proba(bank.span(start, start + PROBA_CHUNK))
        best = proba.argmax(axis=1)
        predicted.append(best)
        top.append(proba[np.arange(len(best)), best])
    return np.concatenate(top), np.concatenate(predicted)
