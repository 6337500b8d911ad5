"""Fault injection for tests: named points that crash, raise or stall when configured.

Off unless TUNELOOP_FAILPOINTS is set, and the worker refuses to start with it set unless
TUNELOOP_MODE is "test" or "development" (see tuneloop_worker.celery_app). The spec is
"point=action;point=action", e.g. "fine_tune=crash;collect=transient:2;epoch=sleep:0.5".

Points: each stage's name (hit once per start of the stage, with count = that start's
number, 1 for the first), "epoch" (hit after each epoch of fine-tuning, count = the epoch
number), "publish" (just before a model is published, count = 1) and "check_file" (once an
uploaded file's lines are checked, before it is settled, count = 1).

Actions: "crash" exits the process at once (like a kill -9: no cleanup, no ack); "error"
raises RuntimeError; "transient[:N]" raises a Redis ConnectionError while count <= N
(default 1); "sleep:S" sleeps S seconds; "gate:PATH" waits until the file PATH exists (a
test opens the gate when it is ready, instead of racing a sleep), RuntimeError after
GATE_TIMEOUT seconds.
"""

import os
import time
from pathlib import Path

from redis.exceptions import ConnectionError as RedisConnectionError

MODES_ALLOWING = frozenset({"test", "development"})
GATE_TIMEOUT = 300.0
GATE_POLL = 0.01
_points: dict[str, str] = {}


def configure(spec: str, mode: str = "production") -> None:
    """Set the active failpoints; ValueError when spec sets any and mode is not a test mode."""
    points = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        name, _, action = part.partition("=")
        points[name.strip()] = action.strip()
    if points and mode not in MODES_ALLOWING:
        raise ValueError(
            f"TUNELOOP_FAILPOINTS is set ({spec!r}) but TUNELOOP_MODE is {mode!r}: fault "
            f"injection runs only with TUNELOOP_MODE in {sorted(MODES_ALLOWING)}"
        )
    _points.clear()
    _points.update(points)


def hit(name: str, count: int = 1) -> None:
    """Act at point name if it is configured (count: see the module docstring)."""
    if not _points:
        return
    action = _points.get(name)
    if not action:
        return
    kind, _, arg = action.partition(":")
    if kind == "crash":
        os._exit(86)
    elif kind == "transient" and count <= int(arg or 1):
        raise RedisConnectionError(f"failpoint {name}: injected connection error")
    elif kind == "error":
        raise RuntimeError(f"failpoint {name}: injected error")
    elif kind == "sleep":
        time.sleep(float(arg))
    elif kind == "gate":
        wait_for_gate(name, Path(arg))


def wait_for_gate(name: str, path: Path) -> None:
    """Block until the file path exists; RuntimeError after GATE_TIMEOUT seconds."""
    deadline = time.monotonic() + GATE_TIMEOUT
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"failpoint {name}: gate {path} not opened in {GATE_TIMEOUT:g}s")
        time.sleep(GATE_POLL)
