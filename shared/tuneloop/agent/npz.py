"""Binary artifacts as numpy .npz archives (no pickle): named arrays plus a JSON header."""

import io
import json

import numpy as np

_HEADER = "__header__"


def dump(arrays: dict[str, np.ndarray], header: dict) -> bytes:
    """Return arrays and a JSON-able header as .npz bytes."""
    buffer = io.BytesIO()
    raw = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(buffer, **arrays, **{_HEADER: raw})
    return buffer.getvalue()


def load(data: bytes) -> tuple[dict[str, np.ndarray], dict]:
    """Return the arrays and the header of .npz bytes written by dump."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files if name != _HEADER}
        header = json.loads(archive[_HEADER].tobytes()) if _HEADER in archive.files else {}
    return arrays, header
