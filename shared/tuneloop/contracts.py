"""The wire contract between gateway and worker: task names, stages, statuses."""

from typing import Final

TASK_PREFIX: Final = "tuneloop.stages."
COLLECT: Final = "tuneloop.stages.collect"
FILTER: Final = "tuneloop.stages.filter"
PREPARE: Final = "tuneloop.stages.prepare"
EVALUATE_BASELINE: Final = "tuneloop.stages.evaluate_baseline"
FINE_TUNE: Final = "tuneloop.stages.fine_tune"
EVALUATE_FINE_TUNED: Final = "tuneloop.stages.evaluate_fine_tuned"
COMPARE: Final = "tuneloop.stages.compare"
RESPOND: Final = "tuneloop.models.respond"

STAGES: Final = (
    "collect",
    "filter",
    "prepare",
    "evaluate_baseline",
    "fine_tune",
    "evaluate_fine_tuned",
    "compare",
)

QUEUED: Final = "queued"
RUNNING: Final = "running"
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"
STATUSES: Final = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
TERMINAL: Final = frozenset({SUCCEEDED, FAILED, CANCELLED})

SOURCES: Final = ("human", "synthetic", "import")
BASELINE_MODEL_ID: Final = "tuneloop-keyword-baseline"
