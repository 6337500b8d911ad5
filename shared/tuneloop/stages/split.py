"""Which side of the split an input is on, computed from (seed, normalized input), never stored.

Every row with the same normalized input lands on the same side, whatever its task type, so
an input is never both trained on and evaluated. With a holdout the unit interval is cut in
three bands: the holdout (evaluated, never seen in training), then the validation band
(early stopping and the validation loss), then training. A few inputs may be held out
whatever their band ("forced", chosen at prepare, see prepare.SplitCounter): one for each
task type with two or more distinct inputs that the bands alone left without a held-out row.
"""

import hashlib

from tuneloop.text import normalize

DEFAULT_VALIDATION_FRACTION = 0.2
DEFAULT_HOLDOUT_FRACTION = 0.2  # a job given no evaluation set is scored on this share of its rows
TRAIN, VALIDATION, HOLDOUT = "train", "validation", "holdout"
_SCALE = float(2**64)


def unit(text: str, seed: int) -> float:
    """Return a number in [0, 1) fixed by the seed and the normalized input."""
    return unit_of_normalized(normalize(text), seed)


def unit_of_normalized(key: str, seed: int) -> float:
    """Return unit() of an input already normalized."""
    digest = hashlib.blake2b(f"{seed}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def in_validation(text: str, seed: int, fraction: float) -> bool:
    """Return whether an input falls in the first `fraction` of the unit interval."""
    return unit(text, seed) < fraction


def side_of(
    text: str, seed: int, holdout: float | None, forced: frozenset[str] = frozenset()
) -> str:
    """Return TRAIN, VALIDATION or HOLDOUT for an input.

    Without a holdout, DEFAULT_VALIDATION_FRACTION of the inputs validate. With one, the
    holdout comes first and the validation band takes that fraction of the rest, so the
    model is never chosen (early stopping, best epoch) on the rows it is scored on. The
    forced inputs (normalized) are held out whatever their band.
    """
    key = normalize(text)
    return band(unit_of_normalized(key, seed), holdout, key in forced)


def band(u: float, holdout: float | None, forced: bool = False) -> str:
    """Return the side of an input whose unit() is u (HOLDOUT when it is forced there)."""
    cut = holdout or 0.0
    if u < cut or forced:
        return HOLDOUT
    if u < cut + DEFAULT_VALIDATION_FRACTION * (1.0 - cut):
        return VALIDATION
    return TRAIN
