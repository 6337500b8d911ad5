"""Rows of a JSONL or CSV file turned into interactions by a column mapping (pure functions)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

FIELDS = ("input", "output", "rating", "task_type", "source", "metadata", "model")
REQUIRED = ("input", "output", "rating", "task_type")
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}


@dataclass(frozen=True)
class Row:
    """One record of the file: the interaction it maps to, or why it cannot."""

    line: int
    item: dict | None = None
    error: str | None = None


def parse_mapping(specs: Iterable[str]) -> dict[str, str]:
    """Parse "field=column,field=column" (repeatable) into {field: column}; ValueError if bad."""
    mapping: dict[str, str] = {}
    for spec in specs:
        for part in filter(None, (p.strip() for p in spec.split(","))):
            field, sep, column = (s.strip() for s in part.partition("="))
            if not sep or not field or not column:
                raise ValueError(f"{part!r} is not field=column")
            if field not in FIELDS:
                raise ValueError(f"unknown field {field!r}; fields: {', '.join(FIELDS)}")
            mapping[field] = column
    return mapping


def format_of(path: str, given: str | None = None) -> str:
    """Return "jsonl" or "csv": the given format, else the one the file's extension names."""
    if given:
        return given
    for suffix, fmt in FORMATS.items():
        if path.lower().endswith(suffix):
            return fmt
    raise ValueError(f"cannot tell the format of {path!r} from its name; pass --format")


def to_item(record: dict, mapping: dict[str, str], from_csv: bool) -> dict:
    """Map one record's columns to an interaction; ValueError naming what is wrong."""
    item: dict = {}
    for field in FIELDS:
        column = mapping.get(field, field)
        value = record.get(column)
        if value is None or (from_csv and value == "" and field not in REQUIRED):
            if field in REQUIRED:
                raise ValueError(f"{field}: no value in column {column!r}")
            continue
        if from_csv and field == "rating":
            value = _number(value)
        elif from_csv and field == "metadata":
            value = _json_object(value)
        item[field] = value
    return item


def _number(text: str) -> float:
    """Parse a CSV cell as a rating."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"rating: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"rating: {text!r} is not a finite number")
    return value


def _reject_constant(name: str) -> None:
    """Refuse NaN and Infinity, which JSON does not have."""
    raise ValueError(f"{name} is not a JSON number")


def _json_object(text: str) -> object:
    """Parse a CSV cell holding metadata as JSON."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        raise ValueError("metadata: not valid JSON") from None


def jsonl_rows(lines: Iterable[str], mapping: dict[str, str]) -> Iterator[Row]:
    """Yield a Row per non-blank line of JSONL, numbered from 1."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            yield Row(number, error=f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        except ValueError as exc:
            yield Row(number, error=f"not valid JSON ({exc})")
            continue
        if not isinstance(record, dict):
            yield Row(number, error=f"not a JSON object but {type(record).__name__}")
            continue
        yield _mapped(number, record, mapping, from_csv=False)


def csv_rows(lines: Iterable[str], mapping: dict[str, str]) -> Iterator[Row]:
    """Yield a Row per CSV record after the header, numbered by the line it starts on."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        return
    missing = [mapping.get(f, f) for f in REQUIRED if mapping.get(f, f) not in header]
    if missing:
        raise ValueError(f"the CSV header has no column {', '.join(map(repr, missing))}")
    start = reader.line_num + 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            yield Row(line, error=f"{len(cells)} cells, the header has {len(header)}")
            continue
        yield _mapped(line, dict(zip(header, cells, strict=True)), mapping, from_csv=True)


def _mapped(line: int, record: dict, mapping: dict[str, str], from_csv: bool) -> Row:
    """Return the Row of one decoded record."""
    try:
        return Row(line, item=to_item(record, mapping, from_csv))
    except ValueError as exc:
        return Row(line, error=str(exc))


def read_rows(lines: Iterable[str], fmt: str, mapping: dict[str, str]) -> Iterator[Row]:
    """Yield the Rows of a file's text lines in the given format."""
    return csv_rows(lines, mapping) if fmt == "csv" else jsonl_rows(lines, mapping)
