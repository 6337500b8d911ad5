"""A job's record as stored: its fields, its eval set in chunks, and the job made from them."""

import json

from tuneloop import graph
from tuneloop.store.keys import DEFAULT_PROJECT

# Bytes of eval cases per element of the eval-set list (a JSON array): every element stays
# near 1 MiB, and a few large elements read back faster than one element a case.
EVAL_SET_CHUNK_BYTES = 1 << 20
# The fields a job is read with (the record also keeps its owner, and an ended job its answer).
FIELDS = (
    "id",
    "object",
    "kind",
    "status",
    "stage",
    "created_at",
    "started_at",
    "finished_at",
    "request",
    "result",
    "error",
    "snapshot_seq",
    "total_steps",
    "model_id",
    "hyperparameters",
    "project",
    "autopilot_id",
)
STATUS = FIELDS.index("status")
PROJECT = FIELDS.index("project")


def job(values: list, done: int, deliveries: dict, listed: list[str] | None) -> dict:
    """Build a job from its fields' values, its steps done and deliveries."""
    found = {
        k: json.loads(v) if v is not None else None for k, v in zip(FIELDS, values, strict=True)
    }
    found["kind"] = found["kind"] or graph.FINE_TUNING  # stored before evaluation jobs existed
    found["project"] = found["project"] or DEFAULT_PROJECT  # stored before projects existed
    found["request"] = _with_eval_set(found["request"], listed)
    total = found.pop("total_steps") or 1
    current = min(int(done), total)
    found["progress"] = {
        "current": current,
        "total": total,
        "percent": round(100.0 * current / total, 1),
    }
    found["deliveries"] = {
        k.removesuffix(":started"): int(v)
        for k, v in sorted(deliveries.items())
        if k.endswith(":started")
    }
    return found


def _with_eval_set(request: dict, listed: list[str] | None) -> dict:
    """Show the request's eval set by its size, and by its cases when they were read (listed)."""
    inline = request.pop("eval_set", None)  # a job stored before eval sets had their own key
    if inline is not None:
        request["eval_set_size"] = len(inline)
    if listed is not None and request.get("eval_set_size"):
        if inline is not None:
            request["eval_set"] = inline
        else:  # None: a failed or cancelled job's eval set expired
            request["eval_set"] = decode_eval_set(listed) if listed else None
    return request


def encode_eval_set(cases: list[dict]) -> list[str]:
    """Encode cases as JSON arrays of about EVAL_SET_CHUNK_BYTES each, in order."""
    found: list[str] = []
    part: list[str] = []
    size = 0
    for case in cases:
        part.append(json.dumps(case))
        size += len(part[-1]) + 1
        if size >= EVAL_SET_CHUNK_BYTES:
            found.append(f"[{','.join(part)}]")
            part, size = [], 0
    return [*found, f"[{','.join(part)}]"] if part else found


def decode_eval_set(chunks: list[str]) -> list[dict]:
    """Return the cases of an eval set stored as JSON arrays, in order."""
    return [case for chunk in chunks for case in json.loads(chunk)]
