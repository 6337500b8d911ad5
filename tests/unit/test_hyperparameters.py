"""Resolving the "auto" training controls from the number of training rows."""

import math

import pytest

from tuneloop.stages.prepare import (
    AUTO,
    DEFAULT_L2,
    DEFAULT_PATIENCE,
    auto_fields,
    resolve,
)

ALL_AUTO = {"n_epochs": AUTO, "learning_rate": AUTO, "batch_size": AUTO}


def test_documented_defaults():
    assert AUTO == "auto"
    assert DEFAULT_L2 == 1e-6
    assert DEFAULT_PATIENCE == 3


# --- batch_size ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_train", "batch_size"),
    [
        (0, 16),
        (1, 16),
        (1_000, 16),
        (4_800, 16),  # n / 300 = 16
        (6_000, 16),  # n / 300 = 20: nearer 16 than 32 on a log scale
        (7_200, 32),  # n / 300 = 24: nearer 32
        (9_600, 32),
        (38_400, 128),
        (153_600, 512),
        (1_000_000, 512),  # n / 300 = 3333 -> 4096, clamped
    ],
)
def test_auto_batch_size_is_the_power_of_two_nearest_n_over_300_within_16_to_512(
    n_train, batch_size
):
    assert resolve(ALL_AUTO, n_train)["batch_size"] == batch_size


@pytest.mark.parametrize("n_train", [0, 1, 17, 299, 301, 5_000, 12_345, 99_999, 250_000, 10**7])
def test_auto_batch_size_is_always_a_power_of_two_in_bounds(n_train):
    batch_size = resolve(ALL_AUTO, n_train)["batch_size"]
    assert 16 <= batch_size <= 512
    assert batch_size & (batch_size - 1) == 0


def test_auto_batch_size_never_shrinks_as_the_data_grows():
    sizes = [resolve(ALL_AUTO, n)["batch_size"] for n in range(0, 300_000, 1_000)]
    assert sizes == sorted(sizes)
    assert sizes[0] == 16
    assert sizes[-1] == 512


# --- learning_rate ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_train", "learning_rate"),
    [(100, 0.1414), (9_600, 0.2), (38_400, 0.4), (153_600, 0.8)],
)
def test_auto_learning_rate_grows_with_the_square_root_of_the_batch(n_train, learning_rate):
    resolved = resolve(ALL_AUTO, n_train)
    assert resolved["learning_rate"] == learning_rate
    assert resolved["learning_rate"] == round(0.2 * math.sqrt(resolved["batch_size"] / 32), 4)


@pytest.mark.parametrize(("batch_size", "learning_rate"), [(8, 0.1), (32, 0.2), (2048, 1.6)])
def test_auto_learning_rate_follows_an_explicit_batch_size(batch_size, learning_rate):
    resolved = resolve({**ALL_AUTO, "batch_size": batch_size}, 1_000_000)
    assert resolved["batch_size"] == batch_size
    assert resolved["learning_rate"] == learning_rate


# --- n_epochs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_train", "n_epochs"),
    [
        (0, 30),
        (1, 30),
        (5_000, 30),  # exactly 30
        (7_000, 22),  # 21.4 rounded up
        (10_000, 15),
        (40_000, 4),  # 3.75 rounded up
        (50_000, 3),
        (60_000, 3),  # 2.5 -> 3, the floor
        (1_000_000, 3),
    ],
)
def test_auto_n_epochs_is_150000_over_n_rounded_up_within_3_to_30(n_train, n_epochs):
    assert resolve(ALL_AUTO, n_train)["n_epochs"] == n_epochs


@pytest.mark.parametrize("n_train", [1_000, 5_001, 7_000, 33_333, 49_999])
def test_auto_n_epochs_shows_at_least_150000_examples_unless_capped(n_train):
    n_epochs = resolve(ALL_AUTO, n_train)["n_epochs"]
    assert n_epochs * n_train >= 150_000 or n_epochs == 30
    assert (n_epochs - 1) * n_train < 150_000 or n_epochs == 3


# --- explicit values and the other controls -----------------------------------------------


def test_explicit_values_are_kept_whatever_the_data_size():
    requested = {"n_epochs": 2, "learning_rate": 0.05, "batch_size": 7, "seed": 9}
    for n_train in (0, 10, 1_000_000):
        resolved = resolve(requested, n_train)
        assert resolved["n_epochs"] == 2
        assert resolved["learning_rate"] == 0.05
        assert resolved["batch_size"] == 7
        assert resolved["seed"] == 9


def test_missing_controls_count_as_auto_and_get_defaults():
    assert resolve({}, 10_000) == {
        "batch_size": 32,
        "learning_rate": 0.2,
        "n_epochs": 15,
        "l2": 1e-6,
        "early_stopping_patience": 3,
        "seed": 42,
    }


def test_explicit_l2_and_patience_are_kept_including_no_early_stopping():
    resolved = resolve({**ALL_AUTO, "l2": 0.0, "early_stopping_patience": None}, 100)
    assert resolved["l2"] == 0.0
    assert resolved["early_stopping_patience"] is None


def test_resolve_does_not_change_the_request():
    requested = {**ALL_AUTO, "seed": 1}
    resolve(requested, 500)
    assert requested == {**ALL_AUTO, "seed": 1}


def test_resolved_controls_are_all_numbers():
    resolved = resolve(ALL_AUTO, 12_345)
    assert AUTO not in resolved.values()
    assert isinstance(resolved["n_epochs"], int)
    assert isinstance(resolved["batch_size"], int)


# --- auto_fields --------------------------------------------------------------------------


def test_auto_fields_names_the_controls_left_to_auto_in_order():
    assert auto_fields(ALL_AUTO) == ["batch_size", "learning_rate", "n_epochs"]
    assert auto_fields({}) == ["batch_size", "learning_rate", "n_epochs"]
    assert auto_fields({"n_epochs": 5, "learning_rate": AUTO, "batch_size": 64}) == [
        "learning_rate"
    ]
    assert auto_fields({"n_epochs": 5, "learning_rate": 0.1, "batch_size": 64, "seed": 1}) == []
