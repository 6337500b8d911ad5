"""Train / validation membership, computed from (seed, normalized input) rather than stored."""

import hashlib

from tuneloop.stages.text import normalize

DEFAULT_VALIDATION_FRACTION = 0.2
_SCALE = float(2**64)


def in_validation(text: str, seed: int, fraction: float) -> bool:
    """Return whether an input belongs to the validation side.

    Every row with the same normalized input lands on the same side, whatever its task type,
    so an input is never both trained on and evaluated.
    """
    digest = hashlib.blake2b(f"{seed}\x00{normalize(text)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE < fraction
