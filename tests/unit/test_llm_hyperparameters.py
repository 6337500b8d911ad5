"""A language-model job's hyperparameters with "auto" resolved (tuneloop.llm.hyperparameters)."""

import pytest

from tuneloop.llm.hyperparameters import auto_batch_size, auto_epochs, resolve

ALL_AUTO = {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"}


@pytest.mark.parametrize(
    ("n", "epochs"), [(0, 10), (1, 10), (10, 10), (11, 10), (34, 3), (50, 2), (101, 1), (10**6, 1)]
)
def test_auto_epochs_see_about_a_hundred_examples_within_one_to_ten_passes(
    n: int, epochs: int
) -> None:
    assert auto_epochs(n) == epochs


@pytest.mark.parametrize(
    ("n", "batch"), [(0, 1), (15, 1), (16, 2), (31, 2), (32, 4), (63, 4), (64, 8), (10**6, 8)]
)
def test_auto_batch_size_is_a_power_of_two_of_an_eighth_of_the_rows_within_one_to_eight(
    n: int, batch: int
) -> None:
    assert auto_batch_size(n) == batch


def test_supervised_auto_resolves_everything_and_leaves_no_auto() -> None:
    hp = resolve("supervised", ALL_AUTO, 40)
    assert hp == {
        "method": "supervised",
        "n_epochs": 3,
        "batch_size": 4,
        "learning_rate_multiplier": 1.0,
        "learning_rate": 2e-4,
        "lora_r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        "max_length": 512,
        "seed": 42,
        "log_every": 10,
    }
    assert "auto" not in hp.values()


def test_dpo_has_beta_and_its_own_base_rate_scaled_by_the_multiplier() -> None:
    hp = resolve("dpo", {**ALL_AUTO, "learning_rate_multiplier": 2.0, "beta": "auto"}, 8)
    assert hp["beta"] == 0.1
    assert hp["learning_rate"] == pytest.approx(1e-4)


def test_given_numbers_are_kept() -> None:
    given = {"n_epochs": 2, "batch_size": 3, "beta": 0.5, "seed": 7, "lora_r": 4, "log_every": 1}
    hp = resolve("dpo", given, 1000)
    assert {k: hp[k] for k in given} == given


def test_a_given_learning_rate_is_used_as_is() -> None:
    assert resolve("supervised", {"learning_rate": 1e-3}, 10)["learning_rate"] == 1e-3


def test_supervised_has_no_beta() -> None:
    assert "beta" not in resolve("supervised", {"beta": 0.3}, 10)


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="kto"):
        resolve("kto", {}, 10)
