"""Every id Tuneloop mints, and the format of each kind: one definition for store and gateway.

Ids become parts of Redis key names (keys.py), so an id from a request is checked against
its kind's format before it reaches the store: "file-…:content" must not name a file's bytes.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass, field

from tuneloop import graph
from tuneloop.contracts import ALIASES, BASELINE_MODEL_ID, JOB_KINDS
from tuneloop.encoder.spec import BASE_MODEL as ENCODER_BASE_MODEL

HEX_DIGITS = 24  # random hex digits after an id's prefix
MODEL_TAIL = 12  # hex digits of its job's id a fine-tuned model id ends with
SUFFIX = r"[a-z0-9][a-z0-9-]{0,39}"  # a job's suffix, part of its model's id


@dataclass(frozen=True)
class IdKind:
    """One kind of id: what a 404 calls it, and the whole id's pattern."""

    name: str
    pattern: str
    regex: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern, re.ASCII))

    @property
    def anchored(self) -> str:
        """The pattern as OpenAPI and marshmallow's Regexp read it: ^(?:...)$."""
        return f"^(?:{self.pattern})$"

    def matches(self, value: str) -> bool:
        """Whether value is an id of this kind (ASCII only, the whole string)."""
        return self.regex.fullmatch(value) is not None


JOB_PREFIXES = tuple(kind.prefix for kind in JOB_KINDS.values())
JOB = IdKind("job", rf"(?:{'|'.join(JOB_PREFIXES)})-[0-9a-f]{{{HEX_DIGITS}}}")
FILE = IdKind("file", rf"file-[0-9a-f]{{{HEX_DIGITS}}}")
INTERACTION = IdKind("interaction", rf"int_[0-9a-f]{{{HEX_DIGITS}}}")
# A fine-tuned model, the built-in baseline, the encoder's base model, or an alias naming a
# model (names of letters, digits and '-': nothing to escape, and the pattern stays valid in
# OpenAPI's regex dialect).
MODEL = IdKind(
    "model",
    rf"ft-(?:{SUFFIX}-)?[0-9a-f]{{{MODEL_TAIL}}}|"
    + "|".join((BASELINE_MODEL_ID, ENCODER_BASE_MODEL, *ALIASES)),
)
AUTOPILOT = IdKind("autopilot", rf"ap-[0-9a-f]{{{HEX_DIGITS}}}")
WEBHOOK = IdKind("webhook", rf"wh_[0-9a-f]{{{HEX_DIGITS}}}")
DELIVERY = IdKind("delivery", rf"whd_[0-9a-f]{{{HEX_DIGITS}}}")
KINDS = (JOB, FILE, INTERACTION, MODEL, AUTOPILOT, WEBHOOK, DELIVERY)
EVENT_PREFIX = "evt_"  # a webhook event's id (no route names one: not a kind)


def _random() -> str:
    """The random part of a new id."""
    return secrets.token_hex(HEX_DIGITS // 2)


def new_job(kind: str) -> str:
    """A new id of a job of kind (one of contracts.JOB_KINDS), with that kind's prefix."""
    return f"{JOB_KINDS[kind].prefix}-{_random()}"


def new_file() -> str:
    """A new file id."""
    return f"file-{_random()}"


def new_autopilot() -> str:
    """A new autopilot id."""
    return f"ap-{_random()}"


def new_interaction() -> str:
    """A new interaction id."""
    return f"int_{_random()}"


def new_webhook() -> str:
    """A new webhook endpoint id."""
    return f"wh_{_random()}"


def new_delivery() -> str:
    """A new webhook delivery id."""
    return f"whd_{_random()}"


def new_event() -> str:
    """A new webhook event id."""
    return f"{EVENT_PREFIX}{_random()}"


def event_for(project: str, key: str) -> str:
    """The id of the project's event named key (the same key, the same id: emitted once)."""
    digest = hashlib.sha256(f"{project}\n{key}".encode()).hexdigest()
    return f"{EVENT_PREFIX}{digest[:HEX_DIGITS]}"


def fine_tuned_model(job_id: str, suffix: str | None) -> str:
    """The id of a fine-tuning job's model (stable across retries: made from the job's id)."""
    tail = job_id.removeprefix(f"{JOB_KINDS[graph.FINE_TUNING].prefix}-")[:MODEL_TAIL]
    return f"ft-{suffix}-{tail}" if suffix else f"ft-{tail}"
