"""Which side of the split an input is on, computed from (seed, normalized input), never stored.

Every row with the same normalized input lands on the same side, whatever its task type, so
an input is never both trained on and evaluated. With a holdout the unit interval is cut in
three bands: the holdout (evaluated, never seen in training), then the validation band
(early stopping and the validation loss), then training.

A stratified holdout (holdout_per_task, the default evaluation) is not a band: prepare ranks
each task type's distinct inputs by a second hash and holds out the lowest holdout_fraction
of them, at least one of a task type with two or more and never all (see
prepare.StratifiedHoldout); the held inputs' hashes are kept, and every row of a held input
is held out whatever its task type. The others validate or train by the bands without cut.
"""

import hashlib

from tuneloop.text import normalize

DEFAULT_VALIDATION_FRACTION = 0.2
DEFAULT_HOLDOUT_FRACTION = 0.2  # a job given no evaluation set is scored on this share of its rows
TRAIN, VALIDATION, HOLDOUT = "train", "validation", "holdout"
_SCALE = float(2**64)


def unit(text: str, seed: int) -> float:
    """Return a number in [0, 1) fixed by the seed and the normalized input."""
    digest = hashlib.blake2b(f"{seed}\x00{normalize(text)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def in_validation(text: str, seed: int, fraction: float) -> bool:
    """Return whether an input falls in the first `fraction` of the unit interval."""
    return unit(text, seed) < fraction


def holdout_rank(key: str, seed: int) -> int:
    """Return the 64-bit hash a stratified holdout ranks a normalized input by."""
    digest = hashlib.blake2b(f"holdout\x00{seed}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def side_of(text: str, seed: int, holdout: float | None, held: frozenset[int] = frozenset()) -> str:
    """Return TRAIN, VALIDATION or HOLDOUT for an input.

    Without a holdout, DEFAULT_VALIDATION_FRACTION of the inputs validate. With one, the
    holdout comes first and the validation band takes that fraction of the rest, so the
    model is never chosen (early stopping, best epoch) on the rows it is scored on. An input
    whose holdout_rank is in held (a stratified holdout's) is held out.
    """
    if held and holdout_rank(normalize(text), seed) in held:
        return HOLDOUT
    u = unit(text, seed)
    cut = holdout or 0.0
    if u < cut:
        return HOLDOUT
    if u < cut + DEFAULT_VALIDATION_FRACTION * (1.0 - cut):
        return VALIDATION
    return TRAIN
