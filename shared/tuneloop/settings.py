"""Settings read once from the environment at start-up."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from tuneloop.llm.spec import parse_base_models
from tuneloop.webhooks.schedule import DEFAULT_DELAYS, parse_delays


@dataclass(frozen=True)
class Settings:
    """Configuration shared by the gateway and the worker."""

    redis_url: str = "redis://localhost:6379/0"
    api_key: str = ""
    log_level: str = "INFO"
    # "json", "text", or "auto" (text on a terminal, else json): see tuneloop.logs.
    log_format: str = "auto"
    # A message a worker took but did not acknowledge goes back to the queue this long after
    # the worker's last heartbeat; workers refresh their messages every heartbeat_interval.
    visibility_timeout: int = 60
    heartbeat_interval: float = 10.0
    restore_interval: int = 5
    lease_ttl: float = 30.0
    max_crashes: int = 3
    soft_shutdown_timeout: float = 10.0
    result_expires: int = 86400
    respond_timeout: float = 10.0
    failpoints: str = ""
    # "production", or "test"/"development": only the latter two allow failpoints.
    mode: str = "production"
    # The gateway's keys beside api_key: "name:key:scope[+scope],..." (parsed by the gateway).
    api_keys: str = ""
    # Largest request body the gateway reads: a 1,000-item batch of maximum-size items fits.
    max_body_bytes: int = 64 * 1024 * 1024
    # Requests per API key, in the limits library's notation ("off" disables the limit):
    # rate_limit for keys without the admin scope, admin_rate_limit for admin keys (the
    # operators' keys, TUNELOOP_API_KEY among them).
    rate_limit: str = "600/minute"
    admin_rate_limit: str = "off"
    # Failed sign-ins on the report pages per client address, in the same notation: past
    # it, the login form answers 429 until the window ends ("off": not limited).
    login_failure_limit: str = "10/15minutes"
    # How long a stored Idempotency-Key response is replayed, in seconds.
    idempotency_ttl: int = 86400
    # Fine-tuning writes a checkpoint at the first epoch end at least this many seconds after
    # the last one: every epoch when epochs are slower, so a lost worker redoes at most this.
    checkpoint_interval: float = 0.25
    # Largest saved model a job may publish; a larger one fails the job (model_too_large).
    max_model_bytes: int = 256 * 1024 * 1024
    # Bytes of loaded models a worker process keeps in memory (least recently used go first).
    model_cache_bytes: int = 512 * 1024 * 1024
    # Seconds a finished job keeps its intermediate artifacts (0: freed when it ends).
    keep_intermediates: int = 0
    # Seconds a failed or cancelled job keeps its bulk data (eval set, cases, kept mask) after
    # it ended; its record and events stay until the job is deleted (0: kept for ever).
    failed_job_ttl: int = 7 * 86400
    # Jobs per project: not yet ended, and stored at all (0: no limit); over either, 429.
    max_active_jobs: int = 20
    # Bytes one project may store (interactions, files, eval sets, cases, models; 0: no limit).
    max_project_bytes: int = 2 * 1024**3
    max_stored_jobs: int = 10_000
    # Seconds a stage waits for Redis to take a write again (unreachable, loading, full)
    # before it gives up; an outage shorter than this costs a job only time.
    outage_grace: float = 300.0
    # Every sweep_interval seconds one worker (elected through Redis) looks for active jobs
    # with no message and no runner left, and sends their next stages again, at most
    # max_redrives times per stage before the job fails with stage_timed_out (0: no sweeper).
    sweep_interval: float = 30.0
    max_redrives: int = 3
    # The scheduler (python -m tuneloop_worker.beat, Celery beat with its schedule in Redis):
    # how often it sends its periodic tasks (the autopilots' tick), and how long its lock
    # outlives a scheduler that died before a second one takes over (one fires at a time).
    scheduler_interval: float = 10.0
    scheduler_lock_timeout: int = 60
    # The gateway's Prometheus endpoint (/metrics) on its own port, never the API's (0: off),
    # and the address it listens on.
    metrics_port: int = 9100
    metrics_addr: str = "0.0.0.0"
    # Modules that register more model kinds (tuneloop.agent.registry), comma-separated;
    # the worker and the gateway import them at start-up.
    model_kinds: str = ""
    # The operator's open-weight base models, (name, location) pairs from
    # TUNELOOP_BASE_MODELS="name=location,..." (a bad value fails start-up: BaseModelsError).
    base_models: tuple[tuple[str, str], ...] = ()
    # Chat completions of a language model: the seconds the gateway waits for each piece of
    # the answer (the first includes loading the model), the generator the llm worker builds
    # ("module:factory", called with llm_cache_size: the (base, adapter) models it keeps).
    llm_timeout: float = 120.0
    llm_generator: str = "tuneloop.llm.generation:Generator"
    llm_cache_size: int = 2
    # The embed stage (encoder kinds): texts per part (one part task each), and the embedding
    # cache's entry lifetime (seconds) and size cap (the entries expiring soonest go first).
    # A worker process encodes with encoder_threads threads (TUNELOOP_ENCODER_THREADS, which
    # tuneloop.encoder.model reads): one by default, scaling out by processes and workers.
    embed_part_size: int = 256
    embed_cache_ttl: int = 7 * 86400
    embed_cache_max_entries: int = 2_000_000
    encoder_threads: int = 1

    # Webhooks (tuneloop.webhooks): whether an endpoint may be a private, loopback, link-local
    # or otherwise non-public address (off: refused at creation and at each delivery; tests
    # turn it on), the seconds between a failed attempt and the next (the last failure gives
    # the delivery up; the default spans about 27.6 h), the seconds one attempt may take in
    # all, and how many endpoints a project may have.
    webhook_allow_private: bool = False
    webhook_retry_delays: tuple[float, ...] = DEFAULT_DELAYS
    webhook_timeout: float = 10.0
    webhook_max_endpoints: int = 20

    @property
    def base_model_locations(self) -> dict[str, str]:
        """The base models, name -> location."""
        return dict(self.base_models)

    # Where adapters and checkpoints are kept (tuneloop.artifact_store): a directory, or
    # s3://bucket/prefix with TUNELOOP_S3_ENDPOINT (else the standard AWS settings) for S3.
    # Unset: artifacts/ in TUNELOOP_DATA_DIR (.tuneloop/ by default).
    artifacts: str = ".tuneloop/artifacts"
    s3_endpoint: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        """Build settings from environment variables, with defaults."""
        get = env.get
        return cls(
            redis_url=get("REDIS_URL", cls.redis_url),
            api_key=get("TUNELOOP_API_KEY", ""),
            log_level=get("LOG_LEVEL", cls.log_level),
            log_format=get("LOG_FORMAT", cls.log_format),
            visibility_timeout=int(get("TUNELOOP_VISIBILITY_TIMEOUT", cls.visibility_timeout)),
            heartbeat_interval=float(get("TUNELOOP_HEARTBEAT_INTERVAL", cls.heartbeat_interval)),
            restore_interval=int(get("TUNELOOP_RESTORE_INTERVAL", cls.restore_interval)),
            lease_ttl=float(get("TUNELOOP_LEASE_TTL", cls.lease_ttl)),
            max_crashes=int(get("TUNELOOP_MAX_CRASHES", cls.max_crashes)),
            soft_shutdown_timeout=float(
                get("TUNELOOP_SOFT_SHUTDOWN_TIMEOUT", cls.soft_shutdown_timeout)
            ),
            result_expires=int(get("TUNELOOP_RESULT_EXPIRES", cls.result_expires)),
            respond_timeout=float(get("TUNELOOP_RESPOND_TIMEOUT", cls.respond_timeout)),
            failpoints=get("TUNELOOP_FAILPOINTS", ""),
            mode=get("TUNELOOP_MODE", cls.mode),
            api_keys=get("TUNELOOP_API_KEYS", ""),
            max_body_bytes=int(
                get(
                    "TUNELOOP_MAX_BODY_BYTES",
                    # The Flask config name it replaces, still honoured when it is set alone.
                    get("TUNELOOP_FLASK_MAX_CONTENT_LENGTH", cls.max_body_bytes),
                )
            ),
            rate_limit=get("TUNELOOP_RATE_LIMIT", cls.rate_limit),
            admin_rate_limit=get("TUNELOOP_ADMIN_RATE_LIMIT", cls.admin_rate_limit),
            login_failure_limit=get("TUNELOOP_LOGIN_FAILURE_LIMIT", cls.login_failure_limit),
            idempotency_ttl=int(get("TUNELOOP_IDEMPOTENCY_TTL", cls.idempotency_ttl)),
            checkpoint_interval=float(get("TUNELOOP_CHECKPOINT_INTERVAL", cls.checkpoint_interval)),
            max_model_bytes=int(get("TUNELOOP_MAX_MODEL_BYTES", cls.max_model_bytes)),
            model_cache_bytes=int(get("TUNELOOP_MODEL_CACHE_BYTES", cls.model_cache_bytes)),
            keep_intermediates=int(get("TUNELOOP_KEEP_INTERMEDIATES", cls.keep_intermediates)),
            failed_job_ttl=_seconds(env, "TUNELOOP_FAILED_JOB_TTL", cls.failed_job_ttl),
            max_active_jobs=int(get("TUNELOOP_MAX_ACTIVE_JOBS", cls.max_active_jobs)),
            max_project_bytes=int(get("TUNELOOP_MAX_PROJECT_BYTES", cls.max_project_bytes)),
            max_stored_jobs=int(get("TUNELOOP_MAX_STORED_JOBS", cls.max_stored_jobs)),
            outage_grace=float(get("TUNELOOP_OUTAGE_GRACE", cls.outage_grace)),
            sweep_interval=float(get("TUNELOOP_SWEEP_INTERVAL", cls.sweep_interval)),
            max_redrives=int(get("TUNELOOP_MAX_REDRIVES", cls.max_redrives)),
            scheduler_interval=float(get("TUNELOOP_SCHEDULER_INTERVAL", cls.scheduler_interval)),
            scheduler_lock_timeout=int(
                get("TUNELOOP_SCHEDULER_LOCK_TIMEOUT", cls.scheduler_lock_timeout)
            ),
            metrics_port=int(get("TUNELOOP_METRICS_PORT", cls.metrics_port)),
            metrics_addr=get("TUNELOOP_METRICS_ADDR", cls.metrics_addr),
            model_kinds=get("TUNELOOP_MODEL_KINDS", ""),
            base_models=tuple(parse_base_models(get("TUNELOOP_BASE_MODELS", "")).items()),
            llm_timeout=float(get("TUNELOOP_LLM_TIMEOUT", cls.llm_timeout)),
            llm_generator=get("TUNELOOP_LLM_GENERATOR", cls.llm_generator),
            llm_cache_size=int(get("TUNELOOP_LLM_CACHE_SIZE", cls.llm_cache_size)),
            embed_part_size=int(get("TUNELOOP_EMBED_PART_SIZE", cls.embed_part_size)),
            embed_cache_ttl=int(get("TUNELOOP_EMBED_CACHE_TTL", cls.embed_cache_ttl)),
            embed_cache_max_entries=int(
                get("TUNELOOP_EMBED_CACHE_MAX_ENTRIES", cls.embed_cache_max_entries)
            ),
            encoder_threads=int(get("TUNELOOP_ENCODER_THREADS", cls.encoder_threads)),
            artifacts=get("TUNELOOP_ARTIFACTS")
            or os.path.join(get("TUNELOOP_DATA_DIR") or ".tuneloop", "artifacts"),
            s3_endpoint=get("TUNELOOP_S3_ENDPOINT", ""),
            webhook_allow_private=_flag(env, "TUNELOOP_WEBHOOK_ALLOW_PRIVATE"),
            webhook_retry_delays=_delays(env, "TUNELOOP_WEBHOOK_RETRY_DELAYS"),
            webhook_timeout=_webhook_timeout(env, "TUNELOOP_WEBHOOK_TIMEOUT", cls.webhook_timeout),
            webhook_max_endpoints=int(
                get("TUNELOOP_WEBHOOK_MAX_ENDPOINTS", cls.webhook_max_endpoints)
            ),
        )


def _seconds(env: Mapping[str, str], name: str, default: int) -> int:
    """Read a number of whole seconds, 0 or more; ValueError naming the variable otherwise."""
    value = int(env.get(name, default))
    if value < 0:
        raise ValueError(f"{name} must be 0 or more seconds, not {value}")
    return value


TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"", "0", "false", "no", "off"})


def _flag(env: Mapping[str, str], name: str) -> bool:
    """Read a yes/no setting (1/true/yes/on or 0/false/no/off); ValueError naming it otherwise."""
    value = env.get(name, "").strip().lower()
    if value not in TRUE | FALSE:
        raise ValueError(f"{name} must be 1, true, yes or on, or 0, false, no or off: {value!r}")
    return value in TRUE


def _delays(env: Mapping[str, str], name: str) -> tuple[float, ...]:
    """Read a list of seconds between retries; ValueError naming the variable when it is bad."""
    if name not in env:
        return DEFAULT_DELAYS
    try:
        return parse_delays(env[name])
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


# An attempt holds its delivery's claim for CLAIM_SECONDS (store/webhook_deliveries.py): it
# must end first.
MAX_WEBHOOK_TIMEOUT = 30.0


def _webhook_timeout(env: Mapping[str, str], name: str, default: float) -> float:
    """Read the seconds one delivery attempt may take: more than 0, at most 30."""
    value = float(env.get(name, default))
    if not 0 < value <= MAX_WEBHOOK_TIMEOUT:
        raise ValueError(f"{name} must be more than 0 and at most {MAX_WEBHOOK_TIMEOUT:g} seconds")
    return value
