"""A multinomial (softmax) linear classifier trained by mini-batch row-wise AdaGrad.

Each step touches only the feature rows present in its batch, so an epoch costs
O(non-zero features x task types) of vectorized array work.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from tuneloop.agent.features import N_FEATURES, FeatureBank

EPS = np.float32(1e-8)


@dataclass
class Softmax:
    """Weights of a softmax router; inference needs only numpy and scipy."""

    classes: list[str]
    weights: np.ndarray  # (N_FEATURES, n_classes) float32
    bias: np.ndarray  # (n_classes,) float32

    def proba(self, features: sp.csr_matrix) -> np.ndarray:
        """Return class probabilities of each row."""
        return softmax(np.asarray(features @ self.weights) + self.bias)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Return row-wise softmax, in place."""
    scores -= scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    return scores


def mean_log_loss(
    model: Softmax, bank: FeatureBank, labels: np.ndarray, chunk: int = 4096
) -> float:
    """Return the mean cross-entropy of model on all rows of bank, chunk by chunk."""
    total = 0.0
    for start in range(0, len(bank), chunk):
        proba = model.proba(bank.span(start, start + chunk))
        total += log_loss_sum(proba, labels[start : start + chunk])
    return total / max(len(bank), 1)


def log_loss_sum(proba: np.ndarray, y: np.ndarray) -> float:
    """Return the summed cross-entropy of class probabilities proba for labels y.

    By hand rather than sklearn.metrics.log_loss: it runs once per batch (thousands of
    times an epoch), where log_loss's input checks cost more than the sum, and log_loss
    clips at the probabilities' dtype epsilon (1.2e-7 for float32, so ~15.9 at most per
    row), while train and validation losses must be the same measure (clipped at 1e-15).
    """
    picked = proba[np.arange(proba.shape[0]), y]
    return -float(np.log(np.maximum(picked, 1e-15)).sum(dtype=np.float64))


@dataclass(frozen=True)
class TrainConfig:
    """Resolved training controls."""

    n_epochs: int
    learning_rate: float
    batch_size: int
    seed: int
    l2: float
    early_stopping_patience: int | None


@dataclass
class TrainState:
    """Everything a resumed run needs to end bit-identical to one that never stopped."""

    epoch: int
    weights: np.ndarray
    bias: np.ndarray
    accum: np.ndarray  # row-wise AdaGrad sum of squared gradients, (n_features,)
    accum_bias: np.ndarray
    best_epoch: int = 0
    best_valid_loss: float | None = None
    bad_epochs: int = 0
    history: list[dict] = field(default_factory=list)
    best_weights: np.ndarray | None = None  # a copy of the weights after best_epoch
    best_bias: np.ndarray | None = None

    @classmethod
    def fresh(cls, n_classes: int, n_features: int = N_FEATURES) -> "TrainState":
        """Return the state before the first epoch: all weights zero."""
        return cls(
            0,
            np.zeros((n_features, n_classes), dtype=np.float32),
            np.zeros(n_classes, dtype=np.float32),
            np.zeros(n_features, dtype=np.float32),
            np.zeros(n_classes, dtype=np.float32),
        )


# on_epoch(row) after each epoch; on_checkpoint(state, best_is_current) after it.
EpochCallback = Callable[[dict], None]
CheckpointCallback = Callable[[TrainState, bool], None]


def _step(
    state: TrainState, x: sp.csr_matrix, y: np.ndarray, lr: np.float32, l2: np.float32
) -> float:
    """Take one AdaGrad step on a batch; return the batch's summed loss before the step."""
    m = x.shape[0]
    cols, local = np.unique(x.indices, return_inverse=True)
    xc = sp.csr_matrix((x.data, local.astype(np.int32), x.indptr), shape=(m, len(cols)))
    w = state.weights[cols]
    proba = softmax(np.asarray(xc @ w) + state.bias)
    rows = np.arange(m)
    loss = log_loss_sum(proba, y)
    proba[rows, y] -= 1.0
    proba /= np.float32(m)
    grad = np.asarray(xc.T @ proba) + l2 * w
    grad_bias = proba.sum(axis=0)
    accum = state.accum[cols] + np.square(grad).mean(axis=1)
    state.accum[cols] = accum
    state.weights[cols] = w - lr * grad / (np.sqrt(accum)[:, None] + EPS)
    state.accum_bias += np.square(grad_bias)
    state.bias -= lr * grad_bias / (np.sqrt(state.accum_bias) + EPS)
    return loss


def train(
    classes: list[str],
    train_bank: FeatureBank,
    train_labels: np.ndarray,
    config: TrainConfig,
    validation: tuple[FeatureBank, np.ndarray] | None = None,
    state: TrainState | None = None,
    on_epoch: EpochCallback | None = None,
    on_checkpoint: CheckpointCallback | None = None,
) -> TrainState:
    """Train epoch by epoch from state (or from zero); return the final state.

    Each epoch's order comes from (seed, epoch) alone. The train loss of an epoch is the
    mean loss of its batches before each step; the validation loss is measured after it.
    """
    state = state or TrainState.fresh(len(classes), train_bank.n_features)
    lr, l2 = np.float32(config.learning_rate), np.float32(config.l2)
    while state.epoch < config.n_epochs and not _should_stop(state, config):
        epoch = state.epoch + 1
        order = np.random.default_rng([config.seed, epoch]).permutation(len(train_bank))
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            total += _step(state, train_bank.rows(batch), train_labels[batch], lr, l2)
        state.epoch = epoch
        row = {"epoch": epoch, "train_loss": total / len(order), "valid_loss": None}
        improved = True
        if validation is not None and len(validation[0]):
            row["valid_loss"] = mean_log_loss(_model(classes, state), *validation)
            improved = state.best_valid_loss is None or row["valid_loss"] < state.best_valid_loss
        if improved:
            state.best_epoch, state.best_valid_loss, state.bad_epochs = epoch, row["valid_loss"], 0
            state.best_weights, state.best_bias = state.weights.copy(), state.bias.copy()
        else:
            state.bad_epochs += 1
        state.history.append(row)
        if on_checkpoint:  # first: a checkpoint written in the background starts before the
            on_checkpoint(state, improved)  # epoch is announced, so saves are at most one behind
        if on_epoch:
            on_epoch(row)
    return state


def _should_stop(state: TrainState, config: TrainConfig) -> bool:
    """Return whether the validation loss has not improved for `patience` epochs."""
    patience = config.early_stopping_patience
    return patience is not None and state.bad_epochs >= patience


def stopped_early(state: TrainState, config: TrainConfig) -> bool:
    """Return whether training ended before n_epochs because validation stopped improving."""
    return state.epoch < config.n_epochs and _should_stop(state, config)


def best_model(classes: list[str], state: TrainState) -> Softmax:
    """Return the router of the best epoch's weights."""
    return Softmax(list(classes), state.best_weights, state.best_bias)


def _model(classes: list[str], state: TrainState) -> Softmax:
    """Return the router of the state's current weights (no copy)."""
    return Softmax(classes, state.weights, state.bias)
