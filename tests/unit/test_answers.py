"""The per-worker answers of polled jobs: the latest per key, the least recently used dropped."""

from tuneloop_gateway.answers import Answers


def test_the_latest_answer_of_a_key_replaces_the_older_one() -> None:
    answers = Answers(size=4)
    answers.put("job-1", "digest-a", b"a")
    answers.put("job-1", "digest-b", b"b")
    assert answers.get("job-1") == ("digest-b", b"b")
    answers.drop("job-1")
    assert answers.get("job-1") is None


def test_past_its_size_the_least_recently_used_answer_goes_first() -> None:
    answers = Answers(size=2)
    answers.put("job-1", "d1", b"1")
    answers.put("job-2", "d2", b"2")
    assert answers.get("job-1") == ("d1", b"1")  # now job-2 is the least recently used
    answers.put("job-3", "d3", b"3")
    assert answers.get("job-2") is None
    assert answers.get("job-1") == ("d1", b"1") and answers.get("job-3") == ("d3", b"3")
