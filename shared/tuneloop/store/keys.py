"""Every Redis key Tuneloop writes, in one place.

A project's own records (its interactions and their versions and audit trails, its aliases,
and its lists of jobs, files and models) live in its key space (:class:`Space`). The
``default`` project's space is the key layout from before projects, so data stored then is
the default project's where it lies; any other project's keys begin ``tuneloop:p:{name}:``.
Jobs, files and models are kept under their (random, global) ids with the project they
belong to in their record; only their per-project lists are in the space.
"""

from dataclasses import dataclass
from functools import cached_property

PREFIX = "tuneloop"
DEFAULT_PROJECT = "default"

PROJECTS = f"{PREFIX}:projects"  # the set of the projects' names (the sweeper visits each)
LAYOUT = f"{PREFIX}:layout"  # the layout version the migration (store/projects.py) reached
JOB_SEQ = f"{PREFIX}:seq:jobs"
JOBS = f"{PREFIX}:jobs"
JOB_STATUS_INDEXED = f"{PREFIX}:jobs:status-indexed"
# Failed or cancelled jobs whose bulk data expires (score: when), until the sweeper has taken
# its bytes out of their project's usage (store/lua/job_settle.lua).
JOBS_EXPIRING = f"{PREFIX}:jobs:expiring"
# Set once every failed or cancelled job stored before their bulk data expired was given its
# expiry (Store.expire_ended_jobs_once).
JOBS_EXPIRY_APPLIED = f"{PREFIX}:jobs:expiry-applied"
MODELS = f"{PREFIX}:models"
AUTOPILOTS = f"{PREFIX}:autopilots"  # every project's autopilots (score: sequence number)
AUTOPILOT_SEQ = f"{PREFIX}:seq:autopilots"
SWEEPER = f"{PREFIX}:sweeper"  # the worker holding the sweeper's seat
SWEEP_SUSPECTS = f"{PREFIX}:sweeper:suspects"  # job id -> when first seen orphaned
# The embedding cache's index: entry key -> its expiry time (tuneloop.store.embeddings).
EMBEDDING_INDEX = f"{PREFIX}:emb:index"
RATE_LIMITS = f"{PREFIX}:ratelimit"  # the prefix of the limits library's counters
READY_PROBE = f"{PREFIX}:readyz:probe"  # /readyz writes it to learn whether Redis takes writes
# kombu's Redis transport: delivered, unacknowledged messages by delivery tag, and their
# delivery times (the restore sweep hands back those older than the visibility timeout).
KOMBU_UNACKED = "unacked"
KOMBU_UNACKED_INDEX = "unacked_index"


def job(jid: str) -> str:
    """Key of one job's hash."""
    return f"{PREFIX}:job:{jid}"


def job_status_index(status: str) -> str:
    """Key of the sorted set of the jobs in one status (score: the job's sequence number)."""
    return f"{PREFIX}:jobs:status:{status}"


def jobs_of_owner(owner: str) -> str:
    """Key of the sorted set of the jobs an API key name created (score: job sequence)."""
    return f"{PREFIX}:jobs:owner:{owner}"


def job_events(jid: str) -> str:
    """Key of one job's event stream."""
    return f"{PREFIX}:job:{jid}:events"


def job_eval_set(jid: str) -> str:
    """Key of the list of the cases a job was created with (JSON arrays of about 1 MiB)."""
    return f"{PREFIX}:job:{jid}:eval-set"


def job_event_keys(jid: str) -> str:
    """Key of the set of event keys already written, so redelivery adds none twice."""
    return f"{PREFIX}:job:{jid}:event-keys"


def job_steps(jid: str) -> str:
    """Key of the set of completed progress steps."""
    return f"{PREFIX}:job:{jid}:steps"


def artifact(jid: str, name: str) -> str:
    """Key of one artifact of a job."""
    return f"{PREFIX}:job:{jid}:artifact:{name}"


def job_artifacts(jid: str) -> str:
    """Key of the set of a job's artifact names."""
    return f"{PREFIX}:job:{jid}:artifacts"


def model(mid: str) -> str:
    """Key of one model's weights and memory."""
    return f"{PREFIX}:model:{mid}"


def model_meta(mid: str) -> str:
    """Key of one model's public description."""
    return f"{PREFIX}:model-meta:{mid}"


def lease(jid: str, stage: str) -> str:
    """Key of the lease on one stage of a job."""
    return f"{PREFIX}:job:{jid}:lease:{stage}"


def job_cases(jid: str, outcome: str) -> str:
    """Key of the list of a job's evaluation cases with one outcome (e.g. regressed)."""
    return f"{PREFIX}:job:{jid}:cases:{outcome}"


def job_deliveries(jid: str) -> str:
    """Key of the hash counting, per stage, how often it started and how often it ended."""
    return f"{PREFIX}:job:{jid}:deliveries"


def reply(token: str) -> str:
    """Key of the list a worker pushes one model answer to."""
    return f"{PREFIX}:reply:{token}"


def idempotency(scope: str, key: str) -> str:
    """Key of a stored response for an Idempotency-Key."""
    return f"{PREFIX}:idempotency:{scope}:{key}"


# Pipeline metrics, summed over every worker (read by the gateway's metrics server).
METRICS_STAGE_SECONDS = f"{PREFIX}:metrics:stage-seconds"  # "{stage}|{le}" counts, "{stage}|sum"
METRICS_STAGE_RETRIES = f"{PREFIX}:metrics:stage-retries"  # "{stage}|{reason}" -> count
METRICS_STAGE_CRASHES = f"{PREFIX}:metrics:stage-crashes"  # stage -> count
METRICS_TRAINING = f"{PREFIX}:metrics:training"  # epochs, epoch_seconds, last_epochs_per_second


FILES = f"{PREFIX}:files"  # sorted set of file ids (score: the file's sequence number)
# Files waiting for their check (score: when they were uploaded), and how often the sweeper
# sent a check again for each (store/files.py stale_uploads).
FILES_UPLOADED = f"{PREFIX}:files:uploaded"
FILE_CHECK_SENDS = (
    f"{PREFIX}:files:check-sends"  # sorted set of file ids (score: the file's sequence number)
)
FILE_SEQ = f"{PREFIX}:seq:files"


def file(fid: str) -> str:
    """Key of one uploaded file's record (JSON)."""
    return f"{PREFIX}:file:{fid}"


def file_content(fid: str) -> str:
    """Key of one uploaded file's manifest: its chunks, its size, whether they are compressed.

    (A file stored before chunks holds its zlib-compressed bytes here instead.)
    """
    return f"{PREFIX}:file:{fid}:content"


def file_chunk(fid: str, generation: str, index: int) -> str:
    """Key of one chunk of a file's bytes, as uploaded or compressed (one generation each)."""
    return f"{PREFIX}:file:{fid}:chunk:{generation}:{index}"


def file_jobs(fid: str) -> str:
    """Key of the set of the jobs that train or evaluate on a file."""
    return f"{PREFIX}:file:{fid}:jobs"


WEBHOOK_SEQ = f"{PREFIX}:seq:webhooks"
WEBHOOK_DELIVERY_SEQ = f"{PREFIX}:seq:webhook-deliveries"
# Deliveries waiting for an attempt (score: when it is due) or in one (score: when its claim
# ends, see store/webhooks.py), and the token of the claim that holds each delivery in one.
WEBHOOKS_DUE = f"{PREFIX}:webhooks:due"
WEBHOOKS_CLAIMS = f"{PREFIX}:webhooks:claims"


def webhook(wid: str) -> str:
    """Key of one webhook endpoint's record (JSON, with its signing secret)."""
    return f"{PREFIX}:webhook:{wid}"


def webhook_deliveries(wid: str) -> str:
    """Key of the sorted set of an endpoint's deliveries (score: the delivery's sequence)."""
    return f"{PREFIX}:webhook:{wid}:deliveries"


def webhook_delivery(did: str) -> str:
    """Key of one webhook delivery's record (JSON: the event's body, status and attempts)."""
    return f"{PREFIX}:webhook-delivery:{did}"


def webhook_event(eid: str) -> str:
    """Key that marks a webhook event as emitted, so it is emitted once (it expires)."""
    return f"{PREFIX}:webhook-event:{eid}"


def embedding(tag: str, digest: str) -> str:
    """Key of one cached embedding: an encoder's tag and the digest of a normalised text."""
    return f"{PREFIX}:emb:{tag}:{digest}"


def job_parts_done(jid: str, stage: str) -> str:
    """Key of the set of the parts of a fanned-out stage that are done (their indexes)."""
    return f"{PREFIX}:job:{jid}:parts:{stage}:done"


def job_part_runs(jid: str, stage: str) -> str:
    """Key of the hash of what each done part of a fanned-out stage reported (index -> JSON)."""
    return f"{PREFIX}:job:{jid}:parts:{stage}:runs"


def autopilot(aid: str) -> str:
    """Key of an autopilot's hash (field -> JSON value)."""
    return f"{PREFIX}:autopilot:{aid}"


def autopilot_runs(aid: str) -> str:
    """Key of an autopilot's list of runs (JSON, newest first, bounded)."""
    return f"{PREFIX}:autopilot:{aid}:runs"


@dataclass(frozen=True)
class Space:
    """The keys of one project's own records."""

    project: str = DEFAULT_PROJECT

    @cached_property
    def prefix(self) -> str:
        """The start of every key in this space."""
        return PREFIX if self.project == DEFAULT_PROJECT else f"{PREFIX}:p:{self.project}"

    @cached_property
    def interaction_seq(self) -> str:
        """The interactions' sequence (a job's snapshot is a number of it)."""
        return f"{self.prefix}:seq:interactions"

    @cached_property
    def interactions(self) -> str:
        """The sorted set of live interaction ids (score: creation sequence)."""
        return f"{self.prefix}:interactions"

    @cached_property
    def task_counts(self) -> str:
        """The hash of live interactions per task type."""
        return f"{self.prefix}:stats:tasks"

    @cached_property
    def rating_counts(self) -> str:
        """The hash of live interactions per rating bucket."""
        return f"{self.prefix}:stats:ratings"

    @cached_property
    def versions(self) -> tuple[str, str, str, str, str, str]:
        """The version keys (see store/versions.py): born, history, ended, bodies, deleted,
        reclaimed."""
        names = ("born", "history", "ended", "bodies", "deleted", "reclaimed")
        return tuple(f"{self.prefix}:interactions:{n}" for n in names)  # type: ignore[return-value]

    def interaction(self, iid: str) -> str:
        """Key of one interaction's JSON."""
        return f"{self.prefix}:interaction:{iid}"

    def interaction_events(self, iid: str) -> str:
        """Key of one interaction's audit stream (bounded): who changed what, and when."""
        return f"{self.prefix}:interaction:{iid}:events"

    def interactions_of_task(self, task_type: str) -> str:
        """Key of the sorted set of one task type's interaction ids."""
        return f"{self.prefix}:interactions:task:{task_type}"

    def interactions_of_model(self, model: str) -> str:
        """Key of the sorted set of the ids of one model's interactions (score: creation
        sequence)."""
        return f"{self.prefix}:interactions:model:{model}"

    @cached_property
    def interactions_added(self) -> str:
        """The count of interactions ever added (deletes never lower it; edits never move it)."""
        return f"{self.prefix}:interactions:added"

    def model_alias(self, name: str) -> str:
        """Key of an alias naming one of the project's models (e.g. latest-promoted)."""
        return f"{self.prefix}:model-alias:{name}"

    @cached_property
    def usage(self) -> str:
        """The hash of the project's stored bytes and counts (store/budget.py)."""
        return f"{self.prefix}:project:usage"

    @cached_property
    def jobs(self) -> str:
        """The sorted set of the project's jobs (score: the job's sequence number)."""
        return f"{self.prefix}:project:jobs"

    @cached_property
    def files(self) -> str:
        """The sorted set of the project's files (score: the file's sequence number)."""
        return f"{self.prefix}:project:files"

    @cached_property
    def autopilots(self) -> str:
        """The sorted set of the project's autopilots (score: creation time)."""
        return f"{self.prefix}:project:autopilots"

    @cached_property
    def models(self) -> str:
        """The sorted set of the project's models (score: creation time)."""
        return f"{self.prefix}:project:models"

    @cached_property
    def webhooks(self) -> str:
        """The sorted set of the project's webhook endpoints (score: their sequence number)."""
        return f"{self.prefix}:project:webhooks"


DEFAULT_SPACE = Space()


def project_of(record: dict) -> str:
    """The project whose key space holds a file's or model's record (default: one from before)."""
    return record.get("project") or DEFAULT_PROJECT
