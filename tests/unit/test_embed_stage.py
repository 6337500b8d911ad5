"""The embed stage's pure side: one text per digest, parts of a size, the summary of parts."""

import pytest

from tuneloop.encoder.embedding import digest
from tuneloop.stages.embed import cut, distinct, summarize


def test_texts_that_normalise_alike_are_one_text_kept_as_first_seen() -> None:
    n, found = distinct(["Refund please", "refund  please", "Where is my card?"], digest)
    assert n == 3
    assert list(found.values()) == ["Refund please", "Where is my card?"]
    assert list(found) == [digest("Refund please"), digest("Where is my card?")]


def test_parts_hold_the_part_size_and_the_last_the_rest() -> None:
    texts = [f"t{i}" for i in range(70)]
    parts = cut(texts, 32)
    assert [len(p) for p in parts] == [32, 32, 6]
    assert [t for p in parts for t in p] == texts
    assert cut([], 32) == []
    with pytest.raises(ValueError, match="at least one"):
        cut(texts, 0)


def test_the_summary_counts_what_parts_encoded_over_the_time_they_spanned() -> None:
    plan = {"texts": 210, "distinct": 200, "parts": 3}
    reports = [
        {"encoded": 32, "began": 10.0, "ended": 11.0, "host": "a", "pid": 1},
        {"encoded": 32, "began": 10.5, "ended": 12.0, "host": "a", "pid": 2},
        {"encoded": 16, "began": 11.0, "ended": 12.0, "host": "b", "pid": 1},
    ]
    summary = summarize(plan, reports)
    assert summary == {
        "texts": 210,
        "distinct": 200,
        "encoded": 80,
        "cached": 120,
        "parts": 3,
        "seconds": 2.0,
        "texts_per_s": 40.0,
        "hosts": ["a", "b"],
        "workers": ["a:1", "a:2", "b:1"],
        "per_worker": {
            "a:1": {"encoded": 32, "seconds": 1.0, "texts_per_s": 32.0},
            "a:2": {"encoded": 32, "seconds": 1.5, "texts_per_s": 21.3},
            "b:1": {"encoded": 16, "seconds": 1.0, "texts_per_s": 16.0},
        },
    }


def test_a_plan_with_nothing_to_encode_summarises_as_all_cached() -> None:
    summary = summarize({"texts": 5, "distinct": 4, "parts": 0}, [])
    assert (summary["encoded"], summary["cached"], summary["seconds"]) == (0, 4, 0.0)
    assert summary["texts_per_s"] is None and summary["workers"] == []
