"""When the encoder agent answers "out of scope": top probability and nearest similarity.

An input is abstained on when its top task probability is under t or its nearest example of
the routed task is less similar than s. Without a threshold in the request, (s, t) is chosen
on the validation split: for each candidate s (the similarity test off, then quantiles of
the in-scope rows' similarities), the rows under s count as abstained whatever t, and the
t of best out-of-scope recall within max_in_scope_loss is chosen (report.abstain); the pair
of best recall wins, ties to the lower s. A threshold in the request sets t with no distance
test, as for the learned agent.
"""

import numpy as np

from tuneloop.encoder.agent import EncoderAgent, bank_proba
from tuneloop.encoder.features import EncodedBank
from tuneloop.report.abstain import Abstention, at_threshold, choose_threshold, curve
from tuneloop.report.tradeoff import curve_thresholds
from tuneloop.trainers.softmax_fit import TrainingData, check_out_of_scope, who_chooses

QUANTILES = (0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.16, 0.2)  # of in-scope similarities
FAR = -1.0  # the top probability a row under s is given: under every t


def similarities(agent: EncoderAgent, bank: EncodedBank, predicted: np.ndarray) -> np.ndarray:
    """Return each row's similarity to its nearest memory example of its predicted task."""
    return agent._nearest(bank.vectors.astype(np.float32), predicted)[1].astype(np.float64)


def choose(
    top: np.ndarray,
    similarity: np.ndarray,
    predicted: np.ndarray,
    labels: np.ndarray,
    oos: int,
    max_in_scope_loss: float,
) -> tuple[float | None, Abstention]:
    """Return the chosen similarity floor (None: no distance test) and threshold with figures."""
    in_scope = (labels != oos) & (predicted != oos)
    floors = [None, *np.unique(np.quantile(similarity[in_scope], QUANTILES)).tolist()]
    if not in_scope.any():
        floors = [None]
    best: tuple[float | None, Abstention] | None = None
    for floor in floors:
        scores = top if floor is None else np.where(similarity < floor, FAR, top)
        chosen = choose_threshold(scores, predicted, labels, oos, max_in_scope_loss)
        if chosen.threshold < 0:  # nothing abstained: the same as no test at all
            continue
        recall = chosen.out_of_scope_recall or 0.0
        if best is None or recall > (best[1].out_of_scope_recall or 0.0):
            best = floor, chosen
    assert best is not None  # floor None always gives a threshold >= 0
    return best


def set_abstention(
    agent: EncoderAgent,
    data: TrainingData,
    task: str | None,
    threshold: float | None,
    max_in_scope_loss: float | None = None,
) -> dict | None:
    """Make agent abstain as task (the pair chosen on validation unless given); report it."""
    if task is None:
        return None
    check_out_of_scope(agent.router.classes, task)
    chosen_by, max_in_scope_loss = who_chooses(data, threshold, max_in_scope_loss)
    floor, figures, points = None, None, None
    if len(data.validation):
        proba = bank_proba(agent, data.validation)
        predicted = proba.argmax(axis=1)
        top = proba[np.arange(len(predicted)), predicted].astype(np.float64)
        labels, oos = data.validation_labels, agent.router.classes.index(task)
        similarity = similarities(agent, data.validation, predicted)
        if threshold is None:
            floor, chosen = choose(top, similarity, predicted, labels, oos, max_in_scope_loss)
        else:
            chosen = at_threshold(top, predicted, labels, oos, threshold)
        scores = top if floor is None else np.where(similarity < floor, FAR, top)
        threshold, figures = chosen.threshold, chosen.figures()
        shown = curve(scores, predicted, labels, oos, curve_thresholds(threshold))
        points = [p.point() for p in shown]
    agent.abstain_task = task
    agent.abstain_threshold = 0.0 if threshold is None else float(threshold)
    agent.abstain_similarity = floor
    return {
        "task": task,
        "threshold": agent.abstain_threshold,
        "similarity": floor,
        "chosen_by": chosen_by,
        "max_in_scope_loss": max_in_scope_loss,
        "validation": figures,
        "curve": points,
    }
