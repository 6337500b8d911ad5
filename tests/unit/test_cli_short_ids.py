"""A short id chosen among the ids that start with it, as git and docker choose."""

import pytest
from tuneloop_cli.short_ids import AmbiguousIdError, choose

IDS = [f"ftjob-ab{n:022x}" for n in range(12)]


def test_one_match_is_that_id() -> None:
    assert choose("job", "ftjob-ab", IDS[:1], more=False) == IDS[0]


def test_no_match_leaves_the_text_for_the_usual_404() -> None:
    assert choose("job", "ftjob-zz", [], more=False) == "ftjob-zz"


def test_an_id_given_whole_is_itself_even_when_it_starts_a_longer_one() -> None:
    found = ["ft-a-0123456789ab-x", "ft-a-0123456789ab"]
    assert choose("model", "ft-a-0123456789ab", found, False) == "ft-a-0123456789ab"
    assert choose("model", "ft-x", ["ft-x-1", "ft-x"], False) == "ft-x"


def test_several_matches_list_the_first_ten_and_say_how_many() -> None:
    with pytest.raises(AmbiguousIdError) as raised:
        choose("job", "ftjob-ab", IDS, more=False)
    message = raised.value.message
    assert "'ftjob-ab' is ambiguous: 12 jobs start with it; the newest 10" in message
    assert [line.strip() for line in message.splitlines()[1:]] == IDS[:10]


def test_a_capped_answer_says_more_than() -> None:
    with pytest.raises(AmbiguousIdError, match="more than 12 jobs"):
        choose("job", "ftjob-", IDS, more=True)
