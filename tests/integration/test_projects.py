"""Projects: a key never reads, lists, changes or counts another project's data.

One stack, two projects. Project A gets interactions (one edited), a file, a finished job
with its model, cases and events, and an evaluation job. Then every route of the OpenAPI
document is called with project B's key, naming A's ids where it takes one: the answer is
404 as for a missing id, a list holds none of A's ids, a count none of A's rows, and A's
data is unchanged afterwards. A route the matrix does not know fails the test, so a new
route must say what it answers another project.
"""

import json
import re
import secrets
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests

from .support import ApiClient, Stack, client_for, fault_stack
from .support.faults import create_job, seed_interactions, training_items, wait_job_status
from .test_cli import TUNELOOP, cli_env

pytestmark = pytest.mark.integration

KEY_A = f"proj-a-{secrets.token_hex(16)}"
KEY_B = f"proj-b-{secrets.token_hex(16)}"
KEY_ALL = f"proj-all-{secrets.token_hex(16)}"
SETTINGS = {
    "TUNELOOP_API_KEYS": (
        f"alice:{KEY_A}:admin:team-a,bob:{KEY_B}:admin:team-b,ops:{KEY_ALL}:admin:*"
    )
}
JSON = {"Content-Type": "application/json"}
AUTOPILOT = {
    "trigger": {"new_ratings": 1_000_000},
    "job": {"hyperparameters": {"n_epochs": 1}},
    "promote_if": [{"metric": "task_accuracy", "min_value": 0.0}],
}


def eval_set() -> list[dict]:
    """Cases for A's evaluation job: the training items' words in other sentences."""
    return [
        {"input": f"Quick query: {item['input']}", "expected_type": item["task_type"]}
        for item in training_items(3)
    ]


@dataclass
class ProjectA:
    """What project A stored: the ids project B must not reach."""

    interaction: str
    file: str
    job: str
    model: str
    evaluation: str
    autopilot: str
    webhook: str
    delivery: str

    def ids(self) -> list[str]:
        """Every id of A's data."""
        return [
            self.interaction,
            self.file,
            self.job,
            self.model,
            self.evaluation,
            self.autopilot,
            self.webhook,
            self.delivery,
        ]


def chat_file() -> bytes:
    """A small valid chat-format training file."""
    lines = []
    for i in range(6):
        messages = [
            {"role": "user", "content": f"where is my card number {i}"},
            {"role": "assistant", "content": "It is on its way."},
        ]
        lines.append(json.dumps({"messages": messages, "metadata": {"task_type": "card"}}))
    return "\n".join(lines).encode()


def upload(client: ApiClient) -> str:
    """Upload the chat file; return its id once it is processed."""
    response = client.post(
        "/v1/files",
        files={"file": ("a.jsonl", chat_file())},
        data={"purpose": "fine-tune"},
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """A stack with one worker whose gateway knows keys of two projects and an every-project
    admin key."""
    with fault_stack(gateway_env=SETTINGS) as running:
        yield running


@pytest.fixture(scope="module")
def a_data(stack: Stack) -> ProjectA:
    """Project A's interactions, file, finished job, model, evaluation job, and a webhook
    endpoint with the delivery of the job's end (never sent: no webhooks worker runs)."""
    with client_for(stack, KEY_A) as a:
        hook = a.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/a", "events": ["*"]})
        assert hook.status_code == 201, hook.text
        interactions = seed_interactions(a)
        edited = a.patch(f"/v1/interactions/{interactions[0]}", json={"rating": 0.2})
        assert edited.status_code == 200, edited.text
        gate = [{"metric": "task_accuracy", "min_value": 0.0}]  # always passes: A gets an alias
        job_id = create_job(a, n_epochs=1, promote_if=gate)
        job = wait_job_status(a, stack, job_id, {"succeeded", "failed"}, timeout=120)
        assert job["status"] == "succeeded", job
        evaluation = a.post(
            "/v1/evaluations",
            json={
                "model_a": "tuneloop-keyword-baseline",
                "model_b": job["model_id"],
                "eval_set": eval_set(),
            },
        )
        assert evaluation.status_code == 202, evaluation.text
        autopilot = a.post("/v1/autopilots", json=AUTOPILOT)
        assert autopilot.status_code == 201, autopilot.text
        ended = {"succeeded", "failed"}  # its end adds a delivery: before the matrix runs
        wait_job_status(a, stack, evaluation.json()["id"], ended, timeout=120)
        sent = a.get(f"/v1/webhooks/{hook.json()['id']}/deliveries").json()["data"]
        assert sent, "the job's end was recorded for A's endpoint"
        return ProjectA(
            interactions[0],
            upload(a),
            job_id,
            job["model_id"],
            evaluation.json()["id"],
            autopilot.json()["id"],
            hook.json()["id"],
            sent[-1]["id"],
        )


def snapshot(client: ApiClient, data: ProjectA) -> dict:
    """What A sees of its own data (to show B's calls changed nothing)."""
    return {
        "interaction": client.get(f"/v1/interactions/{data.interaction}").json(),
        "stats": client.get("/v1/interactions/stats").json(),
        "file": client.get(f"/v1/files/{data.file}").json()["id"],
        "job": client.get(f"/v1/jobs/{data.job}").json()["status"],
        "model": client.get(f"/v1/models/{data.model}").json()["id"],
        "autopilot": client.get(f"/v1/autopilots/{data.autopilot}").json()["status"],
        "webhook": client.get(f"/v1/webhooks/{data.webhook}").json(),
        "deliveries": [
            d["id"] for d in client.get(f"/v1/webhooks/{data.webhook}/deliveries").json()["data"]
        ],
    }


MISSING = "404"  # as for a missing id
NONE_LISTED = "200, none of A's ids"
OWN_ONLY = "2xx in B's own project"
REFUSED = "4xx naming A's id as missing/unknown"
PUBLIC = "public: no project data"


def route_calls(data: ProjectA) -> dict[tuple[str, str], tuple[str, Callable]]:
    """Every (method, path) of the API: what B's key is expected to get, and the call."""
    iid, fid, jid, mid, eid = data.interaction, data.file, data.job, data.model, data.evaluation
    aid = data.autopilot
    wid, did = data.webhook, data.delivery
    chat = {"model": mid, "messages": [{"role": "user", "content": "where is my card"}]}
    rows = [{"input": "hello there", "output": "hi", "rating": 0.9, "task_type": "greet"}]
    return {
        ("get", "/healthz"): (PUBLIC, lambda b: b.get("/healthz")),
        ("get", "/readyz"): (PUBLIC, lambda b: b.get("/readyz")),
        ("get", "/v1/interactions"): (NONE_LISTED, lambda b: b.get("/v1/interactions")),
        ("post", "/v1/interactions"): (
            OWN_ONLY,
            lambda b: b.post("/v1/interactions", json=rows[0]),
        ),
        ("post", "/v1/interactions/batch"): (
            OWN_ONLY,
            lambda b: b.post("/v1/interactions/batch", json={"items": rows}),
        ),
        ("get", "/v1/interactions/stats"): (NONE_LISTED, lambda b: b.get("/v1/interactions/stats")),
        ("get", "/v1/interactions/{interaction_id}"): (
            MISSING,
            lambda b: b.get(f"/v1/interactions/{iid}"),
        ),
        ("patch", "/v1/interactions/{interaction_id}"): (
            MISSING,
            lambda b: b.patch(f"/v1/interactions/{iid}", json={"rating": 0.0}),
        ),
        ("delete", "/v1/interactions/{interaction_id}"): (
            MISSING,
            lambda b: b.delete(f"/v1/interactions/{iid}"),
        ),
        ("post", "/v1/interactions/{interaction_id}/scores"): (
            MISSING,
            lambda b: b.post(
                f"/v1/interactions/{iid}/scores", json={"name": "x", "value": 1.0, "source": "app"}
            ),
        ),
        ("get", "/v1/interactions/{interaction_id}/events"): (
            MISSING,
            lambda b: b.get(f"/v1/interactions/{iid}/events"),
        ),
        ("get", "/v1/jobs"): (NONE_LISTED, lambda b: b.get("/v1/jobs")),
        ("post", "/v1/jobs"): (  # names no project data by id: a job on B's own rows
            OWN_ONLY,
            lambda b: b.post("/v1/jobs", json={"lab_eval_set": True, "include_synthetic": True}),
        ),
        ("get", "/v1/jobs/{job_id}"): (MISSING, lambda b: b.get(f"/v1/jobs/{jid}")),
        ("delete", "/v1/jobs/{job_id}"): (MISSING, lambda b: b.delete(f"/v1/jobs/{jid}")),
        ("post", "/v1/jobs/{job_id}/cancel"): (
            MISSING,
            lambda b: b.post(f"/v1/jobs/{eid}/cancel", headers=JSON),
        ),
        ("post", "/v1/jobs/{job_id}/pause"): (
            MISSING,
            lambda b: b.post(f"/v1/jobs/{eid}/pause", headers=JSON),
        ),
        ("post", "/v1/jobs/{job_id}/resume"): (
            MISSING,
            lambda b: b.post(f"/v1/jobs/{jid}/resume", headers=JSON),
        ),
        ("get", "/v1/jobs/{job_id}/events"): (MISSING, lambda b: b.get(f"/v1/jobs/{jid}/events")),
        ("get", "/v1/jobs/{job_id}/cases"): (
            MISSING,
            lambda b: b.get(f"/v1/jobs/{jid}/cases?outcome=regressed"),
        ),
        ("get", "/v1/jobs/{job_id}/compare"): (
            MISSING,
            lambda b: b.get(f"/v1/jobs/{jid}/compare?with={eid}"),
        ),
        ("get", "/v1/jobs/{job_id}/training_file"): (
            MISSING,
            lambda b: b.get(f"/v1/jobs/{jid}/training_file"),
        ),
        ("get", "/v1/jobs/{job_id}/report.md"): (
            MISSING,
            lambda b: b.get(f"/v1/jobs/{jid}/report.md"),
        ),
        ("post", "/v1/evaluations"): (
            REFUSED,
            lambda b: b.post(
                "/v1/evaluations",
                json={
                    "model_a": "tuneloop-keyword-baseline",
                    "model_b": mid,
                    "eval_set": eval_set(),
                },
            ),
        ),
        ("get", "/v1/models"): (NONE_LISTED, lambda b: b.get("/v1/models")),
        ("get", "/v1/models/{model_id}"): (MISSING, lambda b: b.get(f"/v1/models/{mid}")),
        ("delete", "/v1/models/{model_id}"): (MISSING, lambda b: b.delete(f"/v1/models/{mid}")),
        ("get", "/v1/models/{model_id}/content"): (
            MISSING,
            lambda b: b.get(f"/v1/models/{mid}/content"),
        ),
        ("post", "/v1/models/{model_id}/responses"): (
            MISSING,
            lambda b: b.post(f"/v1/models/{mid}/responses", json={"input": "where is my card"}),
        ),
        ("get", "/v1/fine_tuning/jobs"): (NONE_LISTED, lambda b: b.get("/v1/fine_tuning/jobs")),
        ("post", "/v1/fine_tuning/jobs"): (
            REFUSED,
            lambda b: b.post(
                "/v1/fine_tuning/jobs",
                json={"model": "tuneloop-keyword-baseline", "training_file": fid},
            ),
        ),
        ("get", "/v1/fine_tuning/jobs/{job_id}"): (
            MISSING,
            lambda b: b.get(f"/v1/fine_tuning/jobs/{jid}"),
        ),
        ("post", "/v1/fine_tuning/jobs/{job_id}/cancel"): (
            MISSING,
            lambda b: b.post(f"/v1/fine_tuning/jobs/{jid}/cancel", headers=JSON),
        ),
        ("post", "/v1/fine_tuning/jobs/{job_id}/pause"): (
            MISSING,
            lambda b: b.post(f"/v1/fine_tuning/jobs/{jid}/pause", headers=JSON),
        ),
        ("post", "/v1/fine_tuning/jobs/{job_id}/resume"): (
            MISSING,
            lambda b: b.post(f"/v1/fine_tuning/jobs/{jid}/resume", headers=JSON),
        ),
        ("get", "/v1/fine_tuning/jobs/{job_id}/events"): (
            MISSING,
            lambda b: b.get(f"/v1/fine_tuning/jobs/{jid}/events"),
        ),
        ("get", "/v1/fine_tuning/jobs/{job_id}/checkpoints"): (
            MISSING,
            lambda b: b.get(f"/v1/fine_tuning/jobs/{jid}/checkpoints"),
        ),
        ("get", "/v1/files"): (NONE_LISTED, lambda b: b.get("/v1/files")),
        ("get", "/v1/usage"): (NONE_LISTED, lambda b: b.get("/v1/usage")),
        ("post", "/v1/files"): (
            OWN_ONLY,
            lambda b: b.post(
                "/v1/files",
                files={"file": ("b.jsonl", chat_file())},
                data={"purpose": "fine-tune"},
            ),
        ),
        ("get", "/v1/files/{file_id}"): (MISSING, lambda b: b.get(f"/v1/files/{fid}")),
        ("delete", "/v1/files/{file_id}"): (MISSING, lambda b: b.delete(f"/v1/files/{fid}")),
        ("get", "/v1/files/{file_id}/content"): (
            MISSING,
            lambda b: b.get(f"/v1/files/{fid}/content"),
        ),
        ("get", "/v1/autopilots"): (NONE_LISTED, lambda b: b.get("/v1/autopilots")),
        ("post", "/v1/autopilots"): (OWN_ONLY, lambda b: b.post("/v1/autopilots", json=AUTOPILOT)),
        ("get", "/v1/autopilots/{autopilot_id}"): (
            MISSING,
            lambda b: b.get(f"/v1/autopilots/{aid}"),
        ),
        ("delete", "/v1/autopilots/{autopilot_id}"): (
            MISSING,
            lambda b: b.delete(f"/v1/autopilots/{aid}"),
        ),
        ("post", "/v1/autopilots/{autopilot_id}/pause"): (
            MISSING,
            lambda b: b.post(f"/v1/autopilots/{aid}/pause", headers=JSON),
        ),
        ("post", "/v1/autopilots/{autopilot_id}/resume"): (
            MISSING,
            lambda b: b.post(f"/v1/autopilots/{aid}/resume", headers=JSON),
        ),
        ("get", "/v1/webhooks"): (NONE_LISTED, lambda b: b.get("/v1/webhooks")),
        ("post", "/v1/webhooks"): (
            OWN_ONLY,
            lambda b: b.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/b", "events": ["*"]}),
        ),
        ("get", "/v1/webhooks/{webhook_id}"): (MISSING, lambda b: b.get(f"/v1/webhooks/{wid}")),
        ("delete", "/v1/webhooks/{webhook_id}"): (
            MISSING,
            lambda b: b.delete(f"/v1/webhooks/{wid}"),
        ),
        ("get", "/v1/webhooks/{webhook_id}/deliveries"): (
            MISSING,
            lambda b: b.get(f"/v1/webhooks/{wid}/deliveries"),
        ),
        ("post", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): (
            MISSING,
            lambda b: b.post(f"/v1/webhooks/{wid}/deliveries/{did}/redeliver", headers=JSON),
        ),
        ("post", "/v1/chat/completions"): (
            MISSING,
            lambda b: b.post("/v1/chat/completions", json=chat),
        ),
    }


def check(expected: str, response: object, data: ProjectA) -> str:
    """Return what B got, asserting it is what the matrix expects."""
    status, text = response.status_code, response.text
    where = f"{response.request.method} {response.request.path_url}: {status} {text[:300]}"
    sent = response.request.path_url + str(response.request.body or "")
    leaked = [i for i in data.ids() if i in text and i not in sent]  # B named only what it sent
    assert not leaked, f"{where} shows A's ids {leaked}"
    if expected == MISSING:
        assert status == 404, where
    elif expected == REFUSED:  # the id B named is unknown to it, as a missing one is
        assert 400 <= status < 500 and status not in (401, 403), where
        assert any(i in text for i in data.ids()) and ("no " in text or "unknown" in text), where
    elif expected in (NONE_LISTED, PUBLIC):
        assert status == 200 or (expected == PUBLIC and status == 503), where
    elif expected == OWN_ONLY:
        assert 200 <= status < 300, where
    return f"{status} {text[:90]!r}" if expected == REFUSED else f"{status}"


def test_every_route_answers_another_projects_ids_as_missing(
    stack: Stack, a_data: ProjectA
) -> None:
    with client_for(stack, KEY_A) as a, client_for(stack, KEY_B) as b:
        paths = stack_paths(a)
        calls = route_calls(a_data)
        assert set(calls) == paths, (
            f"routes without a row: {sorted(paths - set(calls))}; "
            f"rows without a route: {sorted(set(calls) - paths)}"
        )
        before = snapshot(a, a_data)
        assert before["stats"]["count"] > 0
        matrix = []
        for (method, path), (expected, call) in sorted(calls.items()):
            got = check(expected, call(b), a_data)
            matrix.append(f"| {method.upper()} {path} | {expected} | {got} |")
        assert b.get("/v1/interactions/stats").json()["count"] == 2  # only B's own two rows
        b_usage = b.get("/v1/usage").json()
        assert b_usage["project"] == "team-b" and b_usage["by_kind"]["interactions"]["count"] == 2
        assert b_usage["by_kind"]["models"]["count"] == 0  # A's model is not B's
        (b_job,) = b.get("/v1/jobs").json()["data"]
        # Its snapshot is B's own sequence: B's two interactions, none of A's.
        assert stack.store.jobs.get(b_job["id"])["snapshot_seq"] == 2
        assert a.get(f"/v1/jobs/{b_job['id']}").status_code == 404  # and A cannot see B's
        for own, other, client in ((b_job["id"], a_data.job, b), (a_data.job, b_job["id"], a)):
            mixed = client.get(f"/v1/jobs/{own}/compare?with={other}")  # B: another project's
            assert mixed.status_code == 404 and other in mixed.json()["errors"]["with"][0], (
                mixed.text
            )
        (b_hook,) = b.get("/v1/webhooks").json()["data"]  # B's own, made by its POST above
        mixed = f"/v1/webhooks/{b_hook['id']}/deliveries/{a_data.delivery}/redeliver"
        assert b.post(mixed, headers=JSON).status_code == 404  # A's delivery under B's endpoint
        assert a.get(f"/v1/webhooks/{b_hook['id']}").status_code == 404
        assert snapshot(a, a_data) == {**before, "stats": before["stats"]}  # nothing changed
        print("\n".join(["| route | B's key, A's data | answer |", *matrix]))


def stack_paths(client: ApiClient) -> set[tuple[str, str]]:
    """Every (method, path) the gateway's OpenAPI document lists."""
    spec = client.get("/openapi.json").json()
    return {
        (method, path)
        for path, ops in spec["paths"].items()
        for method in ops
        if method in ("get", "post", "patch", "put", "delete")
    }


def test_an_every_project_key_works_in_the_project_its_header_names(
    stack: Stack, a_data: ProjectA
) -> None:
    with client_for(stack, KEY_ALL) as ops:
        in_a = ops.get(f"/v1/jobs/{a_data.job}", headers={"OpenAI-Project": "team-a"})
        assert in_a.status_code == 200, in_a.text
        in_default = ops.get(f"/v1/jobs/{a_data.job}")  # no header: the default project
        assert in_default.status_code == 404, in_default.text
        unknown = ops.get("/v1/jobs", headers={"OpenAI-Project": "nobody"})
        assert unknown.status_code == 404 and "nobody" in unknown.text, unknown.text
    with client_for(stack, KEY_B) as b:
        asked = b.get(f"/v1/jobs/{a_data.job}", headers={"OpenAI-Project": "team-a"})
        assert asked.status_code == 403, asked.text  # a key works only in its own project


def test_the_hot_lane_reads_and_posts_in_the_keys_project(stack: Stack, a_data: ProjectA) -> None:
    # A plain GET of one job and a plain POST of one interaction are served before Flask.
    with client_for(stack, KEY_B) as b, client_for(stack, KEY_A) as a:
        assert b.get(f"/v1/jobs/{a_data.job}").status_code == 404
        before = a.get("/v1/interactions/stats").json()["count"]
        posted = b.post(
            "/v1/interactions",
            json={"input": "hey", "output": "yo", "rating": 1.0, "task_type": "greet"},
        )
        assert posted.status_code == 201, posted.text
        assert a.get(f"/v1/interactions/{posted.json()['id']}").status_code == 404
        assert a.get("/v1/interactions/stats").json()["count"] == before


def test_a_jobs_alias_is_its_projects(stack: Stack, a_data: ProjectA) -> None:
    with client_for(stack, KEY_B) as b, client_for(stack, KEY_A) as a:
        promoted = a.get("/v1/models/latest-promoted")
        assert promoted.status_code == 200 and promoted.json()["id"] == a_data.model, promoted.text
        assert b.get("/v1/models/latest-promoted").status_code == 404


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def signed_in(stack: Stack, key: str) -> requests.Session:
    """A browser-like session signed in to the report pages with key."""
    session = requests.Session()
    session.trust_env = False
    form = session.get(f"{stack.base_url}/ui/login", timeout=30)
    token = CSRF.search(form.text)
    assert token, form.text[:300]
    data = {"csrf_token": token.group(1), "api_key": key, "next": "/ui/jobs"}
    done = session.post(f"{stack.base_url}/ui/login", data=data, allow_redirects=False, timeout=30)
    assert done.status_code == 303, done.text[:300]
    return session


def test_the_pages_show_only_the_signed_in_keys_project(stack: Stack, a_data: ProjectA) -> None:
    base = f"{stack.base_url}/ui"
    with signed_in(stack, KEY_B) as b, signed_in(stack, KEY_A) as a:
        assert a_data.job in a.get(f"{base}/jobs", timeout=30).text  # A sees its own job
        assert a_data.autopilot in a.get(f"{base}/autopilots", timeout=30).text
        listed = b.get(f"{base}/jobs", timeout=30)
        assert listed.status_code == 200 and a_data.job not in listed.text
        autopilots = b.get(f"{base}/autopilots", timeout=30)
        assert autopilots.status_code == 200 and a_data.autopilot not in autopilots.text
        assert a_data.interaction in a.get(f"{base}/interactions", timeout=30).text
        data = b.get(f"{base}/interactions", timeout=30)
        assert data.status_code == 200 and a_data.interaction not in data.text
        token = CSRF.search(listed.text)
        assert token, listed.text[:300]
        for method, path in [
            ("get", f"/jobs/{a_data.job}"),
            ("get", f"/jobs/{a_data.job}/live.json"),
            ("get", f"/jobs/{a_data.job}/cases?outcome=wrong"),
            ("get", f"/jobs/new?from={a_data.job}"),
            ("get", f"/jobs/{a_data.job}/download/training.jsonl"),
            ("get", f"/jobs/{a_data.job}/download/report.json"),
            ("get", f"/jobs/{a_data.job}/download/report.md"),
            ("get", f"/models/{a_data.model}/download"),
            ("get", f"/models/{a_data.model}"),
            ("post", f"/jobs/{a_data.job}/cancel"),
            ("post", f"/jobs/{a_data.evaluation}/pause"),
            ("post", f"/jobs/{a_data.job}/resume"),
            ("post", f"/models/{a_data.model}/ask"),
            ("get", f"/autopilots/{a_data.autopilot}"),
            ("post", f"/autopilots/{a_data.autopilot}/pause"),
            ("get", f"/compare?a={a_data.job}&b={a_data.evaluation}"),
            ("get", f"/interactions/{a_data.interaction}"),
            ("post", f"/interactions/{a_data.interaction}/edit"),
        ]:
            form = {"csrf_token": token.group(1), "input": "hi", "rating": "0.9", "task_type": "x"}
            data = form if method == "post" else None
            answer = b.request(method, base + path, data=data, timeout=30)
            assert answer.status_code == 404, (method, path, answer.status_code)
            shown = [i for i in a_data.ids() if i in answer.text and i not in path]
            assert not shown, (method, path, shown)  # B named only what it asked for
    with client_for(stack, KEY_A) as api:  # B's edit form changed nothing of A's
        assert api.get(f"/v1/interactions/{a_data.interaction}").json()["rating"] == 0.2


def test_a_short_id_never_names_another_projects_record(stack: Stack, a_data: ProjectA) -> None:
    a_ids = {
        "jobs": a_data.job,
        "models": a_data.model,
        "interactions": a_data.interaction,
        "files": a_data.file,
        "autopilots": a_data.autopilot,
        "webhooks": a_data.webhook,
    }
    a_view, b_view = stack.store.scoped("team-a"), stack.store.scoped("team-b")
    for kind, full in a_ids.items():
        short = full[: len(full) - 8]
        assert getattr(a_view, kind).with_prefix(short).ids == [full], kind
        assert getattr(b_view, kind).with_prefix(short).total == 0, kind
        assert getattr(a_view, kind).with_prefix(short[:2] + "*").total == 0, kind  # literal
    short_job, short_model = a_data.job[:14], a_data.model[:-4]
    with client_for(stack, KEY_A) as a, client_for(stack, KEY_B) as b:
        mine = a.get("/v1/jobs", params={"id_prefix": short_job}).json()["data"]
        assert [j["id"] for j in mine] == [a_data.job]
        assert b.get("/v1/jobs", params={"id_prefix": short_job}).json()["data"] == []
        models = b.get("/v1/models", params={"id_prefix": short_model}).json()["data"]
        assert models == []
        assert [
            m["id"] for m in a.get("/v1/models", params={"id_prefix": short_model}).json()["data"]
        ] == [a_data.model]
        for path, full in (("/v1/autopilots", a_data.autopilot), ("/v1/webhooks", a_data.webhook)):
            short = {"id_prefix": full[:-6]}
            assert [r["id"] for r in a.get(path, params=short).json()["data"]] == [full], path
            assert b.get(path, params=short).json()["data"] == [], path
        both = a.get("/v1/jobs", params={"id_prefix": short_job, "after": a_data.job})
        assert both.status_code == 422 and "id_prefix" in both.json()["errors"], both.text
    with signed_in(stack, KEY_B) as b_pages, signed_in(stack, KEY_A) as a_pages:
        page = f"{stack.base_url}/ui/jobs/{short_job}"
        assert b_pages.get(page, allow_redirects=False, timeout=30).status_code == 404
        moved = a_pages.get(page, allow_redirects=False, timeout=30)
        assert moved.status_code == 303 and moved.headers["Location"].endswith(a_data.job)
        for kind, full in (("autopilots", a_data.autopilot), ("models", a_data.model)):
            page = f"{stack.base_url}/ui/{kind}/{full[:-4]}"
            assert b_pages.get(page, allow_redirects=False, timeout=30).status_code == 404
            moved = a_pages.get(page, allow_redirects=False, timeout=30)
            assert moved.status_code == 303 and moved.headers["Location"].endswith(full), kind
    env = cli_env(stack, TUNELOOP_API_KEY=KEY_B)
    shown = subprocess.run(
        [str(TUNELOOP), "jobs", "show", short_job],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shown.returncode == 1 and "404" in shown.stderr, shown.stderr
