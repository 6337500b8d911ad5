"""A job's request as the stages read it: one typed value built from the stored dict.

The gateway stores the request its schema loaded (JobInSchema, or the evaluation schema);
a request stored by an older gateway may lack later fields, and each field's default here is
what such a request meant. Keys the stages never read (metadata, eval_set) are left out.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from tuneloop.contracts import BASELINE_MODEL_ID, RATING_SCORE
from tuneloop.stages.evaluate import asks_for_lab_cases


@dataclass(frozen=True)
class JobRequest:
    """What a job asked for; fine-tuning jobs fill the first part, evaluation jobs the last."""

    model: str = BASELINE_MODEL_ID  # the base model whose kind trains the job
    method: str = "supervised"  # or "dpo" (a language model's preference pairs)
    min_gap: float = 0.5  # dpo from ratings: the least rating gap of a pair
    min_score: float = 0.8
    score_name: str = RATING_SCORE
    task_types: frozenset[str] | None = None  # None: every task type
    include_synthetic: bool = False
    holdout_fraction: float | None = None
    holdout_per_task: bool = False
    lab_eval_set: bool = False  # resolved for requests stored before the field existed
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)  # as requested ("auto")
    eval_set_size: int = 0  # 0: the request gave no eval set
    suffix: str | None = None
    training_file: str | None = None
    out_of_scope_task: str | None = None
    abstain_threshold: float | None = None
    max_in_scope_loss: float | None = None
    promote_if: tuple[dict, ...] = ()
    # evaluation jobs: the two models (resolved ids) and the bootstrap's seed
    model_a: str | None = None
    model_b: str | None = None
    seed: int | None = None

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> "JobRequest":
        """Build the request from the dict the job record holds."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in stored.items() if k in known and v is not None}
        if "task_types" in values:
            values["task_types"] = frozenset(values["task_types"]) or None
        values["promote_if"] = tuple(values.get("promote_if") or ())
        values["lab_eval_set"] = asks_for_lab_cases(dict(stored))
        return cls(**values)


def request_of(job: Mapping[str, Any]) -> JobRequest:
    """Return a job record's request, typed."""
    return JobRequest.from_stored(job["request"])
