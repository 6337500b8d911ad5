"""The wire contract between gateway and worker: task names, stages, statuses."""

from dataclasses import dataclass
from typing import Final

from tuneloop import graph

RESPOND: Final = "tuneloop.models.respond"
# A language model's chat completion, streamed back in pieces (queue tuneloop.llm.interactive).
LLM_CHAT: Final = "tuneloop.llm.chat"
# A deleted model's adapter files, or a deleted job's checkpoints (args: the id, the key prefix).
LLM_DELETE_FILES: Final = "tuneloop.llm.delete_files"
CHECK_FILE: Final = "tuneloop.files.check"  # an uploaded file's lines, off the request path
# The scheduler's pass over every autopilot (tuneloop.autopilot.tick), sent by Celery beat.
AUTOPILOT_TICK: Final = "tuneloop.autopilot.tick"
# A webhook delivery's attempt (args: the delivery id, its claim's token), and the periodic
# send of the deliveries whose retry is due; both on the webhooks queue.
WEBHOOK_DELIVER: Final = "tuneloop.webhooks.deliver"
WEBHOOK_DISPATCH: Final = "tuneloop.webhooks.dispatch"

# The stage list is derived from the one declaration of the stage graph.
STAGES: Final = graph.STAGES
KINDS: Final = tuple(graph.PIPELINES)


@dataclass(frozen=True)
class JobKind:
    """What a kind of job is called on the wire: its ids' prefix and its API object name."""

    prefix: str
    object: str


# Each job kind (a pipeline of the graph) as the wire names it: the one place its ids' prefix
# and object name are spelled (store.ids derives the job id format from it).
JOB_KINDS: Final = {
    graph.FINE_TUNING: JobKind("ftjob", "fine_tuning.job"),
    graph.EVALUATION: JobKind("evaljob", "evaluation.job"),
}

QUEUED: Final = "queued"
RUNNING: Final = "running"
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"
# A pause asked of a running job: it stops at its next stage, epoch or step boundary (with a
# checkpoint), then is paused. A paused job holds no worker, no lease and no message.
PAUSING: Final = "pausing"
PAUSED: Final = "paused"
STATUSES: Final = (QUEUED, RUNNING, PAUSING, PAUSED, SUCCEEDED, FAILED, CANCELLED)
TERMINAL: Final = frozenset({SUCCEEDED, FAILED, CANCELLED})
# An autopilot's status: it starts runs and rolls back, or does nothing until resumed.
AUTOPILOT_ACTIVE: Final = "active"
AUTOPILOT_PAUSED: Final = "paused"
AUTOPILOT_STATUSES: Final = (AUTOPILOT_ACTIVE, AUTOPILOT_PAUSED)
# Not ended: each counts toward the active-job quota and holds its interaction snapshot.
ACTIVE: Final = (QUEUED, RUNNING, PAUSING, PAUSED)
# Carried on by a message or a runner: the sweeper sends such a job again when neither is left.
RUNNABLE: Final = (QUEUED, RUNNING)
# Halted by a pause: no stage starts until the job is resumed.
HALTED: Final = frozenset({PAUSING, PAUSED})

# A webhook delivery's status: waiting for an attempt (or retrying), answered 2xx, given up.
DELIVERY_PENDING: Final = "pending"
DELIVERY_SUCCEEDED: Final = "succeeded"
DELIVERY_FAILED: Final = "failed"
DELIVERY_STATUSES: Final = (DELIVERY_PENDING, DELIVERY_SUCCEEDED, DELIVERY_FAILED)

# An uploaded file's status, as OpenAI's file object has it: stored, then checked.
FILE_UPLOADED: Final = "uploaded"
FILE_PROCESSED: Final = "processed"
FILE_ERROR: Final = "error"

SOURCES: Final = ("human", "synthetic", "import")
SCORE_SOURCES: Final = ("human", "app", "evaluator")
# The score a job's min_score applies to by default: the interaction's own rating.
RATING_SCORE: Final = "rating"
BASELINE_MODEL_ID: Final = "tuneloop-keyword-baseline"
LATEST_PROMOTED: Final = "latest-promoted"  # the alias a passing job's model becomes the target of
ALIASES: Final = (LATEST_PROMOTED,)  # every alias name the models API answers to
