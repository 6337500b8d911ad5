"""A prefix matched literally (Redis's glob characters escaped), within bounded work."""

from fnmatch import fnmatch

from tuneloop.store import prefixes
from tuneloop.store.prefixes import escape_glob


def test_glob_characters_are_escaped_and_others_kept() -> None:
    assert escape_glob("ftjob-ab") == "ftjob-ab"
    assert escape_glob("a*b?c[d]e\\f") == "a\\*b\\?c\\[d\\]e\\\\f"


class ScanOnly:
    """A sorted set that answers ZSCAN as Redis does for a large one: count members a call,
    filtered by the pattern after they are visited; counts the members visited."""

    def __init__(self, members: list[str]) -> None:
        self.members, self.visited = members, 0

    def zscan(self, _index: str, cursor: int, match: str, count: int) -> tuple:
        batch = self.members[cursor : cursor + count]
        self.visited += len(batch)
        following = cursor + count if cursor + count < len(self.members) else 0
        return following, [(m, float(i)) for i, m in enumerate(batch, cursor) if fnmatch(m, match)]


def test_a_lookup_stops_after_max_visited_members_and_says_it_was_cut_short(monkeypatch) -> None:
    monkeypatch.setattr(prefixes, "SCAN_BATCH", 10)
    monkeypatch.setattr(prefixes, "MAX_VISITED", 50)
    index = ScanOnly([f"id-{i:04d}" for i in range(1000)])
    matches = prefixes.with_prefix(index, "idx", "id-00")  # matches 0-99: the first 50 seen
    assert index.visited == 50 and matches.cut_short and not matches.complete
    assert matches.total == 50 and matches.unique is None
    one = prefixes.with_prefix(ScanOnly([f"id-{i:04d}" for i in range(1000)]), "idx", "id-0001")
    assert one.total == 1 and one.unique is None  # another may follow past the bound


def test_a_lookup_within_the_bounds_is_complete_and_newest_first(monkeypatch) -> None:
    monkeypatch.setattr(prefixes, "SCAN_BATCH", 10)
    monkeypatch.setattr(prefixes, "MAX_VISITED", 50)
    matches = prefixes.with_prefix(ScanOnly([f"id-{i:02d}" for i in range(50)]), "idx", "id-1")
    assert matches.complete and matches.total == 10
    assert matches.ids == [f"id-1{i}" for i in range(9, -1, -1)]
    assert prefixes.with_prefix(ScanOnly(["id-17", "id-2"]), "idx", "id-17").unique == "id-17"


def test_more_than_max_matches_is_counted_all_false_not_cut_short(monkeypatch) -> None:
    monkeypatch.setattr(prefixes, "SCAN_BATCH", 10)
    monkeypatch.setattr(prefixes, "MAX_MATCHES", 15)
    matches = prefixes.with_prefix(ScanOnly([f"id-{i:02d}" for i in range(40)]), "idx", "id-")
    assert not matches.counted_all and not matches.cut_short and not matches.complete
