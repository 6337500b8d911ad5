"""The hot lane answers exactly as Flask does, and leaves Flask every request it cannot vouch for.

Each case sends the same request twice to one in-process gateway on the session's Redis:
once through the whole app (the lane first), once straight to Flask's own wsgi_app (the
lane skipped). A spy in front of Flask tells which requests the lane handed on.
"""

import hashlib
import io
import json
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from werkzeug.exceptions import RequestTimeout
from werkzeug.test import Client, EnvironBuilder, TestResponse

from tuneloop.schemas.jobs import JobInSchema, JobSchema
from tuneloop.settings import Settings
from tuneloop.store import keys
from tuneloop.store.answer_cache import DOCUMENT
from tuneloop_gateway import checks
from tuneloop_gateway.app import create_app
from tuneloop_gateway.extensions import Services
from tuneloop_gateway.lane import HotLane
from tuneloop_gateway.metrics import http_metrics

from .support import API_KEY, Stack, free_port, gateway_app, training_items

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
    svc: Services

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
    return Lanes(Client(app), Client(inner), passed, app.extensions["tuneloop"])


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


def requests_counted(method: str, route: str, status: str) -> float:
    """The gateway's request counter for one label set, in this process."""
    wanted = {"method": method, "route": route, "status": status}
    samples = [s for m in http_metrics().requests.collect() for s in m.samples]
    return sum(s.value for s in samples if s.name.endswith("_total") and s.labels == wanted)


@pytest.mark.parametrize(
    "body",
    [
        item(),
        item(rating=1),
        item(rating=0.25, source="synthetic", metadata={"channel": "web", "n": [1, {"a": None}]}),
        item(model="meta-llama/Llama-3.1-8B@v2"),
    ],
    ids=["plain", "integer rating", "source and nested metadata", "model"],
)
def test_a_plain_post_is_served_by_the_lane_as_flask_serves_it(
    lanes: Lanes, stack: Stack, body: dict
) -> None:
    data = json.dumps(body)
    flask = lanes.flask.post(
        "/v1/interactions", data=data, headers=headers(), content_type="application/json"
    )
    lanes.passed.clear()
    counted = requests_counted("POST", "/v1/interactions", "201")
    lane = lanes.whole.post(
        "/v1/interactions", data=data, headers=headers(), content_type="application/json"
    )
    assert lanes.passed == []
    assert requests_counted("POST", "/v1/interactions", "201") == counted + 1  # its route
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
    task_index = keys.DEFAULT_SPACE.interactions_of_task(body["task_type"])
    assert stack.store.redis.zscore(task_index, lane.get_json()["id"]) is not None
    if "model" in body:
        model_index = keys.DEFAULT_SPACE.interactions_of_model(body["model"])
        assert stack.store.redis.zscore(model_index, lane.get_json()["id"]) is not None


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("an admin key", {"headers": headers(API_KEY), "json": item()}),
        (
            "a charset",
            {
                "headers": headers(),
                "data": json.dumps(item()),
                "content_type": "application/json; charset=utf-8",
            },
        ),
        (
            "a +json media type",
            {
                "headers": headers(),
                "data": json.dumps(item()),
                "content_type": "application/vnd.rating+json",
            },
        ),
    ],
)
def test_posts_with_an_admin_key_or_a_charset_are_served_by_the_lane(
    lanes: Lanes, case: str, kwargs: dict
) -> None:
    flask, lane, passed = lanes.both("POST", "/v1/interactions", **kwargs)
    assert not passed, f"{case}: passed to Flask"
    assert lane.status_code == 201
    same_headers(lane, flask)


def test_a_request_id_that_is_not_well_formed_is_replaced_by_a_new_one(lanes: Lanes) -> None:
    sent = {"headers": {**headers(), "X-Request-ID": "not well formed!"}, "json": item()}
    flask, lane, passed = lanes.both("POST", "/v1/interactions", **sent)
    assert not passed
    for answer in (lane, flask):
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-ID"])


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
    data = json.dumps(item()).encode()

    def environ() -> dict:
        built = EnvironBuilder(
            path="/v1/interactions",
            method="POST",
            headers=headers(**{"Transfer-Encoding": "chunked"}),
            content_type="application/json",
            input_stream=io.BytesIO(data),
        ).get_environ()
        built["CONTENT_LENGTH"] = str(len(data))  # declared too: the Transfer-Encoding decides
        return built

    flask = call(lanes.flask.application, environ())
    lanes.passed.clear()
    lane = call(lanes.whole.application, environ())
    assert lanes.passed == ["/v1/interactions"]
    assert lane[0] == flask[0]


def call(app: Callable, environ: dict) -> tuple[str, list, bytes]:
    answer: list = []
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
    status, hdrs, body = call(lanes.whole.application, environ)
    assert lanes.passed == ["/v1/interactions"]
    assert status.startswith("408"), body
    assert dict(hdrs)["Content-Type"] == "application/problem+json"


@pytest.fixture(scope="module")
def queued_job(stack: Stack) -> Iterator[str]:
    request = JobInSchema().load({"hyperparameters": {"n_epochs": 1}})
    job_id = stack.store.jobs.create(request, snapshot_seq=0, total_steps=7)["id"]
    yield job_id
    stack.store.jobs.delete(job_id)


def smorest_dump(stack: Stack, job_id: str) -> dict:
    """What flask-smorest answers for the job: JobSchema's dump, through JSON."""
    return json.loads(json.dumps(JobSchema().dump(stack.store.jobs.get(job_id))))


def test_job_reads_are_served_by_the_lane_as_flask_serves_them(
    lanes: Lanes, stack: Stack, queued_job: str
) -> None:
    path = f"/v1/jobs/{queued_job}"

    def rendered_by(client: Client) -> TestResponse:
        lanes.svc.polled.drop(queued_job)  # each side renders the job itself
        return client.get(path, headers=headers(JOBS_KEY))

    flask = rendered_by(lanes.flask)
    lanes.passed.clear()
    lane = rendered_by(lanes.whole)
    assert lanes.passed == []
    assert lane.status_code == 200 and lane.get_data() == flask.get_data()
    same_headers(lane, flask)
    assert lane.get_json() == smorest_dump(stack, queued_job)
    # The next poll finds the job unchanged: the worker's kept answer, the same bytes.
    assert lanes.whole.get(path, headers=headers(JOBS_KEY)).get_data() == lane.get_data()
    # A change anywhere in the job's keys is in the next answer, whoever made it.
    stack.store.redis.hset(keys.job(queued_job), "stage", json.dumps("collect"))
    stack.store.redis.sadd(keys.job_steps(queued_job), "collect")
    changed = lanes.whole.get(path, headers=headers(JOBS_KEY)).get_json()
    assert changed["stage"] == "collect" and changed["progress"]["current"] == 1
    assert changed == smorest_dump(stack, queued_job)
    # So is a change of its deliveries alone (a stage's start counted), the rest unchanged.
    stack.store.redis.hset(keys.job_deliveries(queued_job), "collect:started", 1)
    delivered = lanes.whole.get(path, headers=headers(JOBS_KEY)).get_json()
    assert delivered["deliveries"] == {"collect": 1} and changed["deliveries"] == {}
    assert delivered == smorest_dump(stack, queued_job)
    # An ended job: the lane renders it and keeps it in Redis; Flask serves that, and so
    # does the lane from then on.
    stack.store.cancel_job(queued_job)
    lanes.passed.clear()
    ended = lanes.whole.get(path, headers=headers(JOBS_KEY))
    assert lanes.passed == [] and ended.get_json() == smorest_dump(stack, queued_job)
    assert ended.get_json()["status"] == "cancelled"
    kept = stack.store.redis.hget(keys.job(queued_job), DOCUMENT)
    assert kept is not None and kept.endswith(ended.get_data(as_text=True))
    flask, lane, passed = lanes.both("GET", path, headers=headers(JOBS_KEY))
    assert not passed and lane.get_data() == flask.get_data() == ended.get_data()


NO_JOB = "/v1/jobs/ftjob-000000000000000000000000"  # a well-formed id of no job


def test_a_read_of_no_such_job_gets_flasks_404_from_the_lane(lanes: Lanes) -> None:
    flask, lane, passed = lanes.both("GET", NO_JOB, headers=headers(JOBS_KEY))
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
        ("an id outside ASCII", "/v1/jobs/caf%C3%A9", {}),
        ("an id with a suffix naming another key", "/v1/jobs/{job}:events", {}),
        ("an id of another format", "/v1/jobs/ftjob-none", {}),
    ],
)
def test_other_job_reads_are_passed_to_flask(
    lanes: Lanes, queued_job: str, case: str, path: str, kwargs: dict
) -> None:
    kwargs = {"headers": headers(JOBS_KEY), **kwargs}
    flask, lane, passed = lanes.both("GET", path.format(job=queued_job), **kwargs)
    assert passed, f"{case}: the lane answered it"
    assert lane.get_data() == flask.get_data()


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
    # Job reads count the limit in their script too: once each, 404 included.
    reader = secrets.token_hex(16)
    settings = Settings(
        redis_url=stack.redis_url, api_keys=f"lane-reader:{reader}:jobs", rate_limit="1/minute"
    )
    lanes_of_reader = lanes_of(create_app(settings=settings))
    read = {"headers": headers(reader)}
    assert lanes_of_reader.whole.get(NO_JOB, **read).status_code == 404
    lanes_of_reader.passed.clear()
    lane = lanes_of_reader.whole.get(NO_JOB, **read)
    assert lanes_of_reader.passed == [] and lane.status_code == 429
    assert lane.get_data() == lanes_of_reader.flask.get(NO_JOB, **read).get_data()

    dead = Settings(
        redis_url=f"redis://127.0.0.1:{free_port()}/0", api_keys=f"lane-dead:{key}:ingest+jobs"
    )
    lanes = lanes_of(create_app(settings=dead))
    for method, path, kwargs in (
        ("POST", "/v1/interactions", sent),
        ("GET", NO_JOB, {"headers": headers(key)}),
    ):
        flask, lane, passed = lanes.both(method, path, **kwargs)
        assert not passed and flask.status_code == 503
        assert lane.get_data() == flask.get_data()
        same_headers(lane, flask)


def test_the_lane_takes_a_body_of_exactly_the_limit_and_leaves_a_larger_one_to_flask(
    stack: Stack,
) -> None:
    data = json.dumps(item()).encode()
    sent = {"headers": headers(), "data": data, "content_type": "application/json"}
    for limit, status, lane_serves in ((len(data), 201, True), (len(data) - 1, 413, False)):
        settings = Settings(
            redis_url=stack.redis_url,
            api_keys=f"lane-body:{INGEST_KEY}:ingest",
            max_body_bytes=limit,
        )
        lanes = lanes_of(create_app(settings=settings))
        flask, lane, passed = lanes.both("POST", "/v1/interactions", **sent)
        assert lane.status_code == status and passed is not lane_serves, limit
        same_headers(lane, flask)


def test_a_job_read_has_the_etag_of_its_bytes_and_is_304_while_the_job_is_unchanged(
    lanes: Lanes, stack: Stack
) -> None:
    request = JobInSchema().load({"hyperparameters": {"n_epochs": 1}})
    job_id = stack.store.jobs.create(request, snapshot_seq=0, total_steps=7)["id"]
    path = f"/v1/jobs/{job_id}"
    try:
        flask, lane, passed = lanes.both("GET", path, headers=headers(JOBS_KEY))
        assert not passed and lane.status_code == 200
        tag = lane.headers["ETag"]
        assert tag == flask.headers["ETag"] == f'"{hashlib.sha1(lane.get_data()).hexdigest()}"'
        same_headers(lane, flask)
        # The tag sent back, alone, weak, in a list, or "*": 304 without a body, on both paths.
        for sent in (tag, f"W/{tag}", f'"other", {tag}', "*"):
            asked = headers(JOBS_KEY, **{"If-None-Match": sent})
            flask, lane, passed = lanes.both("GET", path, headers=asked)
            assert not passed, sent
            assert (lane.status_code, lane.get_data()) == (304, b""), sent
            assert lane.headers == flask.headers
            assert lane.headers["ETag"] == tag and "Content-Type" not in lane.headers
        # A tag of another answer: the whole answer.
        asked = headers(JOBS_KEY, **{"If-None-Match": '"other"'})
        flask, lane, _ = lanes.both("GET", path, headers=asked)
        assert lane.status_code == 200 and lane.get_data() == flask.get_data()
        # Once the job changed, its old tag gets the new answer and a new tag.
        stack.store.redis.hset(keys.job(job_id), "stage", json.dumps("collect"))
        asked = headers(JOBS_KEY, **{"If-None-Match": tag})
        flask, lane, passed = lanes.both("GET", path, headers=asked)
        assert not passed and lane.status_code == 200
        assert lane.get_json()["stage"] == "collect" and lane.headers["ETag"] != tag
        assert lane.get_data() == flask.get_data() and lane.headers["ETag"] == flask.headers["ETag"]
        # An ended job's kept answer is tagged the same way, and 304 to its tag.
        stack.store.cancel_job(job_id)
        ended = lanes.whole.get(path, headers=headers(JOBS_KEY))
        kept = lanes.whole.get(path, headers=headers(JOBS_KEY))
        assert ended.get_data() == kept.get_data() and ended.headers["ETag"] == kept.headers["ETag"]
        asked = headers(JOBS_KEY, **{"If-None-Match": kept.headers["ETag"]})
        flask, lane, passed = lanes.both("GET", path, headers=asked)
        assert not passed and (lane.status_code, lane.get_data()) == (304, b"")
        assert lane.headers == flask.headers
    finally:
        stack.store.jobs.delete(job_id)


def test_a_read_with_the_eval_set_has_no_etag_and_ignores_if_none_match(
    lanes: Lanes, queued_job: str
) -> None:
    path = f"/v1/jobs/{queued_job}?include=request.eval_set"
    flask, lane, passed = lanes.both(
        "GET", path, headers=headers(JOBS_KEY, **{"If-None-Match": "*"})
    )
    assert passed and lane.status_code == flask.status_code == 200
    assert "ETag" not in lane.headers and "ETag" not in flask.headers


@pytest.mark.parametrize(
    ("check", "verdict", "method", "path", "status"),
    [
        ("bearer_key", None, "POST", "/v1/interactions", 401),
        ("too_large", True, "POST", "/v1/interactions", 413),
        ("is_json", False, "POST", "/v1/interactions", 415),
        ("accepted", None, "POST", "/v1/interactions", 201),  # validated in full by Flask
        ("is_id", False, "GET", "/v1/jobs/{job}", 404),
    ],
)
def test_a_check_changed_in_checks_changes_flask_and_the_lane_alike(
    lanes: Lanes,
    queued_job: str,
    monkeypatch: pytest.MonkeyPatch,
    check: str,
    verdict: object,
    method: str,
    path: str,
    status: int,
) -> None:
    monkeypatch.setattr(checks, check, lambda *_: verdict)
    key = INGEST_KEY if method == "POST" else JOBS_KEY
    sent = {"headers": headers(key), **({"json": item()} if method == "POST" else {})}
    flask, lane, passed = lanes.both(method, path.format(job=queued_job), **sent)
    assert passed, f"{check}: the lane served a request its check refused"
    assert lane.status_code == flask.status_code == status, flask.get_data(as_text=True)
