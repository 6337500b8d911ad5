"""The filter stage's cost per row: the structural check against marshmallow per row.

B is the filter as it was before issue #13 (ExampleSchema.validate on every row, then the
rules); A is the filter now (a structural check, then the same rules). Both judge the same
100,000 varied rows over 150 task types, interleaved A, B, A, B ...; medians and min/max.

    .venv/bin/python tests/benchmarks/bench_filter.py [--rows 100000] [--rounds 5]
"""

import argparse
import statistics
import time

from datagen import varied

from tuneloop.schemas.results import ExampleSchema
from tuneloop.stages.collect import to_example
from tuneloop.stages.filter import QualityFilter

_SCHEMA = ExampleSchema()


class SchemaFilter(QualityFilter):
    """The filter before issue #13: marshmallow validates every row first."""

    def reason_to_drop(self, ex: dict) -> str | None:
        """ExampleSchema's verdict, then the same rules."""
        return "malformed" if _SCHEMA.validate(ex) else super().reason_to_drop(ex)


def per_row(make: type[QualityFilter], rows: list[dict]) -> tuple[float, dict]:
    """Return µs per row of judging rows in batches of 500, and what was dropped."""
    rules = make(min_score=0.5)
    start = time.perf_counter()
    for i in range(0, len(rows), 500):
        rules.judge(rows[i : i + 500])
    return (time.perf_counter() - start) / len(rows) * 1e6, dict(rules.dropped)


def main() -> None:
    """Time both filters over the same rows and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = [to_example(r) for r in varied(args.rows, n_tasks=150, seed=3)]
    now, before = [], []
    for _ in range(args.rounds):
        a, dropped_a = per_row(QualityFilter, rows)
        b, dropped_b = per_row(SchemaFilter, rows)
        assert dropped_a == dropped_b, (dropped_a, dropped_b)
        now.append(a)
        before.append(b)
    ratios = [a / b for a, b in zip(now, before, strict=True)]
    print(f"filter over {args.rows:,} rows, 150 task types, {args.rounds} rounds interleaved")
    for name, values in (("now (structural check)", now), ("before (ExampleSchema)", before)):
        low, high = min(values), max(values)
        print(f"  {name}  {statistics.median(values):6.1f} µs/row ({low:.1f}-{high:.1f})")
    spread = f"({min(ratios):.2f}-{max(ratios):.2f})"
    print(f"  now / before {statistics.median(ratios):.2f} {spread}; dropped {dropped_a}")


if __name__ == "__main__":
    main()
