"""When fine-tuning checkpoints: at the first epoch end an interval after the last one."""

import numpy as np
import pytest

from tuneloop.agent import checkpoint
from tuneloop.agent.softmax import TrainState


def due_epochs(interval: float, seconds_per_epoch: float, n_epochs: int) -> list[int]:
    """Return the epochs checkpointed when every epoch takes seconds_per_epoch."""
    schedule = checkpoint.Schedule(interval, last=0.0)
    return [e for e in range(1, n_epochs + 1) if schedule.due(e * seconds_per_epoch)]


def test_cheap_epochs_are_checkpointed_once_an_interval():
    assert due_epochs(0.25, 0.0625, 12) == [4, 8, 12]
    assert due_epochs(0.25, 0.001, 30) == []  # the lab job: 30 epochs of about 1 ms


def test_epochs_at_least_as_long_as_the_interval_are_each_checkpointed():
    assert due_epochs(0.25, 0.25, 4) == [1, 2, 3, 4]
    assert due_epochs(0.25, 0.3, 4) == [1, 2, 3, 4]


def test_an_interval_of_zero_checkpoints_every_epoch():
    assert due_epochs(0.0, 0.0, 3) == [1, 2, 3]


def test_the_clock_restarts_at_each_checkpoint_not_at_each_epoch():
    schedule = checkpoint.Schedule(1.0, last=0.0)
    assert [schedule.due(t) for t in (0.9, 1.0, 1.9, 2.0, 2.5)] == [False, True, False, True, False]


def trained_state(epoch: int, best_epoch: int) -> TrainState:
    """Return a state after epoch, its best-weight copy taken at best_epoch."""
    state = TrainState.fresh(2)
    state.epoch, state.best_epoch, state.best_valid_loss = epoch, best_epoch, 0.5
    state.weights[3] = epoch
    state.accum[3] = epoch
    state.history = [
        {"epoch": e, "train_loss": 1.0, "valid_loss": 0.5} for e in range(1, epoch + 1)
    ]
    state.best_weights, state.best_bias = state.weights.copy(), state.bias.copy()
    return state


def test_a_copy_at_the_best_epoch_shares_the_best_weights_and_copies_the_rest():
    state = trained_state(3, 3)
    copied = checkpoint.copy_at_best(state)
    assert copied.weights is state.best_weights  # already a copy train() never changes
    state.accum[3] = 99.0
    state.history.append({"epoch": 4, "train_loss": 1.0, "valid_loss": 0.6})
    assert copied.accum[3] == 3.0 and len(copied.history) == 3
    loaded = checkpoint.load(checkpoint.dump(copied))
    assert (loaded.epoch, loaded.best_epoch) == (3, 3)
    np.testing.assert_array_equal(loaded.best_weights, state.best_weights)


def test_a_copy_at_the_best_epoch_refuses_a_state_past_its_best():
    with pytest.raises(ValueError, match="not the best epoch"):
        checkpoint.copy_at_best(trained_state(4, 3))
