"""An accept-only fast path for the hottest input: rated interactions, one or a thousand.

``interaction(item)`` returns what InteractionInSchema().load(item) returns, for an item it
can tell is valid with plain checks, and None for anything else (then marshmallow runs and
answers with its own messages). It may decline a valid item, never accept an invalid one:
tests/unit/test_trusted_load.py holds it to marshmallow's verdict on valid, invalid and
random items. Text outside ASCII always takes marshmallow's path (its blank check reads
Unicode categories).
"""

import math

from marshmallow import ValidationError

from tuneloop.contracts import ALIASES, SOURCES
from tuneloop.schemas.common import _CONTROL, MAX_TEXT, small_json_object
from tuneloop.schemas.interactions import MAX_MODEL, MODEL_NAME
from tuneloop.schemas.labels import task_type_problem

_FIELDS = frozenset({"input", "output", "rating", "task_type", "source", "metadata", "model"})


def _text(value: object) -> bool:
    """A non-blank ASCII string of 1-MAX_TEXT characters without control characters."""
    return (
        type(value) is str
        and 0 < len(value) <= MAX_TEXT
        and value.isascii()
        and not value.isspace()
        and _CONTROL.search(value) is None
    )


def _metadata(value: object) -> bool:
    """A small JSON object whose keys are 1-64 characters."""
    if type(value) is not dict:
        return False
    if not value:
        return True
    if not all(type(k) is str and 0 < len(k) <= 64 for k in value):
        return False
    try:
        small_json_object(value)
    except ValidationError:
        return False
    return True


def _model(value: object) -> bool:
    """A model's name: 1-MAX_MODEL characters of MODEL_NAME's alphabet, not an alias (null and
    aliases are marshmallow's to refuse)."""
    return (
        type(value) is str
        and 0 < len(value) <= MAX_MODEL
        and MODEL_NAME.regex.fullmatch(value) is not None
        and value not in ALIASES
    )


def interaction(item: object) -> dict | None:
    """Return the loaded item when it is certainly valid, else None (validate it in full)."""
    if type(item) is not dict or not item.keys() <= _FIELDS:
        return None
    text, output = item.get("input"), item.get("output")
    rating, task = item.get("rating"), item.get("task_type")
    if not (_text(text) and _text(output)):
        return None
    # Compared before isfinite: a huge int converts to no float (OverflowError), but compares.
    if type(rating) not in (float, int) or not (0 <= rating <= 1 and math.isfinite(rating)):
        return None
    if type(task) is not str or task_type_problem(task) is not None:
        return None
    source = item.get("source", "human")
    if type(source) is not str or source not in SOURCES:
        return None
    metadata = item.get("metadata", {})
    if not _metadata(metadata):
        return None
    if "model" in item and not _model(item["model"]):
        return None
    loaded = {
        "input": text,
        "output": output,
        "rating": float(rating),
        "task_type": task,
        "source": source,
        "metadata": metadata,
    }
    return {**loaded, "model": item["model"]} if "model" in item else loaded


def batch(body: object, max_items: int) -> dict | None:
    """Return the loaded batch when every item is certainly valid, else None."""
    if type(body) is not dict or body.keys() != {"items"}:
        return None
    items = body["items"]
    if type(items) is not list or not 0 < len(items) <= max_items:
        return None
    loaded = []
    for item in items:
        one = interaction(item)
        if one is None:
            return None
        loaded.append(one)
    return {"items": loaded}


def created(record: dict) -> dict:
    """Return what InteractionSchema().dump(record) returns for a record just stored.

    record is what the store made of an item interaction() returned: its fields and the
    store's id, object, created_at; a new record has no scores and no edit yet, and a model
    only when it names one.
    """
    return {"model": None, **record, "scores": [], "updated_at": None}
