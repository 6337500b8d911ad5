"""Out-of-scope abstention: choosing the threshold on validation, and setting it on the agent."""

import random

import numpy as np
import pytest

from tuneloop.agent.features import featurize
from tuneloop.agent.learned import FALLBACK_ANSWER, LearnedAgent
from tuneloop.agent.softmax import TrainConfig
from tuneloop.errors import StageError
from tuneloop.pipeline.training import _record_abstention
from tuneloop.stages.abstain import at_threshold, choose_threshold
from tuneloop.stages.fine_tune import fine_tune, load_data, set_abstention
from tuneloop.stages.split import TRAIN, VALIDATION, side_of

OOS = 2  # class index of the out-of-scope task in the hand-made arrays

# --- the threshold chooser, on arrays worked out by hand ---------------------------------------


def test_the_threshold_that_catches_unsure_out_of_scope_rows_but_keeps_sure_in_scope_rows():
    # rows:        in-scope right  in-scope right  oos (pred 0)  oos (pred 1)  in-scope wrong
    top = np.array([0.90, 0.70, 0.40, 0.55, 0.60])
    predicted = np.array([0, 1, 0, 1, 0])
    labels = np.array([0, 1, OOS, OOS, 1])
    chosen = choose_threshold(top, predicted, labels, OOS)
    # t = 0.60 abstains on 0.40 and 0.55 (both oos: recall 1) and keeps both right rows:
    # in-scope accuracy 2/3, objective 5/3. t = 0.70 also abstains on the wrong 0.60 row, which
    # counts nothing either way: the same objective, so the lower 0.60 wins the tie.
    assert chosen.threshold == pytest.approx(0.60)
    assert chosen.in_scope_accuracy == pytest.approx(2 / 3)
    assert chosen.out_of_scope_recall == 1.0
    assert (chosen.n_in_scope, chosen.n_out_of_scope) == (3, 2)
    assert chosen.objective == pytest.approx(5 / 3)


def test_a_row_exactly_at_the_threshold_is_answered_not_abstained():
    top = np.array([0.5, 0.5, 0.8, 0.8])
    predicted = np.array([0, 1, 1, 0])
    labels = np.array([0, OOS, 1, OOS])
    # t = 0 and t = 0.5 abstain on nothing (top < t is strict): accuracy 1, recall 0.
    # t = 0.8 abstains on both 0.5 rows: accuracy 1/2, recall 1/2. t = 1 abstains on all:
    # accuracy 0, recall 1. Every objective is 1, so the lowest threshold, 0, wins.
    chosen = choose_threshold(top, predicted, labels, OOS)
    assert chosen.threshold == 0.0
    assert (chosen.in_scope_accuracy, chosen.out_of_scope_recall) == (1.0, 0.0)
    at_half = at_threshold(top, predicted, labels, OOS, 0.5)
    assert (at_half.in_scope_accuracy, at_half.out_of_scope_recall) == (1.0, 0.0)
    at_top = at_threshold(top, predicted, labels, OOS, 0.8)
    assert (at_top.in_scope_accuracy, at_top.out_of_scope_recall) == (0.5, 0.5)


def test_rows_the_router_already_calls_out_of_scope_count_as_recalled_at_any_threshold():
    top = np.array([0.95, 0.9, 0.3])
    predicted = np.array([OOS, 0, 0])
    labels = np.array([OOS, 0, 0])
    chosen = choose_threshold(top, predicted, labels, OOS)
    assert chosen.threshold == 0.0
    assert (chosen.in_scope_accuracy, chosen.out_of_scope_recall) == (1.0, 1.0)


def test_without_out_of_scope_rows_recall_is_undefined_and_nothing_is_abstained():
    top = np.array([0.2, 0.9, 0.6])
    predicted = np.array([1, 0, 0])
    labels = np.array([0, 0, 1])
    chosen = choose_threshold(top, predicted, labels, OOS)
    assert chosen.threshold == 0.0
    assert chosen.out_of_scope_recall is None  # undefined, counted 0 in the objective
    assert chosen.n_out_of_scope == 0
    assert chosen.in_scope_accuracy == pytest.approx(1 / 3)
    assert chosen.objective == pytest.approx(1 / 3)


def test_with_only_out_of_scope_rows_the_threshold_abstains_on_every_row_not_called_oos():
    top = np.array([0.3, 0.8, 0.6])
    predicted = np.array([0, OOS, 1])
    labels = np.full(3, OOS)
    chosen = choose_threshold(top, predicted, labels, OOS)
    assert chosen.threshold == pytest.approx(0.8)  # the lowest above 0.3 and 0.6
    assert chosen.in_scope_accuracy is None
    assert chosen.out_of_scope_recall == 1.0


def test_abstaining_on_every_row_is_a_candidate():
    top = np.array([0.9, 0.8])
    predicted = np.array([0, 0])
    labels = np.array([OOS, OOS])
    assert choose_threshold(top, predicted, labels, OOS).threshold == 1.0


def test_no_rows_give_threshold_zero_and_no_figures():
    empty = np.zeros(0)
    chosen = choose_threshold(empty, empty.astype(int), empty.astype(int), OOS)
    assert chosen.threshold == 0.0
    assert chosen.figures() == {
        "in_scope_accuracy": None,
        "out_of_scope_recall": None,
        "n_in_scope": 0,
        "n_out_of_scope": 0,
        "objective": 0.0,
    }


# --- the threshold chooser against brute force --------------------------------------------------


def brute_figures(top, predicted, labels, oos, t) -> tuple[float, float]:
    """Return (in-scope accuracy or 0, oos recall or 0) at t, row by row."""
    right = recalled = n_in = n_oos = 0
    for p, k, y in zip(top.tolist(), predicted.tolist(), labels.tolist(), strict=True):
        final = oos if p < t else k
        if y == oos:
            n_oos += 1
            recalled += final == oos
        else:
            n_in += 1
            right += final == y
    return (right / n_in if n_in else 0.0), (recalled / n_oos if n_oos else 0.0)


@pytest.mark.parametrize("seed", range(25))
def test_the_chosen_threshold_is_the_lowest_best_of_every_threshold_tried_by_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    top = np.round(rng.uniform(0.2, 1.0, n), int(rng.integers(1, 3))).astype(np.float32)
    predicted = rng.integers(0, 4, n)
    labels = np.where(rng.random(n) < 0.6, predicted, rng.integers(0, 4, n))
    oos = int(rng.integers(0, 4))
    chosen = choose_threshold(top, predicted, labels, oos)
    # every threshold worth trying: each value, and a fine grid between them
    tries = sorted({0.0, 1.0, *top.tolist(), *np.linspace(0, 1, 1001).tolist()})
    scores = [sum(brute_figures(top, predicted, labels, oos, t)) for t in tries]
    best = max(scores)
    assert chosen.objective == pytest.approx(best)
    lowest = min(t for t, s in zip(tries, scores, strict=True) if s > best - 1e-9)
    # the chosen threshold abstains on the same rows as the lowest best threshold tried
    wide = top.astype(np.float64)  # compared as brute_figures does, not rounded to float32
    assert np.array_equal(wide < chosen.threshold, wide < lowest)
    accuracy, recall = brute_figures(top, predicted, labels, oos, chosen.threshold)
    assert (chosen.in_scope_accuracy or 0.0) == pytest.approx(accuracy)
    assert (chosen.out_of_scope_recall or 0.0) == pytest.approx(recall)


def test_at_threshold_gives_the_brute_force_figures():
    rng = np.random.default_rng(3)
    top, predicted = rng.uniform(0.3, 1, 200), rng.integers(0, 3, 200)
    labels = rng.integers(0, 3, 200)
    for t in (0.0, 0.45, 0.7, 1.0):
        figures = at_threshold(top, predicted, labels, 1, t)
        accuracy, recall = brute_figures(top, predicted, labels, 1, t)
        assert figures.threshold == t
        assert (figures.in_scope_accuracy, figures.out_of_scope_recall) == pytest.approx(
            (accuracy, recall)
        )


# --- set_abstention: the fine-tuned agent on its own validation split --------------------------

BILLING, COOKING = "invoice refund payment receipt card balance", "recipe oven garlic flour bake"
TOPICS = {"billing": BILLING.split(), "cooking": COOKING.split()}
FILLER_WORDS = "please can you help me with my the a about question need some info on today"
FILLER = FILLER_WORDS.split()
SEED = 5
CONFIG = TrainConfig(5, 0.5, 16, 3, 1e-6, None)


def rows(seed: int) -> list[dict]:
    """Return rows of two topics, and out-of-scope rows: filler and one word of either topic."""
    rng = random.Random(seed)
    out = []
    for i in range(150):
        task = ("billing", "cooking", "oos")[i % 3]
        words = rng.sample(FILLER, rng.randint(2, 5))
        if task == "oos":
            words.append(rng.choice(TOPICS[rng.choice(sorted(TOPICS))]))
        else:
            words += rng.sample(TOPICS[task], 2)
        rng.shuffle(words)
        text = " ".join(words) + f" {i}"
        out.append({"input": text, "output": f"{task} {i}", "rating": 0.9, "task_type": task})
    return out


@pytest.fixture(scope="module")
def trained():
    data = load_data([rows(1)], SEED, None)
    agent, _ = fine_tune(data, CONFIG, "ft-oos")
    return data, agent


def validation_rows() -> list[dict]:
    return [r for r in rows(1) if side_of(r["input"], SEED, None) == VALIDATION]


def test_the_threshold_chosen_on_validation_gives_the_saved_model_those_figures(trained):
    data, agent = trained
    report = set_abstention(agent, data, "oos", None)
    assert report["task"] == "oos" and report["chosen_by"] == "validation"
    assert agent.abstain_task == "oos"
    assert agent.abstain_threshold == report["threshold"] > 0
    # Answer the validation inputs with the saved-and-loaded model and count by hand.
    loaded = LearnedAgent.load("ft-oos", agent.save())
    valid = validation_rows()
    # the threshold sits exactly on a top probability of the saved (float16) model
    saved_tops = loaded.router.proba(featurize([r["input"] for r in valid])).max(axis=1)
    assert report["threshold"] in saved_tops.tolist()
    answers = loaded.respond_many([r["input"] for r in valid])
    in_scope = [(a, r) for a, r in zip(answers, valid, strict=True) if r["task_type"] != "oos"]
    out_scope = [a for a, r in zip(answers, valid, strict=True) if r["task_type"] == "oos"]
    figures = report["validation"]
    assert (figures["n_in_scope"], figures["n_out_of_scope"]) == (len(in_scope), len(out_scope))
    right = sum(a.task_type == r["task_type"] for a, r in in_scope)
    assert figures["in_scope_accuracy"] == right / len(in_scope)
    assert figures["out_of_scope_recall"] == sum(a.task_type == "oos" for a in out_scope) / len(
        out_scope
    )
    assert any(a.text == FALLBACK_ANSWER and "abstained" in a.reasoning for a in answers)


def test_no_threshold_is_better_on_validation_than_the_chosen_one(trained):
    data, agent = trained
    report = set_abstention(agent, data, "oos", None)
    for t in np.linspace(0, 1, 41).tolist():
        other = set_abstention(agent, data, "oos", t)
        assert other["chosen_by"] == "request" and other["threshold"] == t
        assert other["validation"]["objective"] <= report["validation"]["objective"] + 1e-12


def test_a_requested_threshold_is_used_and_measured_on_validation(trained):
    data, agent = trained
    report = set_abstention(agent, data, "oos", 0.99)
    assert report["threshold"] == agent.abstain_threshold == 0.99
    assert report["chosen_by"] == "request"
    assert report["validation"]["n_in_scope"] + report["validation"]["n_out_of_scope"] == len(
        validation_rows()
    )


def test_without_an_out_of_scope_task_nothing_is_set(trained):
    data, agent = trained
    fresh = LearnedAgent("ft-x", agent.router, agent.memory)
    assert set_abstention(fresh, data, None, 0.5) is None
    assert fresh.abstain_task is None and fresh.abstain_threshold is None


def test_an_out_of_scope_task_the_data_does_not_have_fails_the_stage(trained):
    data, agent = trained
    with pytest.raises(StageError) as info:
        set_abstention(agent, data, "weather", None)
    assert info.value.code == "out_of_scope_task_missing"
    assert "'weather'" in info.value.message and "billing, cooking, oos" in info.value.message


def test_without_validation_rows_the_threshold_defaults_to_zero():
    train_only = [r for r in rows(1) if side_of(r["input"], SEED, None) == TRAIN]
    data = load_data([train_only], SEED, None)
    assert len(data.validation) == 0
    tuned, _ = fine_tune(data, CONFIG, "ft-no-valid")
    report = set_abstention(tuned, data, "oos", None)
    assert report == {"task": "oos", "threshold": 0.0, "chosen_by": "default", "validation": None}
    assert set_abstention(tuned, data, "oos", 0.3)["chosen_by"] == "request"
    assert tuned.abstain_threshold == 0.3


class _Jobs:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def add_event(self, *args) -> None:
        self.events.append(args)


class _Store:
    def __init__(self) -> None:
        self.jobs = _Jobs()


def test_the_abstention_event_says_the_threshold_how_it_was_chosen_and_what_it_gives():
    store = _Store()
    report = {
        "task": "oos",
        "threshold": 0.41234,
        "chosen_by": "validation",
        "validation": {"in_scope_accuracy": 0.9, "out_of_scope_recall": None},
    }
    _record_abstention(store, "ftjob-1", report)
    [(jid, event_id, kind, message, data)] = store.jobs.events
    assert (jid, event_id, kind, data) == ("ftjob-1", "fine_tune:abstention", "message", report)
    assert message == (
        "out-of-scope task 'oos': abstain when the top probability is under 0.4123 (chosen on "
        "the validation split); on validation: in scope accuracy 0.900, out of scope recall n/a"
    )
