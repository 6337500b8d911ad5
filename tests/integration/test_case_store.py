"""A job's regressed, improved and both-wrong cases in Redis: replaced whole, paged, deleted."""

import json
from collections.abc import Iterable, Iterator

import pytest
from redis import Redis

from tuneloop.store import keys
from tuneloop.store.budget import Budget, BudgetExceeded
from tuneloop.store.cases import CaseStore

from .support import private_stack

pytestmark = pytest.mark.integration

JID = "ftjob-cases"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A private redis-server for this module."""
    with private_stack("tuneloop-cases-") as stack:
        yield stack.start_redis(appendfsync=None)


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    client.hset(keys.job(JID), "project", '"default"')  # cases are kept only with their job
    yield client
    client.close()


def record(index: int) -> dict:
    return {"index": index, "input": f"q{index}", "expected_type": "a", "reference_output": None}


def stream(
    regressed: list[int], improved: list[int], both_wrong: Iterable[int] = ()
) -> Iterator[tuple[str, dict]]:
    """Yield records of every list interleaved by index, as cases.case_records does."""
    tagged = [(i, "regressed") for i in regressed] + [(i, "improved") for i in improved]
    tagged += [(i, "both_wrong") for i in both_wrong]
    for index, outcome in sorted(tagged):
        yield outcome, record(index)


def test_records_are_stored_per_outcome_in_index_order_in_chunks(redis):
    cases = CaseStore(redis, chunk=3)  # 10 regressed: three full chunks and one of 1
    regressed, improved = list(range(0, 40, 4)), [1, 7]
    assert cases.replace(JID, stream(regressed, improved)) == {
        "regressed": 10,
        "improved": 2,
        "both_wrong": 0,
    }
    assert cases.count(JID, "regressed") == 10
    assert cases.count(JID, "improved") == 2
    got, more = cases.page(JID, "regressed", limit=100)
    assert [r["index"] for r in got] == regressed and more is False
    assert got[0] == record(0)
    assert not redis.keys(f"*{JID}*staging*")


def test_pages_follow_the_index_cursor_to_the_end(redis):
    cases = CaseStore(redis, chunk=4)
    regressed = list(range(3, 300, 7))
    cases.replace(JID, stream(regressed, []))
    seen, after, more = [], None, True
    while more:
        page, more = cases.page(JID, "regressed", limit=5, after=after)
        seen += [r["index"] for r in page]
        after = page[-1]["index"]
    assert seen == regressed


def test_a_cursor_between_indexes_starts_at_the_next_one(redis):
    cases = CaseStore(redis)
    cases.replace(JID, stream([2, 5, 9, 14], []))
    assert [r["index"] for r in cases.page(JID, "regressed", 2, after=6)[0]] == [9, 14]
    assert cases.page(JID, "regressed", 2, after=6)[1] is False
    assert cases.page(JID, "regressed", 1, after=-1) == ([record(2)], True)
    assert cases.page(JID, "regressed", 5, after=14) == ([], False)
    assert cases.page(JID, "improved", 5) == ([], False)


def test_a_second_replace_overwrites_never_appends(redis):
    cases = CaseStore(redis, chunk=2)
    cases.replace(JID, stream([1, 2, 3], [4, 5]))
    assert cases.replace(JID, stream([1, 2, 3], [4, 5])) == {
        "regressed": 3,
        "improved": 2,
        "both_wrong": 0,
    }
    assert cases.count(JID, "regressed") == 3
    assert cases.replace(JID, stream([8], [])) == {"regressed": 1, "improved": 0, "both_wrong": 0}
    assert cases.page(JID, "regressed", 10) == ([record(8)], False)
    assert cases.count(JID, "improved") == 0


def test_what_a_failed_replace_wrote_is_never_read_and_is_cleared_next_time(redis):
    cases = CaseStore(redis, chunk=2)
    cases.replace(JID, stream([1], [2]))

    def failing() -> Iterator[tuple[str, dict]]:
        yield from stream([10, 11, 12, 13], [])
        raise RuntimeError("the evaluation cases changed")

    with pytest.raises(RuntimeError):
        cases.replace(JID, failing())
    assert cases.page(JID, "regressed", 10) == ([record(1)], False)  # the old lists stand
    cases.replace(JID, stream([20], []))
    assert cases.page(JID, "regressed", 10) == ([record(20)], False)
    assert not redis.keys(f"*{JID}*staging*")


def test_lists_have_no_expiry_and_delete_removes_them_all(redis):
    cases = CaseStore(redis, chunk=2)
    cases.replace(JID, stream([1, 3, 5], [2]))
    assert redis.ttl(keys.job_cases(JID, "regressed")) == -1

    def failing() -> Iterator[tuple[str, dict]]:
        yield from stream([7, 8], [])  # one full chunk: written to staging
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError):
        cases.replace(JID, failing())
    assert not redis.keys(f"*{JID}*staging*")  # a failed write removes what it staged
    redis.rpush(keys.job_cases(JID, "regressed:staging:dead-writer"), "{}")  # a writer that died
    cases.delete(JID)
    assert not redis.keys(f"*{JID}:cases*")


def test_two_writers_that_overlap_each_store_a_whole_list(redis):
    cases = CaseStore(redis, chunk=2)

    def first_writer() -> Iterator[tuple[str, dict]]:
        yield from stream([1, 2, 3], [])
        # a second runner of the same compare starts and finishes meanwhile
        assert cases.replace(JID, stream([1, 2, 3, 4, 5], []), "runner-b")["regressed"] == 5
        yield from stream([4, 5], [])

    assert cases.replace(JID, first_writer(), "runner-a") == {
        "regressed": 5,
        "improved": 0,
        "both_wrong": 0,
    }
    assert cases.page(JID, "regressed", 10) == ([record(i) for i in (1, 2, 3, 4, 5)], False)


def test_cases_of_a_job_that_is_gone_are_not_kept(redis):
    redis.delete(keys.job(JID))  # deleted while its compare ran
    CaseStore(redis, chunk=2).replace(JID, stream([1, 3, 5], [2]))
    assert not redis.keys(f"*{JID}*")  # neither the lists nor what was staged for them


def test_wrong_pages_merge_regressed_and_both_wrong_by_index_to_the_end(redis):
    cases = CaseStore(redis, chunk=4)
    regressed, both_wrong = list(range(0, 90, 3)), list(range(1, 60, 3))  # apart
    counts = cases.replace(JID, stream(regressed, [2, 8], both_wrong))
    assert counts == {"regressed": 30, "improved": 2, "both_wrong": len(both_wrong)}
    seen, after, more = [], None, True
    while more:
        got, more = cases.page(JID, "wrong", 7, after=after)
        assert len(got) <= 7 and (got or not more)
        seen += [r["index"] for r in got]
        after = got[-1]["index"] if got else after
    assert seen == sorted(regressed + both_wrong)
    assert cases.page(JID, "wrong", 3, after=1) == ([record(3), record(4), record(6)], True)


def test_a_second_replace_overwrites_a_non_empty_both_wrong_list(redis):
    cases = CaseStore(redis, chunk=2)
    cases.replace(JID, stream([1], [2], [3, 4, 5, 6, 7]))
    assert cases.count(JID, "both_wrong") == 5
    assert cases.replace(JID, stream([1], [2], [9])) == {
        "regressed": 1,
        "improved": 1,
        "both_wrong": 1,
    }
    assert cases.page(JID, "both_wrong", 10) == ([record(9)], False)
    assert cases.page(JID, "wrong", 10) == ([record(1), record(9)], False)


def bytes_of(outcomes: Iterable[tuple[str, dict]]) -> int:
    """The bytes the case store counts for records."""
    return sum(len(json.dumps(r).encode()) for _, r in outcomes)


def test_both_wrong_past_the_budget_is_left_out_the_same_way_on_every_redelivery(redis):
    changed = bytes_of(stream([1], [2]))
    budget = Budget(changed + bytes_of(stream([], [], [3])) // 2)  # the changed fit, not all
    cases = CaseStore(redis, chunk=2, budget=budget)
    CaseStore(redis).replace(JID, stream([], [], [7, 8]))  # an earlier run's, kept before
    usage = keys.Space("default").usage
    for _ in range(2):  # a redelivered compare: the same lists, the same bytes counted
        assert cases.replace(JID, stream([1], [2], [3]), "runner") == {
            "regressed": 1,
            "improved": 1,
        }
        assert cases.page(JID, "wrong", 10) == ([record(1)], False)
        assert cases.count(JID, "both_wrong") == 0  # nor the earlier run's
        assert redis.hget(keys.job(JID), "cases_bytes") == str(changed)
        assert redis.hget(usage, "bytes") == str(changed)
    assert not redis.keys(f"*{JID}:cases:*staging*")


def test_changed_cases_past_the_budget_still_refuse_and_keep_the_earlier_lists(redis):
    CaseStore(redis).replace(JID, stream([5], []))
    cases = CaseStore(redis, budget=Budget(bytes_of(stream([1], [2])) - 1))
    with pytest.raises(BudgetExceeded):
        cases.replace(JID, stream([1], [2], [3]))
    assert cases.page(JID, "wrong", 10) == ([record(5)], False)
    assert not redis.keys(f"*{JID}:cases:*staging*")
