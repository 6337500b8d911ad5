"""Training state to and from bytes, exactly (float32 arrays as they are)."""

from dataclasses import dataclass

import numpy as np

from tuneloop.agent import npz
from tuneloop.agent.softmax import TrainState

_ARRAYS = ("weights", "bias", "accum", "accum_bias")


def dump(state: TrainState) -> bytes:
    """Return the state (without its best-epoch copy) as .npz bytes."""
    header = {
        "epoch": state.epoch,
        "best_epoch": state.best_epoch,
        "best_valid_loss": state.best_valid_loss,
        "bad_epochs": state.bad_epochs,
        "history": state.history,
    }
    return npz.dump({name: getattr(state, name) for name in _ARRAYS}, header)


def copy(state: TrainState) -> TrainState:
    """Return a copy of the state that later training steps cannot change."""
    return TrainState(
        state.epoch,
        *(getattr(state, name).copy() for name in _ARRAYS),
        best_epoch=state.best_epoch,
        best_valid_loss=state.best_valid_loss,
        bad_epochs=state.bad_epochs,
        history=[dict(row) for row in state.history],
    )


def copy_at_best(state: TrainState) -> TrainState:
    """Return a copy of a state whose latest epoch is its best, sharing the best-weight copy.

    The best weights are a copy train() made for that epoch and never changes, so only the
    AdaGrad sums and the history are copied here.
    """
    if state.best_epoch != state.epoch or state.best_weights is None or state.best_bias is None:
        raise ValueError(f"epoch {state.epoch} is not the best epoch ({state.best_epoch})")
    return TrainState(
        state.epoch,
        state.best_weights,
        state.best_bias,
        state.accum.copy(),
        state.accum_bias.copy(),
        best_epoch=state.best_epoch,
        best_valid_loss=state.best_valid_loss,
        bad_epochs=state.bad_epochs,
        history=[dict(row) for row in state.history],
    )


@dataclass
class Schedule:
    """When to checkpoint: at the first epoch end `interval` seconds after the last one.

    An epoch that takes at least the interval is checkpointed every time; cheaper epochs are
    checkpointed every interval, so a lost worker redoes at most the interval and one epoch.
    """

    interval: float
    last: float  # when training (re)started or the last checkpoint was taken

    def due(self, now: float) -> bool:
        """Return whether an epoch ending at now is checkpointed (and if so, restart the clock)."""
        if now - self.last < self.interval:
            return False
        self.last = now
        return True


def load(data: bytes, best: TrainState | None = None) -> TrainState:
    """Rebuild a state; its best weights are its own when best_epoch is its epoch, else best's."""
    arrays, header = npz.load(data)
    state = TrainState(
        header["epoch"],
        *(np.ascontiguousarray(arrays[name]) for name in _ARRAYS),
        best_epoch=header["best_epoch"],
        best_valid_loss=header["best_valid_loss"],
        bad_epochs=header["bad_epochs"],
        history=header["history"],
    )
    source = state if state.best_epoch == state.epoch or best is None else best
    state.best_weights, state.best_bias = source.weights.copy(), source.bias.copy()
    return state
