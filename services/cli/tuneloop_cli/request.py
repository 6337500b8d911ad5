"""A job request built from a JSON file and command-line options (pure functions)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

AUTO = "auto"
NONE = "none"


class Null:
    """An option set to JSON null on purpose (unlike None: not given)."""


NULL = Null()


def patience(text: str | None) -> object:
    """Parse --patience: a number, or "none" (never stop early, JSON null)."""
    if text is None:
        return None
    if text == NONE:
        return NULL
    try:
        return int(text)
    except ValueError:
        raise ValueError(f'{text!r} is neither "none" nor an int') from None


def auto_or(text: str | None, kind: type) -> object:
    """Parse a hyperparameter that may be "auto"; ValueError when it is neither."""
    if text is None or text == AUTO:
        return text
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f'{text!r} is neither "auto" nor a {kind.__name__}') from None


def eval_cases(lines: Iterable[str]) -> list[dict]:
    """Read an eval set from JSONL lines of {input, expected_type, reference_output?}."""
    cases = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"eval set line {number}: not valid JSON ({exc})") from None
        if not isinstance(case, dict):
            raise ValueError(f"eval set line {number}: not a JSON object")
        cases.append(case)
    return cases


def build_request(base: Mapping, options: Mapping[str, object]) -> dict:
    """Return base (a request read from a file) with the options given on the command line.

    Option names are the request's fields; hyperparameters go under "hyperparameters".
    Options left unset (None, or an empty tuple) keep base's value or the API's default.
    """
    request = dict(base)
    hyper = dict(request.get("hyperparameters") or {})
    for name, value in options.items():
        if value is None or value == ():
            continue
        value = None if value is NULL else value
        if name in HYPERPARAMETERS:
            hyper[name] = value
        else:
            request[name] = list(value) if isinstance(value, tuple) else value
    if hyper:
        request["hyperparameters"] = hyper
    return request


HYPERPARAMETERS = (
    "n_epochs",
    "batch_size",
    "learning_rate",
    "seed",
    "l2",
    "early_stopping_patience",
)
