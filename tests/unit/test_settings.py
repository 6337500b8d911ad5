"""Settings come from the mapping given to from_env, read when it is called."""

import dataclasses

import pytest

from tuneloop.celery_config import INTERACTIVE_QUEUE, PIPELINE_QUEUE, WEBHOOKS_QUEUE, celery_config
from tuneloop.settings import Settings

ENV_NAMES = (
    "REDIS_URL",
    "TUNELOOP_API_KEY",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "TUNELOOP_VISIBILITY_TIMEOUT",
    "TUNELOOP_RESULT_EXPIRES",
    "TUNELOOP_RESPOND_TIMEOUT",
    "TUNELOOP_HEARTBEAT_INTERVAL",
    "TUNELOOP_RESTORE_INTERVAL",
    "TUNELOOP_LEASE_TTL",
    "TUNELOOP_MAX_CRASHES",
    "TUNELOOP_SOFT_SHUTDOWN_TIMEOUT",
    "TUNELOOP_FAILPOINTS",
    "TUNELOOP_API_KEYS",
    "TUNELOOP_MAX_BODY_BYTES",
    "TUNELOOP_FLASK_MAX_CONTENT_LENGTH",
    "TUNELOOP_RATE_LIMIT",
    "TUNELOOP_ADMIN_RATE_LIMIT",
    "TUNELOOP_IDEMPOTENCY_TTL",
    "TUNELOOP_FAILED_JOB_TTL",
)


def test_empty_mapping_gives_the_defaults():
    assert Settings.from_env({}) == Settings(
        redis_url="redis://localhost:6379/0",
        api_key="",
        log_level="INFO",
        log_format="auto",
        visibility_timeout=60,
        heartbeat_interval=10.0,
        restore_interval=5,
        lease_ttl=30.0,
        max_crashes=3,
        soft_shutdown_timeout=10.0,
        result_expires=86400,
        respond_timeout=10.0,
        failpoints="",
        api_keys="",
        max_body_bytes=64 * 1024 * 1024,
        rate_limit="600/minute",
        admin_rate_limit="off",
        idempotency_ttl=86400,
    )


def test_every_setting_is_read_from_the_mapping_and_converted():
    settings = Settings.from_env(
        {
            "REDIS_URL": "redis://cache:6380/2",
            "TUNELOOP_API_KEY": "s3cret",
            "LOG_LEVEL": "DEBUG",
            "LOG_FORMAT": "json",
            "TUNELOOP_VISIBILITY_TIMEOUT": "60",
            "TUNELOOP_RESULT_EXPIRES": "120",
            "TUNELOOP_RESPOND_TIMEOUT": "2.5",
            "TUNELOOP_HEARTBEAT_INTERVAL": "3",
            "TUNELOOP_RESTORE_INTERVAL": "2",
            "TUNELOOP_LEASE_TTL": "9",
            "TUNELOOP_MAX_CRASHES": "4",
            "TUNELOOP_SOFT_SHUTDOWN_TIMEOUT": "7.5",
            "TUNELOOP_FAILPOINTS": "fine_tune=crash",
            "TUNELOOP_API_KEYS": "app:k1:ingest,ops:k2:jobs+ingest",
            "TUNELOOP_MAX_BODY_BYTES": "1048576",
            "TUNELOOP_RATE_LIMIT": "20/second;600/minute",
            "TUNELOOP_ADMIN_RATE_LIMIT": "100/second",
            "TUNELOOP_IDEMPOTENCY_TTL": "3600",
            "TUNELOOP_METRICS_PORT": "9200",
            "TUNELOOP_METRICS_ADDR": "127.0.0.1",
        }
    )
    assert settings == Settings(
        redis_url="redis://cache:6380/2",
        api_key="s3cret",
        log_level="DEBUG",
        log_format="json",
        visibility_timeout=60,
        heartbeat_interval=3.0,
        restore_interval=2,
        lease_ttl=9.0,
        max_crashes=4,
        soft_shutdown_timeout=7.5,
        result_expires=120,
        respond_timeout=2.5,
        failpoints="fine_tune=crash",
        api_keys="app:k1:ingest,ops:k2:jobs+ingest",
        max_body_bytes=1048576,
        rate_limit="20/second;600/minute",
        admin_rate_limit="100/second",
        idempotency_ttl=3600,
        metrics_port=9200,
        metrics_addr="127.0.0.1",
    )
    assert isinstance(settings.visibility_timeout, int)
    assert isinstance(settings.respond_timeout, float)


def test_given_mapping_wins_over_the_process_environment(monkeypatch):
    for name in ENV_NAMES:
        monkeypatch.setenv(name, "1")
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"LOG_LEVEL": "WARNING"}).log_level == "WARNING"


def test_default_reads_the_environment_at_call_time_not_import_time(monkeypatch):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    assert Settings.from_env() == Settings()
    monkeypatch.setenv("REDIS_URL", "redis://later:1/0")
    monkeypatch.setenv("TUNELOOP_API_KEY", "late-key")
    monkeypatch.setenv("TUNELOOP_RESULT_EXPIRES", "5")
    settings = Settings.from_env()
    assert (settings.redis_url, settings.api_key, settings.result_expires) == (
        "redis://later:1/0",
        "late-key",
        5,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TUNELOOP_VISIBILITY_TIMEOUT", "soon"),
        ("TUNELOOP_RESULT_EXPIRES", "1.5"),
        ("TUNELOOP_RESPOND_TIMEOUT", "fast"),
        ("TUNELOOP_MAX_BODY_BYTES", "64MiB"),
        ("TUNELOOP_FLASK_MAX_CONTENT_LENGTH", "big"),
        ("TUNELOOP_IDEMPOTENCY_TTL", "1d"),
        ("TUNELOOP_METRICS_PORT", "http"),
    ],
)
def test_non_numeric_value_fails_loudly(name, value):
    with pytest.raises(ValueError):
        Settings.from_env({name: value})


def test_a_failed_jobs_data_expires_after_seven_days_unless_told_otherwise():
    assert Settings.from_env({}).failed_job_ttl == 7 * 86400
    assert Settings.from_env({"TUNELOOP_FAILED_JOB_TTL": "3600"}).failed_job_ttl == 3600
    assert Settings.from_env({"TUNELOOP_FAILED_JOB_TTL": "0"}).failed_job_ttl == 0  # kept


def test_a_negative_failed_job_ttl_is_refused_naming_it():
    with pytest.raises(ValueError, match="TUNELOOP_FAILED_JOB_TTL must be 0 or more"):
        Settings.from_env({"TUNELOOP_FAILED_JOB_TTL": "-1"})


def test_the_old_flask_body_limit_name_is_honoured_when_the_new_one_is_not_set():
    old = {"TUNELOOP_FLASK_MAX_CONTENT_LENGTH": "1000"}
    assert Settings.from_env(old).max_body_bytes == 1000
    both = {**old, "TUNELOOP_MAX_BODY_BYTES": "2000"}
    assert Settings.from_env(both).max_body_bytes == 2000


def test_the_default_body_limit_fits_a_batch_of_the_largest_items_as_python_sends_it():
    # 1,000 items of two 4,000-character texts, each character a \uXXXX escape (6 bytes),
    # plus 4 KiB of metadata and the other fields: about 52.3 MB.
    per_item = 2 * 4000 * 6 + 4096 + 200
    assert 1000 * per_item < Settings().max_body_bytes


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().api_key = "x"  # type: ignore[misc]


def test_celery_config_takes_urls_and_timeouts_from_settings():
    settings = Settings.from_env(
        {
            "REDIS_URL": "redis://r:1/3",
            "TUNELOOP_VISIBILITY_TIMEOUT": "99",
            "TUNELOOP_RESULT_EXPIRES": "77",
        }
    )
    config = celery_config(settings)
    assert config["broker_url"] == config["result_backend"] == "redis://r:1/3"
    sweep = {"unacked_restore_interval": 5, "unacked_restore_throttle": 1}
    assert config["broker_transport_options"] == {"visibility_timeout": 99, **sweep}
    assert config["result_backend_transport_options"] == {"visibility_timeout": 99, **sweep}
    assert config["worker_soft_shutdown_timeout"] == 10.0
    assert config["result_expires"] == 77
    assert config["accept_content"] == ["json"]
    assert config["task_acks_late"] is True
    assert config["worker_prefetch_multiplier"] == 1
    assert config["task_default_queue"] == PIPELINE_QUEUE
    assert config["task_routes"] == {
        "tuneloop.models.*": {"queue": INTERACTIVE_QUEUE},
        "tuneloop.webhooks.*": {"queue": WEBHOOKS_QUEUE},
        "tuneloop.autopilot.*": {"queue": WEBHOOKS_QUEUE},
    }


def test_the_checkpoint_interval_is_read_at_start_up_and_reaches_the_stage_limits(monkeypatch):
    from types import SimpleNamespace

    from tuneloop_worker import runtime

    assert Settings.from_env({}).checkpoint_interval == 0.25
    settings = Settings.from_env({"TUNELOOP_CHECKPOINT_INTERVAL": "2.5"})
    assert settings.checkpoint_interval == 2.5
    app = SimpleNamespace(conf=SimpleNamespace(tuneloop_settings=settings))
    monkeypatch.setattr(runtime, "current_app", app)
    assert runtime.limits().checkpoint_interval == 2.5
