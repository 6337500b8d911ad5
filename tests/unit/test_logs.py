"""LOG_FORMAT, the JSON and text lines, the log context, and gunicorn's JSON access line."""

import datetime
import io
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tuneloop import logs
from tuneloop.settings import Settings


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """The root logger, put back as it was after the test."""
    logger = logging.getLogger()
    handlers, level = list(logger.handlers), logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logging.captureWarnings(False)


def record(message: str = "hello %s", *args: object, **extra: object) -> logging.LogRecord:
    """A record of logger "tuneloop.test" at INFO, with extra attributes."""
    made = logging.LogRecord("tuneloop.test", logging.INFO, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def as_json(rec: logging.LogRecord) -> dict:
    """Format a record as JSON, after the context filter, and parse the line back."""
    logs.ContextFilter().filter(rec)
    line = logs.JsonFormatter().format(rec)
    assert "\n" not in line
    return json.loads(line)


@pytest.mark.parametrize(("value", "expected"), [("json", "json"), (" TEXT ", "text")])
def test_json_and_text_are_taken_as_given_whatever_the_stream(value, expected):
    assert logs.resolve_format(value, Terminal()) == expected
    assert logs.resolve_format(value, io.StringIO()) == expected


@pytest.mark.parametrize("value", ["auto", "", "AUTO"])
def test_auto_is_text_on_a_terminal_and_json_otherwise(value):
    assert logs.resolve_format(value, Terminal()) == "text"
    assert logs.resolve_format(value, io.StringIO()) == "json"


@pytest.mark.parametrize("value", ["xml", "jsonl", "plain"])
def test_a_bad_log_format_is_a_runtime_error_naming_it(value):
    with pytest.raises(RuntimeError, match=f"LOG_FORMAT must be one of json, text, auto.*{value}"):
        logs.resolve_format(value, io.StringIO())


def test_a_json_line_has_utc_time_level_logger_message_and_process():
    line = as_json(record("hello %s", "world"))
    assert line["ts"].endswith("Z")
    when = datetime.datetime.fromisoformat(line["ts"].replace("Z", "+00:00"))
    assert when.utcoffset() == datetime.timedelta(0)
    assert abs(when.timestamp() - datetime.datetime.now(datetime.UTC).timestamp()) < 60
    assert {k: line[k] for k in ("level", "logger", "message", "process")} == {
        "level": "INFO",
        "logger": "tuneloop.test",
        "message": "hello world",
        "process": "MainProcess",
    }


def test_a_json_line_leaves_out_context_keys_nobody_set():
    line = as_json(record())
    assert not set(logs.CONTEXT_KEYS) & set(line)
    assert "exc" not in line


def test_a_json_line_carries_the_context_of_the_block_it_was_logged_in():
    with logs.context(job_id="ftjob-1", stage="filter"), logs.context(task_id="t-1"):
        line = as_json(record())
    assert {k: line.get(k) for k in logs.CONTEXT_KEYS} == {
        "job_id": "ftjob-1",
        "stage": "filter",
        "task_id": "t-1",
        "request_id": None,
    }
    assert "request_id" not in line


def test_the_context_is_undone_when_its_block_ends_and_none_values_are_left_out():
    with logs.context(request_id="r-1"):
        with logs.context(job_id="j-1", stage=None):
            assert logs.current() == {"request_id": "r-1", "job_id": "j-1"}
        assert logs.current() == {"request_id": "r-1"}
    assert logs.current() == {}


def test_a_field_the_record_has_wins_over_the_context():
    with logs.context(request_id="from-context"):
        line = as_json(record(request_id="from-record"))
    assert line["request_id"] == "from-record"


def test_a_json_line_carries_the_traceback_as_exc():
    try:
        raise ValueError("boom")
    except ValueError:
        rec = record("failed")
        rec.exc_info = sys.exc_info()
    line = as_json(rec)
    assert line["message"] == "failed"
    assert line["exc"].startswith("Traceback") and "ValueError: boom" in line["exc"]


def test_structured_fields_of_a_record_become_keys_of_its_line():
    line = as_json(record("GET / 200", fields={"status": 200, "duration_ms": 1.5}))
    assert (line["status"], line["duration_ms"]) == (200, 1.5)


def test_a_text_line_adds_the_context_its_message_does_not_name_already():
    with logs.context(job_id="ftjob-9", stage="prepare", task_id="t-9"):
        rec = record("job %s stage %s: started", "ftjob-9", "prepare")
        logs.ContextFilter().filter(rec)
    line = logs.TextFormatter().format(rec)
    assert line.endswith("job ftjob-9 stage prepare: started [task_id=t-9]"), line
    assert rec.getMessage() == "job ftjob-9 stage prepare: started"  # the record is unchanged


def test_configure_logging_replaces_only_the_handler_it_installed(root):
    # Another test (or the app built in it) may have installed ours already: not an "other".
    others = [h for h in root.handlers if not getattr(h, "_tuneloop", False)]
    first, second = io.StringIO(), io.StringIO()
    assert logs.configure_logging("INFO", "auto", first) == "json"
    assert logs.configure_logging("DEBUG", "text", second) == "text"
    with logs.context(request_id="r-7"):
        logging.getLogger("tuneloop.test").debug("once")
    assert first.getvalue() == ""
    assert second.getvalue().rstrip().endswith("tuneloop.test: once [request_id=r-7]")
    assert root.level == logging.DEBUG
    ours = [h for h in root.handlers if h not in others]
    assert len(ours) == 1 and ours[0].stream is second
    assert all(h in root.handlers for h in others)


def test_configure_logging_refuses_a_bad_format_before_touching_anything(root):
    before = list(root.handlers)
    with pytest.raises(RuntimeError, match="LOG_FORMAT"):
        logs.configure_logging("INFO", "yaml", io.StringIO())
    assert root.handlers == before


def test_a_task_message_gets_the_request_id_only_while_a_request_runs():
    outside: dict = {}
    logs.add_request_id(headers=outside, body=())
    with logs.context(request_id="r-42"):
        inside: dict = {}
        logs.add_request_id(headers=inside, body=())
        given = {logs.REQUEST_ID_HEADER: "earlier"}
        logs.add_request_id(headers=given)
    assert outside == {}
    assert inside == {logs.REQUEST_ID_HEADER: "r-42"}
    assert given == {logs.REQUEST_ID_HEADER: "earlier"}  # a message keeps the id it has


def test_the_gateway_refuses_a_bad_log_format_at_start(root):
    from tuneloop_gateway.app import create_app

    with pytest.raises(RuntimeError, match="LOG_FORMAT must be"):
        create_app(settings=Settings(api_key="k" * 32, log_format="xml"))


def test_the_worker_refuses_a_bad_log_format_at_start():
    env = {**os.environ, "LOG_FORMAT": "xml", "REDIS_URL": "redis://127.0.0.1:1/0"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "tuneloop_worker", "--concurrency=1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, err = worker.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.communicate()
        pytest.fail("the worker started with LOG_FORMAT=xml (it waits for Redis)")
    assert worker.returncode != 0
    assert "RuntimeError: LOG_FORMAT must be one of json, text, auto, not 'xml'" in err


def test_gunicorn_refuses_a_bad_log_format_when_it_loads_its_settings():
    env = {**os.environ, "LOG_FORMAT": "xml"}
    code = "import tuneloop_gateway.gunicorn_conf"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "LOG_FORMAT must be one of json, text, auto, not 'xml'" in done.stderr


def test_gunicorn_writes_one_json_access_line_per_request(capsys, root):
    from gunicorn.config import Config

    from tuneloop_gateway.gunicorn_logs import JsonLogger

    class Response:
        status = "201 CREATED"
        headers = (("Content-Type", "application/json"), ("X-Request-ID", "req-5"))
        sent = 123

    cfg = Config()
    cfg.set("accesslog", "-")
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/v1/jobs",
        "RAW_URI": "/v1/jobs?x=1",
        "QUERY_STRING": "x=1",
        "REMOTE_ADDR": "10.0.0.7",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    JsonLogger(cfg).access(Response(), None, environ, datetime.timedelta(milliseconds=42))
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["logger"] == "gunicorn.access"
    assert line["message"] == "POST /v1/jobs?x=1 201"
    assert {k: line[k] for k in ("method", "path", "status", "bytes", "request_id")} == {
        "method": "POST",
        "path": "/v1/jobs",
        "status": 201,
        "bytes": 123,
        "request_id": "req-5",
    }
    assert (line["duration_ms"], line["remote_addr"], line["query"]) == (42.0, "10.0.0.7", "x=1")


def test_a_stage_task_names_its_job_and_stage_for_its_log_lines():
    from tuneloop_worker.tasks.stages import TASKS

    task = TASKS["fine_tune"]
    assert task.log_fields(("ftjob-3",)) == {"job_id": "ftjob-3", "stage": "fine_tune"}
    assert task.log_fields(()) == {}
