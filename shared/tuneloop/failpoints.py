"""Fault injection for tests: named points that crash, raise or stall when configured.

Configured once at worker start from TUNELOOP_FAILPOINTS, e.g.
"fine_tune=crash;collect=transient:2;epoch=sleep:0.5". Unset in production: every hit is a no-op.
"""

import os
import time

from redis.exceptions import ConnectionError as RedisConnectionError

_points: dict[str, str] = {}


def configure(spec: str) -> None:
    """Set the active failpoints from a 'name=action;name=action' string."""
    _points.clear()
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        name, _, action = part.partition("=")
        _points[name.strip()] = action.strip()


def hit(name: str, delivery: int = 1) -> None:
    """Act at point name if configured; delivery is how often the stage has started."""
    action = _points.get(name)
    if not action:
        return
    kind, _, arg = action.partition(":")
    if kind == "crash":
        os._exit(86)  # like a segfault or an OOM kill: no cleanup, no ack
    elif kind == "transient" and delivery <= int(arg or 1):
        raise RedisConnectionError(f"failpoint {name}: injected connection error")
    elif kind == "error":
        raise RuntimeError(f"failpoint {name}: injected error")
    elif kind == "sleep":
        time.sleep(float(arg))
