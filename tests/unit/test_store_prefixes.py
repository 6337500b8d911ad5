"""A prefix matched literally: Redis's glob characters in it are escaped."""

from tuneloop.store.prefixes import escape_glob


def test_glob_characters_are_escaped_and_others_kept() -> None:
    assert escape_glob("ftjob-ab") == "ftjob-ab"
    assert escape_glob("a*b?c[d]e\\f") == "a\\*b\\?c\\[d\\]e\\\\f"
