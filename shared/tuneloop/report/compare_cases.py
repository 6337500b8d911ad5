"""Two jobs' evaluation cases matched by input: which one got right that the other got wrong.

A job keeps only its changed cases: those its baseline and its fine-tuned agent disagree on
(regressed: the baseline right; improved: the fine-tuned agent right). When both jobs were
evaluated on the same cases with the same baseline, every other case's fine-tuned outcome
is the baseline's, so the cases where the two jobs' fine-tuned agents differ are exactly
those changed in one job only (or changed both ways). Numpy-free: the gateway imports it.
"""

from dataclasses import dataclass

LISTED = 50  # cases shown per list; the counts are of all

Cases = dict[str, list[dict]]  # outcome -> the job's records of that outcome, in index order


@dataclass(frozen=True)
class Side:
    """One job's fine-tuned outcome on one case, as far as its records tell."""

    correct: bool
    task_type: str | None  # what it routed to (None: wrong, and not kept)
    text: str | None
    confidence: float | None


def by_input(cases: Cases) -> dict[str, dict]:
    """Return a job's changed cases keyed by input text (the first of repeated inputs)."""
    found: dict[str, dict] = {}
    for outcome in ("regressed", "improved"):
        for record in cases.get(outcome, []):
            found.setdefault(record["input"], {**record, "outcome": outcome})
    return found


def kept_side(record: dict) -> Side:
    """Return the fine-tuned outcome of a changed case as its record keeps it."""
    answer = record["fine_tuned"]
    return Side(
        record["outcome"] == "improved", answer["task_type"], answer["text"], answer["confidence"]
    )


def baseline_side(record: dict) -> Side:
    """Return the fine-tuned outcome of a job that did not change the case: its baseline's."""
    correct = record["outcome"] == "regressed"  # the other job's baseline was right
    return Side(correct, record["expected_type"] if correct else None, None, None)


def mismatch(a: dict[str, dict], b: dict[str, dict]) -> str | None:
    """Return why cases in both jobs' records cannot be the same cases, or None."""
    for text in a.keys() & b.keys():
        ra, rb = a[text], b[text]
        if (ra["index"], ra["expected_type"]) != (rb["index"], rb["expected_type"]):
            return f"the input {text[:60]!r} is case {ra['index']} of A and {rb['index']} of B"
        if ra["baseline"]["task_type"] != rb["baseline"]["task_type"]:
            return f"the baselines answered the input {text[:60]!r} differently"
    return None


def differing(a: dict[str, dict], b: dict[str, dict], paired: bool) -> list[dict]:
    """Return the cases whose fine-tuned outcome differs, in A's then B's index order.

    Unpaired, only cases in both jobs' records are known on both sides.
    """
    rows = []
    for text in [*a, *(t for t in b if t not in a)]:
        ra, rb = a.get(text), b.get(text)
        if (ra is None or rb is None) and not paired:
            continue
        side_a = kept_side(ra) if ra else baseline_side(rb)
        side_b = kept_side(rb) if rb else baseline_side(ra)
        if side_a.correct != side_b.correct:
            record = ra or rb
            rows.append(_row(record, side_a, side_b))
    return sorted(rows, key=lambda row: row["index"])


def _row(record: dict, a: Side, b: Side) -> dict:
    """Return one differing case as the comparison shows it."""
    return {
        "index": record["index"],
        "input": record["input"],
        "expected_type": record["expected_type"],
        "a": a.__dict__,
        "b": b.__dict__,
    }


def bounded(rows: list[dict]) -> dict:
    """Return a list's count and its first LISTED rows."""
    return {"count": len(rows), "data": rows[:LISTED]}
