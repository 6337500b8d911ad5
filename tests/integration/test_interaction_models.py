"""The model an interaction names, in Redis: its index, its ratings, the count of adds.

A private redis-server of this module's own (no worker, no gateway): the store alone. The
per-model index must hold exactly the live interactions whose record names the model,
whatever was added, edited or deleted; recent_ratings reads the current ratings through it;
ratings_added counts adds only.
"""

import random
from collections.abc import Iterator

import pytest
from redis import Redis

from tuneloop.store import Store, keys
from tuneloop.store import interactions as interaction_store
from tuneloop.store.budget import Budget, BudgetExceeded
from tuneloop.store.interactions import InteractionStore
from tuneloop.store.ratelimit import RateLimitedError, Window

from .support import private_stack

pytestmark = pytest.mark.integration

EVENT = {"type": "interaction.updated", "actor": "tests"}
MODELS = ["ft-support-0123456789ab", "gpt-4o-mini", "meta-llama/Llama-3.1-8B", "a:b*{c}"]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A private redis-server for this module."""
    with private_stack("tuneloop-models-") as stack:
        yield stack.start_redis(appendfsync=None)


@pytest.fixture
def store(redis_url: str) -> Iterator[Store]:
    redis = Redis.from_url(redis_url, decode_responses=True)
    redis.flushdb()
    yield Store(redis)
    redis.close()


def item(n: int, rating: float = 0.5, model: str | None = None, task: str = "weather") -> dict:
    row = {"input": f"question {n}", "output": f"answer {n}", "rating": rating, "task_type": task}
    return row if model is None else {**row, "model": model}


def change(**fields: object):
    return lambda record: {**record, **fields}


def live(store: Store) -> list[dict]:
    """Every live record, oldest first."""
    rows, has_more = store.interactions.page(limit=100_000)
    assert not has_more
    return rows


def assert_index_matches_records(store: Store, models: list[str]) -> None:
    """Each model's index holds the live records naming it, by creation order; nothing else."""
    rows = live(store)
    for model in models:
        indexed = store.redis.zrange(keys.DEFAULT_SPACE.interactions_of_model(model), 0, -1)
        assert indexed == [r["id"] for r in rows if r.get("model") == model], model
        ratings = [r["rating"] for r in rows if r.get("model") == model]
        assert store.interactions.recent_ratings(model, 10_000) == ratings[::-1], model


def test_recent_ratings_are_the_models_newest_current_ratings_newest_first(store: Store) -> None:
    ints = store.interactions
    a = ints.add_many([item(i, i / 10, "gpt-4o-mini") for i in range(5)])
    ints.add_many([item(9, 0.99, "ft-other-0123456789ab"), item(10, 0.98)])
    (late,) = ints.add_many([item(11, 0.11, "gpt-4o-mini")])
    assert ints.recent_ratings("gpt-4o-mini", 3) == [0.11, 0.4, 0.3]
    assert ints.recent_ratings("gpt-4o-mini", 100) == [0.11, 0.4, 0.3, 0.2, 0.1, 0.0]
    assert ints.recent_ratings("gpt-4o-mini", 0) == []
    assert ints.recent_ratings("no-such-model", 5) == []

    ints.update(late["id"], change(rating=0.77), EVENT)  # an edited rating reads its new value
    assert ints.recent_ratings("gpt-4o-mini", 2) == [0.77, 0.4]
    ints.update(a[4]["id"], change(model="ft-other-0123456789ab"), EVENT)  # moved away
    assert ints.recent_ratings("gpt-4o-mini", 2) == [0.77, 0.3]
    assert ints.recent_ratings("ft-other-0123456789ab", 5) == [0.99, 0.4]  # by creation order
    ints.delete(a[3]["id"], EVENT)
    assert ints.recent_ratings("gpt-4o-mini", 3) == [0.77, 0.2, 0.1]
    ints.update(a[2]["id"], change(model=None), EVENT)  # null: no model any more
    assert ints.recent_ratings("gpt-4o-mini", 9) == [0.77, 0.1, 0.0]
    assert "model" not in ints.get(a[2]["id"])


def test_an_interaction_stored_without_a_model_joins_the_index_at_its_creation_place(
    store: Store,
) -> None:
    ints = store.interactions
    old, _, new = ints.add_many([item(1, 0.1), item(2, 0.2, "gpt-4o-mini"), item(3, 0.3)])
    ints.add_many([item(4, 0.4, "gpt-4o-mini")])
    assert ints.recent_ratings("gpt-4o-mini", 9) == [0.4, 0.2]
    ints.update(new["id"], change(model="gpt-4o-mini"), EVENT)
    ints.update(old["id"], change(model="gpt-4o-mini"), EVENT)
    assert ints.recent_ratings("gpt-4o-mini", 9) == [0.4, 0.3, 0.2, 0.1]


def test_recent_ratings_reads_past_deleted_and_moved_rows_in_bounded_batches(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(interaction_store, "RATINGS_BATCH", 3)
    ints = store.interactions
    rows = ints.add_many([item(i, i / 100, "gpt-4o-mini") for i in range(20)])
    for gone in rows[10:17]:  # most of the newest batches' rows
        ints.delete(gone["id"], EVENT)
    ints.update(rows[18]["id"], change(model="gpt-4o"), EVENT)
    assert ints.recent_ratings("gpt-4o-mini", 5) == [0.19, 0.17, 0.09, 0.08, 0.07]
    assert ints.recent_ratings("gpt-4o-mini", 100) == [i / 100 for i in (19, 17, *range(9, -1, -1))]


@pytest.mark.parametrize("race", ["moved", "deleted"])
def test_a_row_moved_or_deleted_between_the_index_read_and_the_record_read_is_passed_over(
    store: Store, monkeypatch: pytest.MonkeyPatch, race: str
) -> None:
    ints = store.interactions
    rows = ints.add_many([item(i, i / 10, "gpt-4o-mini") for i in range(4)])
    read = ints.get_many

    def racing(ids: list[str]) -> list[dict]:
        monkeypatch.setattr(ints, "get_many", read)  # once: the first batch's read
        if race == "moved":
            ints.update(rows[3]["id"], change(model="gpt-4o"), EVENT)
        else:
            ints.delete(rows[3]["id"], EVENT)
        return read(ids)

    monkeypatch.setattr(ints, "get_many", racing)
    assert ints.recent_ratings("gpt-4o-mini", 2) == [0.2, 0.1]


def test_the_model_index_matches_the_records_after_any_history(store: Store) -> None:
    rng = random.Random(28)
    ints, added = store.interactions, 0
    for step in range(300):
        rows = live(store) if step % 3 else []
        roll = rng.random()
        if not rows or roll < 0.4:
            batch = [
                item(step * 10 + i, rng.choice([0.0, 0.3, 0.9, 1.0]), rng.choice([*MODELS, None]))
                for i in range(rng.randint(1, 4))
            ]
            added += len(ints.add_many(batch))
        elif roll < 0.8:
            fields = rng.choice(
                [
                    {"model": rng.choice([*MODELS, None])},
                    {"rating": rng.random()},
                    {"task_type": rng.choice(["weather", "travel"])},
                    {"model": rng.choice(MODELS), "rating": rng.random()},
                ]
            )
            ints.update(rng.choice(rows)["id"], change(**fields), EVENT)
        else:
            ints.delete(rng.choice(rows)["id"], EVENT)
        if step % 25 == 0:
            assert_index_matches_records(store, MODELS)
    assert_index_matches_records(store, MODELS)
    assert ints.ratings_added() == added


def test_ratings_added_counts_every_add_and_nothing_else(store: Store) -> None:
    ints = store.interactions
    assert ints.ratings_added() == 0
    (one,) = ints.add_many([item(1, model="gpt-4o-mini")])
    assert ints.ratings_added() == 1
    batch = ints.add_many([item(i, model=MODELS[i % 2]) for i in range(2, 7)])
    assert ints.ratings_added() == 6
    ints.update(one["id"], change(rating=0.1, model="gpt-4o"), EVENT)
    ints.delete(batch[0]["id"], EVENT)
    ints.delete(batch[1]["id"], EVENT)
    assert ints.ratings_added() == 6  # an edit and two deletes: the sequence moved, not this
    assert ints.last_seq() > 6


def test_a_refused_add_counts_nothing_and_indexes_nothing(store: Store) -> None:
    ints = store.interactions
    ints.add_many([item(1, 0.5, "gpt-4o-mini")])
    window = Window("tests:models:minute", 60, 1)
    ints.add_many([item(2, 0.6, "gpt-4o-mini")], [window])  # uses the window up
    with pytest.raises(RateLimitedError):
        ints.add_many([item(3, 0.7, "gpt-4o-mini")], [window])
    poor = InteractionStore(store.redis, keys.DEFAULT_SPACE, Budget(max_bytes=1))
    with pytest.raises(BudgetExceeded):
        poor.add_many([item(4, 0.8, "gpt-4o-mini")])
    assert ints.ratings_added() == 2
    assert ints.recent_ratings("gpt-4o-mini", 9) == [0.6, 0.5]


def test_another_projects_interactions_never_reach_this_projects_ratings(store: Store) -> None:
    mine, theirs = store.interactions, store.scoped("team-b").interactions
    mine.add_many([item(1, 0.1, "gpt-4o-mini")])
    (other,) = theirs.add_many([item(2, 0.9, "gpt-4o-mini")])
    theirs.add_many([item(i, 0.8, "gpt-4o-mini") for i in range(3, 6)])
    theirs.update(other["id"], change(rating=0.95), EVENT)
    assert mine.recent_ratings("gpt-4o-mini", 10) == [0.1]
    assert theirs.recent_ratings("gpt-4o-mini", 10) == [0.8, 0.8, 0.8, 0.95]
    assert (mine.ratings_added(), theirs.ratings_added()) == (1, 4)
    for project, n in (("default", 1), ("team-b", 4)):  # each index in its own key space
        assert store.redis.zcard(keys.Space(project).interactions_of_model("gpt-4o-mini")) == n
    rows, _ = mine.page(limit=10, model="gpt-4o-mini")
    assert [r["rating"] for r in rows] == [0.1]
