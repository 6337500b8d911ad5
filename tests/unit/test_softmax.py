"""The softmax router, its mini-batch AdaGrad trainer, early stopping and exact checkpoints."""

import dataclasses
import itertools
import math
import random

import numpy as np
import pytest
import scipy.sparse as sp

from tuneloop.agent import checkpoint
from tuneloop.agent.features import N_FEATURES, FeatureBank, featurize
from tuneloop.agent.softmax import (
    Softmax,
    TrainConfig,
    TrainState,
    best_model,
    mean_log_loss,
    stopped_early,
    train,
)

# Four task types, each with its own topic words; the filler words are shared.
TOPICS = {
    "billing": "invoice refund payment receipt subscription overcharge charge card balance",
    "cooking": "recipe oven garlic simmer flour skillet bake onion butter saute",
    "fitness": "workout squat cardio treadmill dumbbell marathon stretch protein jog",
    "travel": "flight hotel passport luggage airport itinerary visa ticket boarding",
    "": "please can you help me with my the a about question need some info on today",
}
VOCABULARY = {task: words.split() for task, words in TOPICS.items() if task}
FILLER = TOPICS[""].split()
CLASSES = sorted(VOCABULARY)


def generated(rng: random.Random, per_task: int, noise: float = 0.0) -> list[tuple[str, str]]:
    """Return (text, task) rows: 1-3 topic words among 2-5 fillers; noise relabels at random."""
    rows = []
    for task, words in VOCABULARY.items():
        for _ in range(per_task):
            tokens = rng.sample(words, rng.randint(1, 3)) + rng.sample(FILLER, rng.randint(2, 5))
            rng.shuffle(tokens)
            label = rng.choice(CLASSES) if rng.random() < noise else task
            rows.append((" ".join(tokens), label))
    rng.shuffle(rows)
    return rows


def bank_of(rows: list[tuple[str, str]]) -> tuple[FeatureBank, np.ndarray]:
    bank = FeatureBank()
    bank.add([text for text, _ in rows])
    labels = np.array([CLASSES.index(task) for _, task in rows], dtype=np.int32)
    return bank.freeze(), labels


def config(**changes) -> TrainConfig:
    base = TrainConfig(
        n_epochs=12,
        learning_rate=1.0,
        batch_size=8,
        seed=5,
        l2=1e-6,
        early_stopping_patience=None,
    )
    return dataclasses.replace(base, **changes)


_rng = random.Random(5)
CLEAN_TRAIN, CLEAN_VALID = bank_of(generated(_rng, 40)), bank_of(generated(_rng, 15))
# Noisy labels (15% in training, 30% in validation) make the validation loss go down, up,
# down to a new best at epoch 3 and then up for good: a curve early stopping must read right.
_rng = random.Random(5)
NOISY_TRAIN = bank_of(generated(_rng, 40, noise=0.15))
NOISY_VALID = bank_of(generated(_rng, 15, noise=0.3))


@dataclasses.dataclass
class Run:
    """A finished training run plus what its callbacks saw after each epoch."""

    state: TrainState
    rows: list[dict]  # what on_epoch got
    weights: dict[int, np.ndarray]  # epoch -> copy of the weights after it
    bias: dict[int, np.ndarray]
    best_is_current: dict[int, bool]


def run(
    cfg: TrainConfig,
    data: tuple = NOISY_TRAIN,
    validation: tuple | None = NOISY_VALID,
    state: TrainState | None = None,
) -> Run:
    rows, weights, bias, current = [], {}, {}, {}

    def on_checkpoint(state: TrainState, best_is_current: bool) -> None:
        weights[state.epoch] = state.weights.copy()
        bias[state.epoch] = state.bias.copy()
        current[state.epoch] = best_is_current

    final = train(CLASSES, *data, cfg, validation, state, rows.append, on_checkpoint)
    return Run(final, rows, weights, bias, current)


def bad_epoch_streaks(losses: list[float]) -> list[int]:
    """Return, after each epoch, how many epochs in a row failed to lower the best loss."""
    best, streak, out = math.inf, 0, []
    for loss in losses:
        best, streak = (loss, 0) if loss < best else (best, streak + 1)
        out.append(streak)
    return out


def valid_losses(r: Run) -> list[float]:
    return [row["valid_loss"] for row in r.state.history]


@pytest.fixture(scope="module")
def full() -> Run:
    """All 12 epochs on the noisy data, never stopping early."""
    return run(config())


@pytest.fixture(scope="module")
def clean() -> Run:
    return run(config(learning_rate=0.3), CLEAN_TRAIN, CLEAN_VALID)


# --- the router -----------------------------------------------------------------------------


def test_proba_rows_are_distributions_and_zero_weights_are_uniform():
    router = Softmax(
        CLASSES,
        np.zeros((N_FEATURES, 4), dtype=np.float32),
        np.zeros(4, dtype=np.float32),
    )
    proba = router.proba(featurize(["refund", "", "oven garlic"]))
    assert proba.shape == (3, 4)
    np.testing.assert_allclose(proba, 0.25)
    assert mean_log_loss(router, *CLEAN_VALID) == pytest.approx(math.log(4), rel=1e-6)


def test_mean_log_loss_is_the_mean_cross_entropy_in_any_chunking(clean):
    router = best_model(CLASSES, clean.state)
    bank, labels = CLEAN_VALID
    proba = router.proba(bank.span(0, len(bank))).astype(np.float64)
    expected = -np.mean(np.log(proba[np.arange(len(labels)), labels]))
    assert mean_log_loss(router, bank, labels) == pytest.approx(expected, rel=1e-6)
    assert mean_log_loss(router, bank, labels, chunk=7) == pytest.approx(expected, rel=1e-6)


def test_mean_log_loss_stays_finite_for_a_certainly_wrong_router():
    weights = np.zeros((N_FEATURES, 2), dtype=np.float32)
    router = Softmax(["a", "b"], weights, np.array([0.0, 100.0], dtype=np.float32))
    bank, _ = bank_of([("x", "billing"), ("y", "billing")])
    loss = mean_log_loss(router, bank, np.zeros(2, dtype=np.int32))
    assert loss == pytest.approx(-math.log(1e-15))


# --- training ---------------------------------------------------------------------------------


def test_every_epoch_reports_once_with_finite_positive_losses(full):
    assert [row["epoch"] for row in full.rows] == list(range(1, 13))
    assert full.rows == full.state.history
    for row in full.rows:
        assert math.isfinite(row["train_loss"]) and row["train_loss"] > 0
        assert math.isfinite(row["valid_loss"]) and row["valid_loss"] > 0


def test_train_loss_decreases_every_epoch(clean, full):
    for r in (clean, full):
        losses = [row["train_loss"] for row in r.state.history]
        assert all(b < a for a, b in itertools.pairwise(losses)), losses
    clean_losses = [row["train_loss"] for row in clean.state.history]
    assert clean_losses[-1] < 0.05 * clean_losses[0]


def test_validation_loss_decreases_on_clean_data(clean):
    losses = valid_losses(clean)
    assert all(b < a for a, b in itertools.pairwise(losses)), losses


def test_valid_loss_of_an_epoch_is_the_loss_of_the_weights_after_it():
    seen = []

    def on_checkpoint(state: TrainState, best_is_current: bool) -> None:
        router = Softmax(CLASSES, state.weights, state.bias)
        seen.append((state.history[-1]["valid_loss"], mean_log_loss(router, *NOISY_VALID)))

    train(CLASSES, *NOISY_TRAIN, config(n_epochs=4), NOISY_VALID, on_checkpoint=on_checkpoint)
    assert len(seen) == 4
    for reported, recomputed in seen:
        assert reported == recomputed


def test_with_one_batch_per_epoch_train_loss_is_the_loss_of_the_weights_before_it():
    bank, labels = NOISY_TRAIN
    r = run(config(n_epochs=4, batch_size=len(bank)))
    before = {1: Softmax(CLASSES, np.zeros((N_FEATURES, 4), np.float32), np.zeros(4, np.float32))}
    before.update({e + 1: Softmax(CLASSES, r.weights[e], r.bias[e]) for e in range(1, 4)})
    for row in r.state.history:
        expected = mean_log_loss(before[row["epoch"]], bank, labels)
        assert row["train_loss"] == pytest.approx(expected, rel=1e-9)
    assert r.state.history[0]["train_loss"] == pytest.approx(math.log(4), rel=1e-6)


def test_without_validation_valid_loss_is_none_and_the_last_epoch_is_best():
    r = run(config(n_epochs=3, early_stopping_patience=1), validation=None)
    assert [row["valid_loss"] for row in r.state.history] == [None, None, None]
    assert r.state.epoch == r.state.best_epoch == 3
    assert r.best_is_current == {1: True, 2: True, 3: True}
    assert np.array_equal(best_model(CLASSES, r.state).weights, r.state.weights)


def test_same_seed_gives_bit_identical_weights(full):
    again = run(config())
    assert np.array_equal(again.state.weights, full.state.weights)
    assert np.array_equal(again.state.bias, full.state.bias)
    assert np.array_equal(again.state.accum, full.state.accum)
    assert again.state.history == full.state.history


def test_different_seed_gives_different_weights(full):
    other = run(config(seed=6))
    assert not np.array_equal(other.state.weights, full.state.weights)
    assert other.state.history != full.state.history


def test_feature_rows_never_in_the_training_data_stay_exactly_zero(full):
    bank, _ = NOISY_TRAIN
    seen = np.zeros(N_FEATURES, dtype=bool)
    seen[bank.cols] = True
    state = full.state
    assert not np.any(state.weights[~seen])
    assert not np.any(state.accum[~seen])
    assert np.all(np.any(state.weights[seen] != 0, axis=1))


def test_a_step_changes_only_the_weight_rows_of_features_in_its_batch(full):
    """Continue a trained state for one epoch of one batch, on inputs of a single task."""
    start = dataclasses.replace(
        full.state,
        weights=full.state.weights.copy(),
        bias=full.state.bias.copy(),
        accum=full.state.accum.copy(),
        accum_bias=full.state.accum_bias.copy(),
        history=list(full.state.history),
    )
    before = start.weights.copy(), start.accum.copy()
    batch = bank_of([(f"please {w} today", "travel") for w in VOCABULARY["travel"]])
    cfg = config(n_epochs=full.state.epoch + 1, batch_size=len(batch[0]))
    after = train(CLASSES, *batch, cfg, None, start)

    in_batch = np.zeros(N_FEATURES, dtype=bool)
    in_batch[batch[0].cols] = True
    changed = np.any(after.weights != before[0], axis=1)
    assert np.array_equal(changed, in_batch)
    assert np.array_equal(after.accum[~in_batch], before[1][~in_batch])
    assert np.all(after.accum[in_batch] > before[1][in_batch])


# --- early stopping ---------------------------------------------------------------------------


def test_the_noisy_validation_curve_recovers_once_before_worsening_for_good(full):
    # A precondition of the early-stopping tests: a bad epoch, a new best, then only worse.
    assert bad_epoch_streaks(valid_losses(full)) == [0, 1, 0, *range(1, 10)]


@pytest.mark.parametrize("patience", [1, 2, 3, 4, 12])
def test_training_stops_once_validation_failed_to_improve_patience_times_in_a_row(full, patience):
    cfg = config(early_stopping_patience=patience)
    streaks = bad_epoch_streaks(valid_losses(full))
    expected_end = next((e for e, s in enumerate(streaks, 1) if s == patience), 12)

    r = run(cfg)

    assert r.state.epoch == expected_end
    assert r.state.history == full.state.history[:expected_end]
    assert r.state.bad_epochs == streaks[expected_end - 1]
    assert stopped_early(r.state, cfg) == (expected_end < 12)


@pytest.mark.parametrize("patience", [1, 3, None])
def test_best_model_has_the_weights_of_the_epoch_with_the_lowest_validation_loss(patience):
    r = run(config(early_stopping_patience=patience))
    losses = valid_losses(r)
    best_epoch = int(np.argmin(losses)) + 1
    assert r.state.best_epoch == best_epoch
    assert r.state.best_valid_loss == losses[best_epoch - 1]
    assert [e for e, current in r.best_is_current.items() if current] == [
        e for e, s in enumerate(bad_epoch_streaks(losses), 1) if s == 0
    ]
    model = best_model(CLASSES, r.state)
    assert model.classes == CLASSES
    assert np.array_equal(model.weights, r.weights[best_epoch])
    assert np.array_equal(model.bias, r.bias[best_epoch])
    if best_epoch < r.state.epoch:
        assert not np.array_equal(model.weights, r.state.weights)


def test_a_run_that_used_all_its_epochs_did_not_stop_early(full):
    cfg = config(early_stopping_patience=12)
    assert full.state.epoch == 12
    assert not stopped_early(full.state, cfg)
    assert not stopped_early(full.state, config())


# --- checkpoints and resuming -----------------------------------------------------------------


class Crash(Exception):  # noqa: N818 - a signal, not an error
    """Raised from on_checkpoint to stop a run the way a killed worker would."""


def run_until_crash(cfg: TrainConfig, crash_after: int) -> tuple[bytes, bytes]:
    """Train until epoch crash_after; return the last checkpoint and the best one, as bytes."""
    slots: dict[str, bytes] = {}

    def on_checkpoint(state: TrainState, best_is_current: bool) -> None:
        data = checkpoint.dump(state)
        slots["last"] = data
        if best_is_current:
            slots["best"] = data
        if state.epoch == crash_after:
            raise Crash

    with pytest.raises(Crash):
        train(CLASSES, *NOISY_TRAIN, cfg, NOISY_VALID, on_checkpoint=on_checkpoint)
    return slots["last"], slots["best"]


def assert_same_state(actual: TrainState, expected: TrainState) -> None:
    for name in ("weights", "bias", "accum", "accum_bias", "best_weights", "best_bias"):
        a, e = getattr(actual, name), getattr(expected, name)
        assert a.dtype == e.dtype == np.float32, name
        assert np.array_equal(a, e), name
    assert actual.history == expected.history
    assert (actual.epoch, actual.best_epoch, actual.best_valid_loss, actual.bad_epochs) == (
        expected.epoch,
        expected.best_epoch,
        expected.best_valid_loss,
        expected.bad_epochs,
    )


@pytest.mark.parametrize(
    ("patience", "crash_after"),
    [(None, 1), (None, 3), (None, 7), (None, 11), (2, 2), (2, 4), (4, 6)],
)
def test_resumed_training_ends_bit_identical_to_an_uninterrupted_run(full, patience, crash_after):
    cfg = config(early_stopping_patience=patience)
    uninterrupted = full.state if patience is None else run(cfg).state
    last, best = run_until_crash(cfg, crash_after)

    state = checkpoint.load(last, checkpoint.load(best))
    assert state.epoch == crash_after
    resumed = train(CLASSES, *NOISY_TRAIN, cfg, NOISY_VALID, state)

    assert_same_state(resumed, uninterrupted)


def test_resuming_after_the_best_epoch_takes_the_best_weights_from_the_best_checkpoint(full):
    # After epoch 7 the best epoch is 3: its weights exist only in the best slot.
    last, best = run_until_crash(config(), 7)
    state = checkpoint.load(last, checkpoint.load(best))
    assert (state.epoch, state.best_epoch, state.bad_epochs) == (7, 3, 4)
    assert np.array_equal(state.weights, full.weights[7])
    assert np.array_equal(state.best_weights, full.weights[3])
    assert np.array_equal(state.best_bias, full.bias[3])


def test_checkpoint_round_trip_is_exact(full):
    state = checkpoint.load(checkpoint.dump(full.state))
    for name in ("weights", "bias", "accum", "accum_bias"):
        original, loaded = getattr(full.state, name), getattr(state, name)
        assert loaded.dtype == np.float32
        assert loaded.flags.c_contiguous and loaded.flags.writeable
        assert loaded.tobytes() == original.tobytes(), name
    assert state.history == full.state.history
    assert state.best_valid_loss == full.state.best_valid_loss
    assert (state.epoch, state.best_epoch, state.bad_epochs) == (12, 3, 9)


def test_a_checkpoint_of_the_best_epoch_is_its_own_best():
    last, best = run_until_crash(config(), 3)
    assert last is best  # epoch 3 was a new best
    state = checkpoint.load(best)
    assert state.best_epoch == state.epoch == 3
    assert np.array_equal(state.best_weights, state.weights)
    assert state.best_weights is not state.weights


def test_softmax_proba_accepts_featurize_output_directly(clean):
    router = best_model(CLASSES, clean.state)
    texts = ["Where is my refund for the invoice?", "Preheat the oven for the garlic bread"]
    proba = router.proba(featurize(texts))
    assert isinstance(featurize(texts), sp.csr_matrix)
    assert [CLASSES[i] for i in proba.argmax(axis=1)] == ["billing", "cooking"]
