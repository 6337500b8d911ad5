"""The hot lane answers exactly as Flask does, and leaves Flask every request it cannot vouch for.

Each case sends the same request twice to one in-process gateway on the session's Redis:
once through the whole app (the lane first), once straight to Flask's own wsgi_app (the
lane skipped). A spy in front of Flask tells which requests the lane handed on.
"""

import io
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from werkzeug.exceptions import RequestTimeout
from werkzeug.test import Client, EnvironBuilder, TestResponse

from tuneloop.schemas.jobs import JobInSchema
from tuneloop.settings import Settings
from tuneloop.store import keys
from tuneloop_gateway.app import create_app
from tuneloop_gateway.lane import HotLane

from .support import Stack, free_port, gateway_app, training_items

pytestmark = pytest.mark.integration

INGEST_KEY, JOBS_KEY = secrets.token_hex(16), secrets.token_hex(16)
RID = "lane-test-1"
VOLATILE = ("id", "created_at")  # differ between two records stored from the same item


@dataclass
class Lanes:
    """One gateway, reached through its lane or straight at Flask, and what the lane passed on."""

    whole: Client
    flask: Client
    passed: list[str]

    def both(
        self, method: str, path: str, **kwargs: object
    ) -> tuple[TestResponse, TestResponse, bool]:
        """Flask's answer, the whole app's, and whether the lane passed the request on."""
        flask = self.flask.open(path, method=method, **kwargs)
        self.passed.clear()
        whole = self.whole.open(path, method=method, **kwargs)
        assert whole.status_code == flask.status_code, whole.get_data(as_text=True)
        return flask, whole, bool(self.passed)


def lanes_of(app: object) -> Lanes:
    """Clients of app through its lane and around it, with a spy on what the lane passes on."""
    lane = app.wsgi_app.app  # RequestMetrics(HotLane(Flask.wsgi_app))
    assert isinstance(lane, HotLane)
    inner, passed = lane.wsgi, []

    def spy(environ: dict, start_response: Callable) -> object:
        passed.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    lane.wsgi = spy
    return Lanes(Client(app), Client(inner), passed)


@pytest.fixture(scope="module")
def lanes(stack: Stack) -> Iterator[Lanes]:
    env = {
        **stack.env(),
        "TUNELOOP_API_KEYS": f"lane-ingest:{INGEST_KEY}:ingest,lane-jobs:{JOBS_KEY}:jobs",
    }
    with gateway_app(env) as app:
        yield lanes_of(app)


def headers(key: str = INGEST_KEY, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Request-ID": RID, **more}


def item(**changes: object) -> dict:
    return {**training_items(1)[0], **changes}


def same_headers(a: TestResponse, b: TestResponse, *, but: tuple[str, ...] = ()) -> None:
    assert sorted(set(a.headers.keys()) - set(but)) == sorted(set(b.headers.keys()) - set(but))
    for name in ("Content-Type", "X-Request-ID", "Retry-After", "WWW-Authenticate"):
        assert a.headers.get(name) == b.headers.get(name), name


def without_volatile(response: TestResponse) -> dict:
    return {k: v for k, v in response.get_json().items() if k not in VOLATILE}


@pytest.mark.parametrize(
    "body",
    [
        item(),
        item(rating=1),
        item(rating=0.25, source="synthetic", metadata={"channel": "web", "n": [1, {"a": None}]}),
    ],
    ids=["plain", "integer rating", "source and nested metadata"],
)
def test_a_plain_post_is_served_by_the_lane_as_flask_serves_it(
    lanes: Lanes, stack: Stack, body: dict
) -> None:
    data = json.dumps(body)
    flask = lanes.flask.post(
        "/v1/interactions", data=data, headers=headers(), content_type="application/json"
    )
    lanes.passed.clear()
    lane = lanes.whole.post(
        "/v1/interactions", data=data, headers=headers(), content_type="application/json"
    )
    assert lanes.passed == []
    assert (lane.status_code, flask.status_code) == (201, 201)
    same_headers(lane, flask)
    # Byte for byte, once Flask's record is given the lane's id and time.
    mine, theirs = lane.get_json(), flask.get_json()
    expected = flask.get_data()
    for name in VOLATILE:
        expected = expected.replace(
            json.dumps(theirs[name]).encode(), json.dumps(mine[name]).encode()
        )
    assert lane.get_data() == expected
    # What is stored is the same too: the record and its place in the indexes.
    stored = stack.store.interactions.get_many([lane.get_json()["id"], flask.get_json()["id"]])
    by_lane, by_flask = ({k: v for k, v in r.items() if k not in VOLATILE} for r in stored)
    assert by_lane == by_flask and by_lane["input"] == body["input"]
    task_index = keys.interactions_of_task(body["task_type"])
    assert stack.store.redis.zscore(task_index, lane.get_json()["id"]) is not None


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("no key", {"headers": {"X-Request-ID": RID}, "json": item()}),
        ("unknown key", {"headers": headers("x" * 32), "json": item()}),
        ("key without the scope", {"headers": headers(JOBS_KEY), "json": item()}),
        ("Idempotency-Key", {"headers": headers(**{"Idempotency-Key": "k1"}), "json": item()}),
        ("not JSON", {"headers": headers(), "data": "input=a", "content_type": "text/plain"}),
        ("invalid item", {"headers": headers(), "json": item(rating=2)}),
        ("unknown field", {"headers": headers(), "json": item(colour="red")}),
        (
            "repeated key",
            {
                "headers": headers(),
                "data": '{"rating": 1, "rating": 0}',
                "content_type": "application/json",
            },
        ),
        (
            "not JSON at all",
            {"headers": headers(), "data": "{", "content_type": "application/json"},
        ),
        (
            "non-ASCII text",
            {"headers": headers(), "json": item(input="café au lait, s'il vous plaît")},
        ),
        ("empty body", {"headers": headers(), "data": b"", "content_type": "application/json"}),
    ],
)
def test_every_other_post_is_passed_to_flask_and_answered_as_flask_answers_it(
    lanes: Lanes, case: str, kwargs: dict
) -> None:
    flask, lane, passed = lanes.both("POST", "/v1/interactions", **kwargs)
    assert passed, f"{case}: the lane answered it"
    # The second request of one Idempotency-Key is the first one's replay.
    same_headers(lane, flask, but=("Idempotent-Replayed",) if case == "Idempotency-Key" else ())
    if flask.status_code != 201:
        assert lane.get_data() == flask.get_data()


def test_a_chunked_post_is_passed_to_flask(lanes: Lanes) -> None:
    builder = EnvironBuilder(
        path="/v1/interactions",
        method="POST",
        headers=headers(**{"Transfer-Encoding": "chunked"}),
        content_type="application/json",
        input_stream=io.BytesIO(json.dumps(item()).encode()),
    )
    environ = builder.get_environ()
    environ.pop("CONTENT_LENGTH", None)
    lanes.passed.clear()
    status, _, body = lanes_call(lanes, environ)
    assert lanes.passed == ["/v1/interactions"]
    assert status in ("201 CREATED", "400 BAD REQUEST"), body


def lanes_call(lanes: Lanes, environ: dict) -> tuple[str, list, bytes]:
    answer: list = []
    app = lanes.whole.application
    chunks = app(environ, lambda status, hdrs, *_: answer.extend([status, hdrs]))
    return answer[0], answer[1], b"".join(chunks)


class TooSlow:
    """A body stream whose every read runs out of time, as BodyDeadline's reads do."""

    def read(self, *_: object) -> bytes:
        raise RequestTimeout("the request body was not received within 1 s")

    readline = read


def test_a_body_too_slow_for_the_lane_is_answered_by_flask_as_too_slow(lanes: Lanes) -> None:
    environ = EnvironBuilder(
        path="/v1/interactions",
        method="POST",
        headers=headers(),
        content_type="application/json",
        data=json.dumps(item()),
    ).get_environ()
    environ["wsgi.input"] = TooSlow()
    lanes.passed.clear()
    status, hdrs, body = lanes_call(lanes, environ)
    assert lanes.passed == ["/v1/interactions"]
    assert status.startswith("408"), body
    assert dict(hdrs)["Content-Type"] == "application/problem+json"


@pytest.fixture(scope="module")
def queued_job(stack: Stack) -> Iterator[str]:
    request = JobInSchema().load({"hyperparameters": {"n_epochs": 1}})
    job_id = stack.store.jobs.create(request, snapshot_seq=0, total_steps=7)["id"]
    yield job_id
    stack.store.jobs.delete(job_id)


def test_job_reads_are_served_by_the_lane_as_flask_serves_them(
    lanes: Lanes, stack: Stack, queued_job: str
) -> None:
    path = f"/v1/jobs/{queued_job}"
    for _ in range(2):  # rendered, then the worker's kept answer
        flask, lane, passed = lanes.both("GET", path, headers=headers(JOBS_KEY))
        assert not passed
        assert lane.status_code == 200 and lane.get_data() == flask.get_data()
        same_headers(lane, flask)
    # A change anywhere in the job's keys is in the next answer, whoever made it.
    stack.store.redis.hset(keys.job(queued_job), "stage", json.dumps("collect"))
    stack.store.redis.sadd(keys.job_steps(queued_job), "collect")
    changed = lanes.whole.get(path, headers=headers(JOBS_KEY)).get_json()
    assert changed["stage"] == "collect" and changed["progress"]["current"] == 1
    assert changed == lanes.flask.get(path, headers=headers(JOBS_KEY)).get_json()
    # An ended job: rendered and kept in Redis, then served from there; same bytes both ways.
    stack.store.cancel_job(queued_job)
    for _ in range(2):
        flask, lane, passed = lanes.both("GET", path, headers=headers(JOBS_KEY))
        assert not passed
        assert lane.get_data() == flask.get_data()
        assert flask.get_json()["status"] == "cancelled"


def test_a_read_of_no_such_job_gets_flasks_404_from_the_lane(lanes: Lanes) -> None:
    flask, lane, passed = lanes.both("GET", "/v1/jobs/ftjob-none", headers=headers(JOBS_KEY))
    assert not passed  # the lane's read counted the rate limit; Flask's handler answers
    assert lane.status_code == 404 and lane.get_data() == flask.get_data()
    same_headers(lane, flask)


@pytest.mark.parametrize(
    ("case", "path", "kwargs"),
    [
        ("query options", "/v1/jobs/{job}?include=request.eval_set", {}),
        ("no key", "/v1/jobs/{job}", {"headers": {"X-Request-ID": RID}}),
        ("key without the scope", "/v1/jobs/{job}", {"headers": headers(INGEST_KEY)}),
        ("a body", "/v1/jobs/{job}", {"headers": headers(JOBS_KEY), "json": {}}),
        ("a trailing slash", "/v1/jobs/{job}/", {}),
        ("a longer path", "/v1/jobs/{job}/events", {}),
    ],
)
def test_other_job_reads_are_passed_to_flask(
    lanes: Lanes, queued_job: str, case: str, path: str, kwargs: dict
) -> None:
    kwargs = {"headers": headers(JOBS_KEY), **kwargs}
    *_, passed = lanes.both("GET", path.format(job=queued_job), **kwargs)
    assert passed, f"{case}: the lane answered it"


def test_refusals_after_the_lane_took_a_request_are_flasks_own(stack: Stack) -> None:
    # The rate limit used up in the store's script, then Redis gone: 429 and 503 as Flask
    # answers them, with the request's id.
    key = secrets.token_hex(16)
    settings = Settings(
        redis_url=stack.redis_url, api_keys=f"lane-limited:{key}:ingest+jobs", rate_limit="1/minute"
    )
    lanes = lanes_of(create_app(settings=settings))
    sent = {"headers": headers(key), "json": item()}
    assert lanes.whole.post("/v1/interactions", **sent).status_code == 201
    lanes.passed.clear()
    lane = lanes.whole.post("/v1/interactions", **sent)
    assert lanes.passed == [] and lane.status_code == 429
    flask = lanes.flask.post("/v1/interactions", **sent)
    assert lane.get_data() == flask.get_data()
    same_headers(lane, flask)
    assert "lane-limited" in lane.get_json()["detail"]

    dead = Settings(
        redis_url=f"redis://127.0.0.1:{free_port()}/0", api_keys=f"lane-dead:{key}:ingest+jobs"
    )
    lanes = lanes_of(create_app(settings=dead))
    for method, path, kwargs in (
        ("POST", "/v1/interactions", sent),
        ("GET", "/v1/jobs/ftjob-x", {"headers": headers(key)}),
    ):
        flask, lane, passed = lanes.both(method, path, **kwargs)
        assert not passed and flask.status_code == 503
        assert lane.get_data() == flask.get_data()
        same_headers(lane, flask)
