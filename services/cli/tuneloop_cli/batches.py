"""Batches of rows, their Idempotency-Keys, and the API's item errors mapped back to lines."""

from __future__ import annotations

import codecs
import hashlib
import json
import os
from collections.abc import Iterable, Iterator

from tuneloop_cli.bad_rows import Bad, quoted
from tuneloop_cli.rows import Row

BATCH_SIZE = 1000  # the most POST /v1/interactions/batch takes


def batches(rows: Iterable[Row], size: int = BATCH_SIZE) -> Iterator[list[Row]]:
    """Yield consecutive rows (good and bad) in lists of size, the last one shorter."""
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def idempotency_key(items: list[dict], first_line: int) -> str:
    """The key of a batch: a hash of exactly what it sends, and the line the batch starts on.

    A re-run of the same file sends the same batches with the same keys, so the gateway
    answers each one it already stored with its first answer and stores nothing again.
    """
    body = json.dumps(items, sort_keys=True, separators=(",", ":"))  # ASCII: no encoding errors
    digest = hashlib.sha256(body.encode("ascii")).hexdigest()[:40]
    return f"tuneloop-ingest-{digest}-{first_line}"


def flatten(errors: object, prefix: str = "") -> list[tuple[str, str]]:
    """Render a marshmallow error tree as (field path, message) pairs."""
    if isinstance(errors, dict):
        out: list[tuple[str, str]] = []
        for key, value in errors.items():
            out += flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(errors, list) and all(isinstance(e, str) for e in errors):
        return [(prefix, " ".join(errors))]
    return [(prefix, str(errors))]


def item_errors(errors: dict, rows: list[Row]) -> dict[int, list[Bad]]:
    """Map the API's errors by item index ({"items": {"3": {...}}}) to the rows' lines.

    Each problem names its field and quotes the value the row sent there.
    """
    by_item = errors.get("items") if isinstance(errors, dict) else None
    if not isinstance(by_item, dict):
        return {}
    found: dict[int, list[Bad]] = {}
    for index, fields in by_item.items():
        if not (str(index).isdigit() and int(index) < len(rows)):
            continue
        row = rows[int(index)]
        found[row.line] = [
            Bad(row.line, f"{path}: {message}" if path else message, _sent(row, path))
            for path, message in flatten(fields)
        ]
    return found


def _sent(row: Row, path: str) -> str | None:
    """The value the row sent in a top-level field, quoted; None for others."""
    item = row.item or {}
    return quoted(item[path]) if path in item else None


class FileLines:
    """A file's lines as text, counting the bytes read (for a progress bar over any format)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.size = os.path.getsize(path)
        self.done = 0

    def __iter__(self) -> Iterator[str]:
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(handle):
                self.done += len(raw)
                if number == 0 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :]
                # Undecodable bytes become lone surrogates, which the API names per item.
                yield raw.decode("utf-8", "surrogateescape")
