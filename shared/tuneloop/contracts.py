"""The wire contract between gateway and worker: task names, stages, statuses."""

from typing import Final

from tuneloop import graph

RESPOND: Final = "tuneloop.models.respond"

# The stage list is derived from the one declaration of the stage graph.
STAGES: Final = graph.STAGES
KINDS: Final = tuple(graph.PIPELINES)

QUEUED: Final = "queued"
RUNNING: Final = "running"
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"
STATUSES: Final = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
TERMINAL: Final = frozenset({SUCCEEDED, FAILED, CANCELLED})
ACTIVE: Final = (QUEUED, RUNNING)

SOURCES: Final = ("human", "synthetic", "import")
SCORE_SOURCES: Final = ("human", "app", "evaluator")
# The score a job's min_score applies to by default: the interaction's own rating.
RATING_SCORE: Final = "rating"
BASELINE_MODEL_ID: Final = "tuneloop-keyword-baseline"
LATEST_PROMOTED: Final = "latest-promoted"  # the alias a passing job's model becomes the target of
ALIASES: Final = (LATEST_PROMOTED,)  # every alias name the models API answers to
