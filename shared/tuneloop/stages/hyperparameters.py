"""Resolve "auto" training controls from the size of the training data."""

import math

from tuneloop.graph import AUTO

# Examples seen over a whole run when n_epochs is auto, and its bounds.
TARGET_EXAMPLES_SEEN = 150_000
MIN_EPOCHS, MAX_EPOCHS = 3, 30
# Rows per batch when batch_size is auto: about n / 300, as a power of two in these bounds.
ROWS_PER_STEP_DIVISOR = 300
MIN_BATCH, MAX_BATCH = 16, 512
# AdaGrad step size at 32 rows a batch; auto grows it with the square root of the batch.
BASE_LEARNING_RATE, BASE_BATCH = 0.2, 32
DEFAULT_L2 = 1e-6
DEFAULT_PATIENCE = 3


def resolve(requested: dict, n_train: int) -> dict:
    """Return every control with "auto" replaced by its value for n_train training rows."""
    n = max(n_train, 1)
    out = dict(requested)
    if out.get("batch_size", AUTO) == AUTO:
        power = round(math.log2(max(n / ROWS_PER_STEP_DIVISOR, 1)))
        out["batch_size"] = min(max(2**power, MIN_BATCH), MAX_BATCH)
    if out.get("learning_rate", AUTO) == AUTO:
        scale = out.get("learning_rate_multiplier") or 1.0
        out["learning_rate"] = round(
            scale * BASE_LEARNING_RATE * math.sqrt(out["batch_size"] / BASE_BATCH), 4
        )
    if out.get("n_epochs", AUTO) == AUTO:
        out["n_epochs"] = min(max(math.ceil(TARGET_EXAMPLES_SEEN / n), MIN_EPOCHS), MAX_EPOCHS)
    out.setdefault("l2", DEFAULT_L2)
    out.setdefault("early_stopping_patience", DEFAULT_PATIENCE)
    out.setdefault("seed", 42)
    return out


def auto_fields(requested: dict) -> list[str]:
    """Return the names of the controls the request left to "auto"."""
    return sorted(
        k for k in ("n_epochs", "learning_rate", "batch_size") if requested.get(k, AUTO) == AUTO
    )
