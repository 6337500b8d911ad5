"""Regressions, wins and misses: the cases the two agents did not both route correctly."""

from collections.abc import Iterable, Iterator

import numpy as np

from tuneloop.report.outcomes import Outcomes, UnpairedError
from tuneloop.stages.compare import CASE_LISTS


def _answer(o: Outcomes, i: int) -> dict:
    """Return one agent's answer to case i as the report shows it."""
    return {
        "text": o.texts[o.answer[i]],
        "task_type": o.labels[o.predicted[i]],
        "confidence": float(o.confidence[i]),
    }


def case_records(
    batches: Iterable[list[dict]], baseline: Outcomes, fine_tuned: Outcomes
) -> Iterator[tuple[str, dict]]:
    """Yield (list, record) for each case not both agents got right, in evaluation order.

    The list is one of CASE_LISTS: regressed, improved or both_wrong. batches are the
    evaluation cases again, in the order they were evaluated; only those cases are turned into
    records, so memory holds one batch, never all cases.
    """
    base, tuned = baseline.correct, fine_tuned.correct
    outcome = np.select([base & ~tuned, ~base & tuned, ~base & ~tuned], [1, 2, 3], 0)
    start = 0
    for batch in batches:
        if start + len(batch) > len(outcome):
            raise UnpairedError(f"more evaluation cases than the {len(outcome)} evaluated")
        for offset in np.flatnonzero(outcome[start : start + len(batch)]):
            i, case = start + int(offset), batch[offset]
            if case["expected_type"] != baseline.labels[baseline.expected[i]]:
                raise UnpairedError(f"evaluation case {i} is not the one evaluated")
            yield (
                CASE_LISTS[outcome[i] - 1],
                {
                    "index": i,
                    "input": case["input"],
                    "expected_type": case["expected_type"],
                    "reference_output": case.get("reference_output") or None,
                    "baseline": _answer(baseline, i),
                    "fine_tuned": _answer(fine_tuned, i),
                },
            )
        start += len(batch)
    if start != len(outcome):
        raise UnpairedError(f"{start} evaluation cases, but {len(outcome)} were evaluated")
