"""Out-of-scope abstention: choosing the threshold on validation, and setting it on the agent."""

import random

import numpy as np
import pytest

from tuneloop.agent.features import featurize
from tuneloop.agent.learned import FALLBACK_ANSWER, LearnedAgent
from tuneloop.agent.softmax import TrainConfig
from tuneloop.errors import StageError
from tuneloop.report.abstain import at_threshold, choose_threshold, curve
from tuneloop.report.tradeoff import CURVE_THRESHOLDS, DEFAULT_MAX_IN_SCOPE_LOSS, curve_thresholds
from tuneloop.stages.prepare import TRAIN, VALIDATION, side_of
from tuneloop.trainers.softmax import _record_abstention
from tuneloop.trainers.softmax_fit import fine_tune, load_data, set_abstention

OOS = 2  # class index of the out-of-scope task in the hand-made arrays

# --- the threshold chooser, on arrays worked out by hand ---------------------------------------


# rows, by top probability:   in-scope right 0.9, 0.8, 0.6, 0.35; in-scope wrong 0.5;
#                              oos routed in scope 0.3, 0.55, 0.7; oos routed to oos 0.95.
# No abstention: in-scope accuracy 4/5, recall 1/4. Raising t abstains on, in turn:
#   0.35: oos 0.3 (recall 2/4)            0.5: right 0.35 (accuracy 3/5, loss 0.2)
#   0.55: wrong 0.5 (nothing changes)     0.6: oos 0.55 (recall 3/4)
#   0.7: right 0.6 (accuracy 2/5)         0.8: oos 0.7 (recall 4/4, loss 0.4)
BINDING_TOP = np.array([0.9, 0.8, 0.6, 0.35, 0.5, 0.3, 0.55, 0.7, 0.95])
BINDING_PREDICTED = np.array([0, 1, 0, 1, 0, 0, 1, 0, OOS])
BINDING_LABELS = np.array([0, 1, 0, 1, 1, OOS, OOS, OOS, OOS])


@pytest.mark.parametrize(
    ("max_loss", "threshold", "accuracy", "recall"),
    [
        (0.0, 0.35, 4 / 5, 2 / 4),  # only what loses nothing: the unsure oos row under 0.35
        (0.19, 0.35, 4 / 5, 2 / 4),  # one right row lost is 0.2, over the limit
        (0.2, 0.6, 3 / 5, 3 / 4),  # a loss equal to the limit is within it
        (0.39, 0.6, 3 / 5, 3 / 4),
        (0.4, 0.8, 2 / 5, 4 / 4),
        (1.0, 0.8, 2 / 5, 4 / 4),  # full recall already at 0.8: higher abstains for nothing
    ],
)
def test_the_limit_on_in_scope_loss_binds_the_threshold_of_best_recall(
    max_loss, threshold, accuracy, recall
):
    chosen = choose_threshold(BINDING_TOP, BINDING_PREDICTED, BINDING_LABELS, OOS, max_loss)
    assert chosen.threshold == pytest.approx(threshold)
    assert chosen.in_scope_accuracy == pytest.approx(accuracy)
    assert chosen.out_of_scope_recall == pytest.approx(recall)
    assert chosen.in_scope_loss == pytest.approx(4 / 5 - accuracy)
    assert chosen.in_scope_loss <= max_loss
    assert (chosen.n_in_scope, chosen.n_out_of_scope) == (5, 4)


def test_the_default_limit_is_two_points_of_in_scope_accuracy():
    assert DEFAULT_MAX_IN_SCOPE_LOSS == 0.02
    # 0.02 is under one row's 0.2: the default keeps to what loses nothing
    chosen = choose_threshold(BINDING_TOP, BINDING_PREDICTED, BINDING_LABELS, OOS)
    assert chosen.threshold == pytest.approx(0.35)


def test_when_every_abstention_catching_out_of_scope_loses_too_much_it_never_abstains():
    # the one oos row (0.5) is surer than a right in-scope row (0.3): catching it costs 1/2
    top = np.array([0.3, 0.9, 0.5])
    predicted = np.array([0, 1, 0])
    labels = np.array([0, 1, OOS])
    chosen = choose_threshold(top, predicted, labels, OOS, 0.02)
    assert chosen.threshold == 0.0
    assert (chosen.in_scope_accuracy, chosen.out_of_scope_recall) == (1.0, 0.0)
    assert chosen.in_scope_loss == 0.0
    # with room for that loss, it is taken
    assert choose_threshold(top, predicted, labels, OOS, 0.5).threshold == pytest.approx(0.9)


def test_abstaining_on_in_scope_rows_routed_wrong_costs_nothing():
    # oos 0.4 sits above a wrong in-scope row (0.2): catching it loses no accuracy
    top = np.array([0.2, 0.4, 0.9])
    predicted = np.array([1, 0, 0])
    labels = np.array([0, OOS, 0])
    chosen = choose_threshold(top, predicted, labels, OOS, 0.0)
    assert chosen.threshold == pytest.approx(0.9)
    assert (chosen.in_scope_accuracy, chosen.out_of_scope_recall) == (0.5, 1.0)
    assert chosen.in_scope_loss == 0.0


def test_a_row_exactly_at_the_threshold_is_answered_not_abstained():
    top = np.array([0.5, 0.5, 0.8, 0.8])
    predicted = np.array([0, 1, 1, 0])
    labels = np.array([0, OOS, 1, OOS])
    # t = 0 and t = 0.5 abstain on nothing (top < t is strict): accuracy 1, recall 0.
    # t = 0.8 abstains on both 0.5 rows: accuracy 1/2, recall 1/2. t = 1 abstains on all:
    # accuracy 0, recall 1. Each loses more than 0.02, so t = 0.
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
    assert chosen.out_of_scope_recall is None  # undefined: every threshold ties
    assert chosen.n_out_of_scope == 0
    assert chosen.in_scope_accuracy == pytest.approx(1 / 3)
    assert chosen.in_scope_loss == 0.0


def test_with_only_out_of_scope_rows_the_threshold_abstains_on_every_row_not_called_oos():
    top = np.array([0.3, 0.8, 0.6])
    predicted = np.array([0, OOS, 1])
    labels = np.full(3, OOS)
    chosen = choose_threshold(top, predicted, labels, OOS, 0.0)  # nothing in scope to lose
    assert chosen.threshold == pytest.approx(0.8)  # the lowest above 0.3 and 0.6
    assert chosen.in_scope_accuracy is None and chosen.in_scope_loss is None
    assert chosen.out_of_scope_recall == 1.0


def test_abstaining_on_every_row_is_a_candidate():
    top = np.array([0.9, 0.8])
    predicted = np.array([0, 0])
    labels = np.array([OOS, OOS])
    assert choose_threshold(top, predicted, labels, OOS, 0.0).threshold == 1.0


def test_no_rows_give_threshold_zero_and_no_figures():
    empty = np.zeros(0)
    chosen = choose_threshold(empty, empty.astype(int), empty.astype(int), OOS)
    assert chosen.threshold == 0.0
    assert chosen.figures() == {
        "in_scope_accuracy": None,
        "out_of_scope_recall": None,
        "in_scope_loss": None,
        "n_in_scope": 0,
        "n_out_of_scope": 0,
    }


# --- the threshold chooser against brute force --------------------------------------------------


def brute_figures(top, predicted, labels, oos, t) -> tuple[float, float, float]:
    """Return (in-scope accuracy or 0, oos recall or 0, in-scope loss or 0) at t, row by row."""
    right = right_at_zero = recalled = n_in = n_oos = 0
    for p, k, y in zip(top.tolist(), predicted.tolist(), labels.tolist(), strict=True):
        final = oos if p < t else k
        if y == oos:
            n_oos += 1
            recalled += final == oos
        else:
            n_in += 1
            right += final == y
            right_at_zero += k == y
    if not n_in:
        return 0.0, (recalled / n_oos if n_oos else 0.0), 0.0
    return right / n_in, (recalled / n_oos if n_oos else 0.0), (right_at_zero - right) / n_in


@pytest.mark.parametrize("seed", range(25))
def test_the_chosen_threshold_is_the_lowest_of_best_recall_within_the_limit_by_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    top = np.round(rng.uniform(0.2, 1.0, n), int(rng.integers(1, 3))).astype(np.float32)
    predicted = rng.integers(0, 4, n)
    labels = np.where(rng.random(n) < 0.6, predicted, rng.integers(0, 4, n))
    oos = int(rng.integers(0, 4))
    max_loss = float(rng.choice([0.0, 0.02, 0.1, 0.3]))
    chosen = choose_threshold(top, predicted, labels, oos, max_loss)
    # every threshold worth trying: each value, and a fine grid between them
    tries = sorted({0.0, 1.0, *top.tolist(), *np.linspace(0, 1, 1001).tolist()})
    figures = [brute_figures(top, predicted, labels, oos, t) for t in tries]
    within = [(t, f[1]) for t, f in zip(tries, figures, strict=True) if f[2] <= max_loss + 1e-12]
    best = max(recall for _, recall in within)
    lowest = min(t for t, recall in within if recall > best - 1e-9)
    accuracy, recall, loss = brute_figures(top, predicted, labels, oos, chosen.threshold)
    assert loss <= max_loss + 1e-12
    assert recall == pytest.approx(best)
    # the chosen threshold abstains on the same rows as the lowest best threshold tried
    wide = top.astype(np.float64)  # compared as brute_figures does, not rounded to float32
    assert np.array_equal(wide < chosen.threshold, wide < lowest)
    assert (chosen.in_scope_accuracy or 0.0) == pytest.approx(accuracy)
    assert (chosen.out_of_scope_recall or 0.0) == pytest.approx(recall)
    assert (chosen.in_scope_loss or 0.0) == pytest.approx(loss)


def test_at_threshold_gives_the_brute_force_figures():
    rng = np.random.default_rng(3)
    top, predicted = rng.uniform(0.3, 1, 200), rng.integers(0, 3, 200)
    labels = rng.integers(0, 3, 200)
    for t in (0.0, 0.45, 0.7, 1.0):
        figures = at_threshold(top, predicted, labels, 1, t)
        accuracy, recall, _ = brute_figures(top, predicted, labels, 1, t)
        assert figures.threshold == t
        assert (figures.in_scope_accuracy, figures.out_of_scope_recall) == pytest.approx(
            (accuracy, recall)
        )


# --- the trade-off curve -------------------------------------------------------------------------


def test_the_curve_gives_each_distinct_threshold_lowest_first_with_brute_force_figures():
    rng = np.random.default_rng(8)
    top, predicted = rng.uniform(0.05, 1, 300), rng.integers(0, 4, 300)
    labels = np.where(rng.random(300) < 0.7, predicted, rng.integers(0, 4, 300))
    points = curve(top, predicted, labels, 3, [0.5, 0.0, 0.25, 0.5, 0.9])
    assert [p.threshold for p in points] == [0.0, 0.25, 0.5, 0.9]
    for p in points:
        accuracy, recall, loss = brute_figures(top, predicted, labels, 3, p.threshold)
        assert (p.in_scope_accuracy, p.out_of_scope_recall, p.in_scope_loss) == pytest.approx(
            (accuracy, recall, loss)
        )
    assert points[0].in_scope_loss == 0.0  # no abstention is the reference
    accuracies = [p.in_scope_accuracy for p in points]
    recalls = [p.out_of_scope_recall for p in points]
    assert accuracies == sorted(accuracies, reverse=True) and recalls == sorted(recalls)


def test_the_curve_shows_no_abstention_the_chosen_threshold_and_the_fixed_ones():
    chosen = choose_threshold(BINDING_TOP, BINDING_PREDICTED, BINDING_LABELS, OOS, 0.0)
    assert chosen.threshold not in CURVE_THRESHOLDS  # 0.35: shown only as the chosen one
    thresholds = curve_thresholds(chosen.threshold)
    assert thresholds == sorted({0.0, chosen.threshold, *CURVE_THRESHOLDS})
    points = curve(BINDING_TOP, BINDING_PREDICTED, BINDING_LABELS, OOS, thresholds)
    [at_chosen] = [p for p in points if p.threshold == chosen.threshold]
    assert at_chosen == chosen
    assert points[0].point() == {
        "threshold": 0.0,
        "in_scope_accuracy": 4 / 5,
        "out_of_scope_recall": 1 / 4,
        "in_scope_loss": 0.0,
    }
    assert curve_thresholds(0.5).count(0.5) == 1  # a chosen threshold on the grid shows once


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


@pytest.mark.parametrize("max_loss", [None, 0.0, 0.1])
def test_no_threshold_within_the_limit_has_better_recall_on_validation(trained, max_loss):
    data, agent = trained
    report = set_abstention(agent, data, "oos", None, max_loss)
    limit = DEFAULT_MAX_IN_SCOPE_LOSS if max_loss is None else max_loss
    assert report["max_in_scope_loss"] == limit
    assert report["validation"]["in_scope_loss"] <= limit
    for t in np.linspace(0, 1, 41).tolist():
        other = set_abstention(agent, data, "oos", t)
        assert other["chosen_by"] == "request" and other["threshold"] == t
        assert other["max_in_scope_loss"] is None
        if other["validation"]["in_scope_loss"] <= limit:
            recall = other["validation"]["out_of_scope_recall"]
            assert recall <= report["validation"]["out_of_scope_recall"]


def test_the_report_carries_the_validation_curve_with_no_abstention_and_the_chosen_point(
    trained,
):
    data, agent = trained
    report = set_abstention(agent, data, "oos", None, 0.1)
    points = report["curve"]
    assert [p["threshold"] for p in points] == curve_thresholds(report["threshold"])
    assert points[0]["threshold"] == 0.0 and points[0]["in_scope_loss"] == 0.0
    [chosen] = [p for p in points if p["threshold"] == report["threshold"]]
    figures = report["validation"]
    assert chosen == {
        "threshold": report["threshold"],
        "in_scope_accuracy": figures["in_scope_accuracy"],
        "out_of_scope_recall": figures["out_of_scope_recall"],
        "in_scope_loss": figures["in_scope_loss"],
    }
    no_abstention = set_abstention(agent, data, "oos", 0.0)["validation"]
    assert points[0]["in_scope_accuracy"] == no_abstention["in_scope_accuracy"]
    assert points[0]["out_of_scope_recall"] == no_abstention["out_of_scope_recall"]


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
    assert report == {
        "task": "oos",
        "threshold": 0.0,
        "chosen_by": "default",
        "max_in_scope_loss": DEFAULT_MAX_IN_SCOPE_LOSS,
        "validation": None,
        "curve": None,
    }
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
        "max_in_scope_loss": 0.02,
        "validation": {"in_scope_accuracy": 0.9, "out_of_scope_recall": None, "in_scope_loss": 0.0},
    }
    _record_abstention(store, "ftjob-1", report)
    [(jid, event_id, kind, message, data)] = store.jobs.events
    assert (jid, event_id, kind, data) == ("ftjob-1", "fine_tune:abstention", "message", report)
    assert message == (
        "out-of-scope task 'oos': abstain when the top probability is under 0.4123 (chosen on "
        "the validation split: the best out-of-scope recall losing at most 0.02 of in-scope "
        "accuracy); on validation: in scope accuracy 0.900, out of scope recall n/a, in scope "
        "loss 0.000"
    )
