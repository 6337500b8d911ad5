"""`model` on an interaction through the session's gunicorn gateway: posted, read, patched,
batched, filtered on, refused when malformed (nothing stored), and counted once per add."""

import secrets
from collections.abc import Callable

import pytest

from tuneloop.store import keys

from .support import ApiClient, Stack, assert_problem

pytestmark = pytest.mark.integration

TAG = secrets.token_hex(4)
LIVE, OTHER = f"ft-live{TAG}-0123456789ab", f"meta-llama/other-{TAG}@v1"


def item(n: int, **more: object) -> dict:
    return {"input": f"question {n} {TAG}", "output": f"answer {n}", "rating": 0.5} | {
        "task_type": f"models-{TAG}",
        **more,
    }


def listed(client: ApiClient, limit: int = 1000, **params: object) -> list[dict]:
    """Every interaction the list gives for params, following the cursor."""
    found: list[dict] = []
    after = None
    while True:
        query = {"limit": limit, **params, **({"after": after} if after else {})}
        page = client.get("/v1/interactions", params=query)
        assert page.status_code == 200, page.text
        found += page.json()["data"]
        if not page.json()["has_more"]:
            return found
        after = found[-1]["id"]


@pytest.fixture
def added(stack: Stack) -> Callable[[], int]:
    """The default project's count of interactions ever added."""
    return stack.store.interactions.ratings_added


def test_model_round_trips_through_post_get_patch_and_batch(
    client: ApiClient, stack: Stack
) -> None:
    posted = client.post("/v1/interactions", json=item(1, model=LIVE))
    assert posted.status_code == 201, posted.text
    iid = posted.json()["id"]
    assert posted.json()["model"] == LIVE
    assert client.get(f"/v1/interactions/{iid}").json()["model"] == LIVE

    plain = client.post("/v1/interactions", json=item(2))
    assert plain.status_code == 201 and plain.json()["model"] is None
    assert client.get(f"/v1/interactions/{plain.json()['id']}").json()["model"] is None
    assert "model" not in stack.store.interactions.get(plain.json()["id"])

    batch = client.post(
        "/v1/interactions/batch",
        json={"items": [item(3, model=OTHER), item(4), item(5, model=LIVE, rating=0.9)]},
    )
    assert batch.status_code == 201, batch.text
    got = [client.get(f"/v1/interactions/{i}").json()["model"] for i in batch.json()["ids"]]
    assert got == [OTHER, None, LIVE]

    rated = client.patch(f"/v1/interactions/{iid}", json={"rating": 0.1})
    assert rated.status_code == 200 and rated.json()["model"] == LIVE  # kept by other edits
    moved = client.patch(f"/v1/interactions/{iid}", json={"model": OTHER})
    assert moved.status_code == 200 and moved.json()["model"] == OTHER
    assert client.get(f"/v1/interactions/{iid}").json()["model"] == OTHER
    cleared = client.patch(f"/v1/interactions/{iid}", json={"model": None})
    assert cleared.status_code == 200 and cleared.json()["model"] is None
    assert "model" not in stack.store.interactions.get(iid)
    events = client.get(f"/v1/interactions/{iid}/events").json()["data"]
    assert [e["changes"].get("model") for e in events] == [
        None,
        {"before": LIVE, "after": OTHER},
        {"before": OTHER, "after": None},
    ]


def test_the_list_filter_pages_through_exactly_that_models_interactions(
    client: ApiClient, stack: Stack
) -> None:
    model = f"gpt-filter-{TAG}"
    batch = client.post(
        "/v1/interactions/batch",
        json={
            "items": [item(i, model=model if i % 3 else OTHER, rating=i / 10) for i in range(10)]
        },
    )
    assert batch.status_code == 201, batch.text
    ids = batch.json()["ids"]
    mine = [iid for i, iid in enumerate(ids) if i % 3]
    assert [r["id"] for r in listed(client, 2, model=model)] == mine  # pages of 2, in order
    assert [r["id"] for r in listed(client, model=model, min_rating=0.5)] == [
        iid for i, iid in enumerate(ids) if i % 3 and i >= 5
    ]
    assert listed(client, model=model, task_type="another-task") == []
    client.patch(f"/v1/interactions/{ids[0]}", json={"model": model})  # joins, in first place
    client.patch(f"/v1/interactions/{ids[1]}", json={"model": OTHER})  # leaves
    client.delete(f"/v1/interactions/{ids[2]}")
    assert [r["id"] for r in listed(client, model=model)] == [ids[0], *mine[2:]]
    assert [r["rating"] for r in listed(client, model=model)][::-1] == (
        stack.store.interactions.recent_ratings(model, 100)
    )
    assert listed(client, model=f"nobody-{TAG}") == []


BAD = ["", "m" * 129, "-leading", "has space", "gpt*", "a\u00e9", 7, ["gpt-4o"], "latest-promoted"]


@pytest.mark.parametrize("model", BAD, ids=repr)
def test_a_bad_model_is_refused_422_naming_model_and_nothing_is_stored(
    client: ApiClient, stack: Stack, added: Callable[[], int], model: object
) -> None:
    existing = client.post("/v1/interactions", json=item(0, model=LIVE)).json()["id"]
    count, before = client.get("/v1/interactions/stats").json()["count"], added()
    assert_problem(client.post("/v1/interactions", json=item(1, model=model)), 422, ["model"])
    batch = {"items": [item(2, model=LIVE), item(3, model=model)]}
    assert_problem(client.post("/v1/interactions/batch", json=batch), 422, ["items"])
    patch = client.patch(f"/v1/interactions/{existing}", json={"rating": 0.2, "model": model})
    assert_problem(patch, 422, ["model"])
    if isinstance(model, str):
        assert_problem(client.get("/v1/interactions", params={"model": model}), 422, ["model"])
    assert client.get("/v1/interactions/stats").json()["count"] == count
    assert added() == before
    record = client.get(f"/v1/interactions/{existing}").json()
    assert (record["model"], record["rating"], record["updated_at"]) == (LIVE, 0.5, None)


def test_ratings_added_counts_posts_and_batches_but_not_replays_or_deletes(
    client: ApiClient, added: Callable[[], int]
) -> None:
    before = added()
    key = f"models-one-{TAG}"
    for _ in range(2):
        one = client.post(
            "/v1/interactions", json=item(1, model=LIVE), headers={"Idempotency-Key": key}
        )
        assert one.status_code == 201, one.text
    assert one.headers.get("Idempotent-Replayed") == "true"
    assert added() == before + 1
    body = {"items": [item(i, model=LIVE) for i in range(5)]}
    for _ in range(2):
        batch = client.post(
            "/v1/interactions/batch", json=body, headers={"Idempotency-Key": f"models-b-{TAG}"}
        )
        assert batch.status_code == 201, batch.text
    assert added() == before + 6
    client.post("/v1/interactions", json=item(7))  # without a model: counted all the same
    assert added() == before + 7
    assert client.delete(f"/v1/interactions/{one.json()['id']}").status_code == 200
    assert client.patch(f"/v1/interactions/{batch.json()['ids'][0]}", json={"rating": 1}).ok
    assert added() == before + 7


def test_a_post_the_hot_lane_serves_indexes_its_model(stack: Stack, client: ApiClient) -> None:
    posted = client.post("/v1/interactions", json=item(1, model=f"solo-{TAG}"))  # plainly valid
    assert posted.status_code == 201 and posted.json()["model"] == f"solo-{TAG}"
    index = keys.DEFAULT_SPACE.interactions_of_model(f"solo-{TAG}")
    assert stack.store.redis.zrange(index, 0, -1) == [posted.json()["id"]]
