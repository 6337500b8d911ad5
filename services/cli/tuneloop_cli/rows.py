"""Rows of a JSONL or CSV file turned into interactions by a column mapping (pure functions)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from tuneloop_cli.bad_rows import quoted

FIELDS = ("input", "output", "rating", "task_type", "source", "metadata", "model")
REQUIRED = ("input", "output", "rating", "task_type")
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}


@dataclass(frozen=True)
class Row:
    """One record of the file: the interaction it maps to, or why it cannot (and the value)."""

    line: int
    item: dict | None = None
    error: str | None = None
    value: str | None = None  # the offending value, quoted for display


class BadValueError(ValueError):
    """What is wrong with a record, and the offending value (quoted for display)."""

    def __init__(self, message: str, value: object = None) -> None:
        super().__init__(message)
        self.value = None if value is None else quoted(value)


@dataclass(frozen=True)
class Mapping:
    """Where each field comes from: a column of the file, or one value for every row."""

    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, object] = field(default_factory=dict)

    def column(self, name: str) -> str:
        """The column a field is read from (its own name unless mapped)."""
        return self.columns.get(name, name)


def parse_mapping(specs: Iterable[str], sets: Iterable[str] = ()) -> Mapping:
    """Parse --map "field=column,..." and --set "field=value"; ValueError naming what is bad.

    A --map value is always a column's name; a --set value is the value itself, taken whole
    (commas and "=" included), the same for every row.
    """
    columns: dict[str, str] = {}
    for spec in specs:
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, sep, column = (s.strip() for s in part.partition("="))
            if not sep or not name or not column:
                raise ValueError(f"--map {part!r} is not field=column")
            columns[_field(name)] = column
    constants: dict[str, object] = {}
    for spec in sets:
        name, sep, text = spec.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--set {spec!r} is not field=value")
        name = _field(name.strip())
        if name in columns:
            raise ValueError(f"{name} is both mapped to a column (--map) and set (--set)")
        constants[name] = _constant(name, text)
    return Mapping(columns, constants)


def _field(name: str) -> str:
    """The name if it is a field; ValueError listing the fields otherwise."""
    if name not in FIELDS:
        raise ValueError(f"unknown field {name!r}; fields: {', '.join(FIELDS)}")
    return name


def _constant(name: str, text: str) -> object:
    """A --set value as the field takes it: a rating a number, metadata a JSON object."""
    try:
        if name == "rating":
            return _number(text)
        if name == "metadata":
            return _json_object(text)
    except BadValueError as exc:
        raise ValueError(f"--set {exc} — {exc.value}") from None
    return text


def format_of(path: str, given: str | None = None) -> str:
    """Return "jsonl" or "csv": the given format, else the one the file's extension names."""
    if given:
        return given
    for suffix, fmt in FORMATS.items():
        if path.lower().endswith(suffix):
            return fmt
    raise ValueError(f"cannot tell the format of {path!r} from its name; pass --format")


def to_item(record: dict, mapping: Mapping, from_csv: bool) -> dict:
    """Map one record's columns (and the constants) to an interaction; BadValueError if wrong."""
    item: dict = {}
    for name in FIELDS:
        if name in mapping.constants:
            item[name] = mapping.constants[name]
            continue
        column = mapping.column(name)
        value = record.get(column)
        if value is None or (from_csv and value == "" and name not in REQUIRED):
            if name in REQUIRED:
                raise BadValueError(f"{name}: no value in column {column!r}")
            continue
        if from_csv and name == "rating":
            value = _number(value)
        elif from_csv and name == "metadata":
            value = _json_object(value)
        item[name] = value
    return item


def _number(text: str) -> float:
    """Parse a CSV cell (or a --set value) as a rating between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:  # NaN too
        raise BadValueError("rating: not a number between 0 and 1", text)
    return value


def _reject_constant(name: str) -> None:
    """Refuse NaN and Infinity, which JSON does not have."""
    raise ValueError(f"{name} is not a JSON number")


def _json_object(text: str) -> object:
    """Parse a CSV cell holding metadata as JSON."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        raise BadValueError("metadata: not valid JSON", text) from None


def jsonl_rows(lines: Iterable[str], mapping: Mapping) -> Iterator[Row]:
    """Yield a Row per non-blank line of JSONL, numbered from 1."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            yield Row(number, error="not valid JSON", value=f"{exc.msg} at column {exc.colno}")
            continue
        except ValueError as exc:
            yield Row(number, error="not valid JSON", value=str(exc))
            continue
        if not isinstance(record, dict):
            yield Row(number, error="not a JSON object", value=type(record).__name__)
            continue
        yield _mapped(number, record, mapping, from_csv=False)


def csv_rows(lines: Iterable[str], mapping: Mapping) -> Iterator[Row]:
    """Yield a Row per CSV record after the header, numbered by the line it starts on."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        return
    missing = [
        mapping.column(f)
        for f in REQUIRED
        if f not in mapping.constants and mapping.column(f) not in header
    ]
    if missing:
        raise ValueError(
            f"the CSV header has no column {', '.join(map(repr, missing))} (header: "
            f"{', '.join(map(repr, header))}); to give every row one value: --set field=value"
        )
    start = reader.line_num + 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            yield Row(line, error=f"cells: not the header's {len(header)}", value=str(len(cells)))
            continue
        yield _mapped(line, dict(zip(header, cells, strict=True)), mapping, from_csv=True)


def _mapped(line: int, record: dict, mapping: Mapping, from_csv: bool) -> Row:
    """Return the Row of one decoded record."""
    try:
        return Row(line, item=to_item(record, mapping, from_csv))
    except BadValueError as exc:
        return Row(line, error=str(exc), value=exc.value)


def read_rows(lines: Iterable[str], fmt: str, mapping: Mapping) -> Iterator[Row]:
    """Yield the Rows of a file's text lines in the given format."""
    return csv_rows(lines, mapping) if fmt == "csv" else jsonl_rows(lines, mapping)
