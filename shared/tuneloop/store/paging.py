"""Cursor pagination over sorted-set indexes whose scores are sequence numbers."""

from collections.abc import Callable, Iterable, Iterator

from redis import Redis


def start_after(redis: Redis, index: str, after: str | None, reverse: bool = False) -> str:
    """Return the score bound just past the member after; KeyError when it is unknown."""
    if after is None:
        return "+inf" if reverse else "-inf"
    score = redis.zscore(index, after)
    if score is None:
        raise KeyError(after)
    return f"({int(score)}"


def ids_from(
    redis: Redis, index: str, start: str, stop: str | int, reverse: bool = False, batch: int = 500
) -> Iterator[list[str]]:
    """Yield the members from start to stop in bounded batches."""
    while True:
        if reverse:
            rows = redis.zrevrangebyscore(index, start, stop, start=0, num=batch, withscores=True)
        else:
            rows = redis.zrangebyscore(index, start, stop, start=0, num=batch, withscores=True)
        if not rows:
            return
        start = f"({int(rows[-1][1])}"
        yield [member for member, _ in rows]


def first_page(
    batches: Iterable[list[dict]], limit: int, keep: Callable[[dict], bool] = lambda _: True
) -> tuple[list[dict], bool]:
    """Return the first limit records that keep accepts, and whether more follow."""
    found: list[dict] = []
    for batch in batches:
        found += [r for r in batch if keep(r)]
        if len(found) > limit:
            break
    return found[:limit], len(found) > limit
