"""Where the CLI writes: results on stdout, progress and diagnostics on stderr."""

from __future__ import annotations

import json
import os
import sys
import time

import click
from rich.console import Console


def _width(stream: object) -> int | None:
    """Let a terminal (or COLUMNS) set the width; give pipes and files wide lines."""
    isatty = getattr(stream, "isatty", None)
    return None if os.environ.get("COLUMNS") or (isatty and isatty()) else 200


out = Console(highlight=False, width=_width(sys.stdout))
err = Console(stderr=True, highlight=False, width=_width(sys.stderr))

# Exit codes besides click's own (1: an error, 2: a usage error).
EXIT_JOB_FAILED = 3
EXIT_JOB_CANCELLED = 4
EXIT_INTERRUPTED = 130


def print_json(value: object) -> None:
    """Write a JSON document to stdout, as the API gave it."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))


def when(seconds: int | None) -> str:
    """Render Unix seconds as local time, or "-"."""
    if not seconds:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))
