"""The one JSON decoder for client input: request bodies and the lines of uploaded files."""

import json
from typing import Any


class DuplicateKeyError(ValueError):
    """A JSON object names the same key twice."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    """Build a JSON object, refusing a key given twice (json.loads would keep the last)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise DuplicateKeyError(twice)
    return obj


def strict_loads(data: bytes) -> Any:
    """Decode UTF-8 JSON, refusing a repeated key (DuplicateKeyError, a ValueError).

    ValueError for anything else undecodable (bad UTF-8: UnicodeDecodeError, bad JSON:
    JSONDecodeError, an integer too long), RecursionError for nesting too deep.
    """
    return json.loads(data.decode(), object_pairs_hook=_unique_keys)
