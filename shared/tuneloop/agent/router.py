"""The task router: a linear classifier over text features, trained epoch by epoch."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.linear_model import SGDClassifier

from tuneloop.agent.features import N_FEATURES


@dataclass(frozen=True)
class Hyperparameters:
    """How the router is trained."""

    n_epochs: int = 20
    learning_rate: float = 0.5
    batch_size: int = 32
    seed: int = 42


@dataclass
class Router:
    """Weights of a one-vs-rest logistic router; inference needs only numpy."""

    classes: list[str]
    coef: np.ndarray
    intercept: np.ndarray

    def proba(self, features: sp.csr_matrix) -> np.ndarray:
        """Return class probabilities, computed as scikit-learn's SGDClassifier does."""
        scores = np.asarray(features @ self.coef.T) + self.intercept
        if len(self.classes) == 2:
            positive = expit(scores[:, 0])
            return np.column_stack([1.0 - positive, positive])
        prob = expit(scores)
        return prob / prob.sum(axis=1, keepdims=True)

    def to_dict(self) -> dict:
        """Return the weights as JSON-able data, keeping only non-zero coefficients."""
        rows = []
        for row in self.coef:
            idx = np.flatnonzero(row)
            rows.append({"index": idx.tolist(), "value": row[idx].tolist()})
        return {"classes": self.classes, "coef": rows, "intercept": self.intercept.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> "Router":
        """Rebuild a router from the output of to_dict."""
        coef = np.zeros((len(data["coef"]), N_FEATURES))
        for r, row in enumerate(data["coef"]):
            coef[r, row["index"]] = row["value"]
        return cls(list(data["classes"]), coef, np.asarray(data["intercept"], dtype=float))


def log_loss(router: Router, features: sp.csr_matrix, labels: Sequence[str]) -> float:
    """Return the mean cross-entropy of the router on labelled rows."""
    proba = np.clip(router.proba(features), 1e-15, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    column = {c: i for i, c in enumerate(router.classes)}
    picked = proba[np.arange(len(labels)), [column[y] for y in labels]]
    return float(-np.mean(np.log(picked)))


EpochCallback = Callable[[int, float, float | None], None]
CheckpointCallback = Callable[[dict], None]


def _restore(clf: SGDClassifier, checkpoint: dict) -> int:
    """Put a checkpoint's weights back into clf; return the last epoch it completed."""
    router = Router.from_dict(checkpoint["router"])
    clf.classes_ = np.asarray(router.classes)
    clf.coef_, clf.intercept_ = router.coef, router.intercept
    clf.t_, clf.n_features_in_ = checkpoint["t"], N_FEATURES
    return int(checkpoint["epoch"])


def train_router(
    features: sp.csr_matrix,
    labels: Sequence[str],
    hp: Hyperparameters,
    validation: tuple[sp.csr_matrix, Sequence[str]] | None = None,
    on_epoch: EpochCallback | None = None,
    resume: dict | None = None,
    on_checkpoint: CheckpointCallback | None = None,
) -> Router:
    """Train with SGD on log-loss epoch by epoch; resume from a checkpoint when given.

    Each epoch's order comes from (seed, epoch) alone, so a run resumed after epoch k ends
    with the same weights as one that never stopped.
    """
    classes = sorted(set(labels) | set(validation[1] if validation else ()))
    if len(classes) < 2:
        raise ValueError(f"need at least two task types to train a router, got {classes}")
    y = np.asarray(labels)
    clf = SGDClassifier(
        loss="log_loss",
        learning_rate="constant",
        eta0=hp.learning_rate,
        alpha=1e-5,
        random_state=hp.seed,
    )
    first = _restore(clf, resume) + 1 if resume else 1
    router = Router.from_dict(resume["router"]) if resume else None
    for epoch in range(first, hp.n_epochs + 1):
        order = np.random.default_rng([hp.seed, epoch]).permutation(len(y))
        for start in range(0, len(order), hp.batch_size):
            batch = order[start : start + hp.batch_size]
            clf.partial_fit(features[batch], y[batch], classes=classes)
        router = Router(list(clf.classes_), clf.coef_.copy(), clf.intercept_.copy())
        train_loss = log_loss(router, features, labels)
        val_loss = log_loss(router, *validation) if validation and validation[1] else None
        if on_epoch:
            on_epoch(epoch, train_loss, val_loss)
        if on_checkpoint:
            on_checkpoint({"epoch": epoch, "t": float(clf.t_), "router": router.to_dict()})
    assert router is not None
    return router
