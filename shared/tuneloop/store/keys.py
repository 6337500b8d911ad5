"""Every Redis key Tuneloop writes, in one place."""

PREFIX = "tuneloop"
INTERACTION_SEQ = f"{PREFIX}:seq:interactions"
INTERACTIONS = f"{PREFIX}:interactions"
TASK_COUNTS = f"{PREFIX}:stats:tasks"
RATING_COUNTS = f"{PREFIX}:stats:ratings"
# Versions of edited and deleted interactions (see store/versions.py): the sequence number of
# each edited interaction's current version, the older versions' refs ("{id}@{seq}") scored by
# their interaction's creation and by their end, their bodies, the refs of deleted ones, and
# the highest end of any version reclaimed so far.
INTERACTION_BORN = f"{PREFIX}:interactions:born"
INTERACTION_HISTORY = f"{PREFIX}:interactions:history"
INTERACTION_ENDED = f"{PREFIX}:interactions:ended"
INTERACTION_BODIES = f"{PREFIX}:interactions:bodies"
INTERACTION_DELETED = f"{PREFIX}:interactions:deleted"
INTERACTION_RECLAIMED = f"{PREFIX}:interactions:reclaimed"
JOB_SEQ = f"{PREFIX}:seq:jobs"
JOBS = f"{PREFIX}:jobs"
JOB_STATUS_INDEXED = f"{PREFIX}:jobs:status-indexed"
MODELS = f"{PREFIX}:models"
SWEEPER = f"{PREFIX}:sweeper"  # the worker holding the sweeper's seat
SWEEP_SUSPECTS = f"{PREFIX}:sweeper:suspects"  # job id -> when first seen orphaned
# The embedding cache's index: entry key -> its expiry time (tuneloop.store.embeddings).
EMBEDDING_INDEX = f"{PREFIX}:emb:index"
RATE_LIMITS = f"{PREFIX}:ratelimit"  # the prefix of the limits library's counters
# kombu's Redis transport: delivered, unacknowledged messages by delivery tag, and their
# delivery times (the restore sweep hands back those older than the visibility timeout).
KOMBU_UNACKED = "unacked"
KOMBU_UNACKED_INDEX = "unacked_index"


def interaction(iid: str) -> str:
    """Key of one interaction's JSON."""
    return f"{PREFIX}:interaction:{iid}"


def interaction_events(iid: str) -> str:
    """Key of one interaction's audit stream (bounded): who changed what, and when."""
    return f"{PREFIX}:interaction:{iid}:events"


def interactions_of_task(task_type: str) -> str:
    """Key of the sorted set of one task type's interaction ids."""
    return f"{PREFIX}:interactions:task:{task_type}"


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


def model_alias(name: str) -> str:
    """Key of an alias naming a model (e.g. latest-promoted)."""
    return f"{PREFIX}:model-alias:{name}"


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


def embedding(tag: str, digest: str) -> str:
    """Key of one cached embedding: an encoder's tag and the digest of a normalised text."""
    return f"{PREFIX}:emb:{tag}:{digest}"


def job_parts_done(jid: str, stage: str) -> str:
    """Key of the set of the parts of a fanned-out stage that are done (their indexes)."""
    return f"{PREFIX}:job:{jid}:parts:{stage}:done"


def job_part_runs(jid: str, stage: str) -> str:
    """Key of the hash of what each done part of a fanned-out stage reported (index -> JSON)."""
    return f"{PREFIX}:job:{jid}:parts:{stage}:runs"
