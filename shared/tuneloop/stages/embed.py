"""The embed stage's pure side: distinct texts by digest, parts of a size, the summary."""

from collections.abc import Callable, Iterable, Sequence


def distinct(texts: Iterable[str], digest: Callable[[str], str]) -> tuple[int, dict[str, str]]:
    """Return how many texts there were and digest -> first text, in first-seen order."""
    n, found = 0, {}
    for text in texts:
        n += 1
        found.setdefault(digest(text), text)
    return n, found


def cut(items: Sequence[str], size: int) -> list[list[str]]:
    """Cut items into parts of size (the last may be smaller); none for no items."""
    if size < 1:
        raise ValueError(f"a part holds at least one text, not {size}")
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def summarize(plan: dict, reports: Iterable[dict]) -> dict:
    """Return what the stage did: texts, encoded, cached, parts, seconds, texts/s, workers."""
    runs = list(reports)
    encoded = sum(r["encoded"] for r in runs)
    seconds = max(r["ended"] for r in runs) - min(r["began"] for r in runs) if runs else 0.0
    return {
        "texts": plan["texts"],
        "distinct": plan["distinct"],
        "encoded": encoded,
        "cached": plan["distinct"] - encoded,
        "parts": plan["parts"],
        "seconds": round(seconds, 3),
        "texts_per_s": round(encoded / seconds, 1) if seconds > 0 else None,
        "hosts": sorted({r["host"] for r in runs}),
        "workers": sorted({f"{r['host']}:{r['pid']}" for r in runs}),
        "per_worker": per_worker(runs),
    }


def per_worker(runs: list[dict]) -> dict[str, dict]:
    """Return, per worker process, the texts it encoded, its busy seconds and texts/s."""
    out: dict[str, dict] = {}
    for r in runs:
        mine = out.setdefault(f"{r['host']}:{r['pid']}", {"encoded": 0, "seconds": 0.0})
        mine["encoded"] += r["encoded"]
        mine["seconds"] += r["ended"] - r["began"]
    for mine in out.values():
        busy = mine["seconds"]
        mine["seconds"] = round(busy, 3)
        mine["texts_per_s"] = round(mine["encoded"] / busy, 1) if busy > 0 else None
    return dict(sorted(out.items()))
