"""A real CSV in without a script: constants beside the column mapping, bad rows grouped by
problem with their values and line numbers (found by the CLI or by the API's 422), and a dpo
export with no pair saying why.
"""

from __future__ import annotations

import csv
import re
import secrets
from pathlib import Path

import pytest

from .support import ApiClient, Stack
from .test_cli import GROUP, bad_lines_of, count_of, ok, stored, tuneloop, write_jsonl

pytestmark = pytest.mark.integration

TAG = secrets.token_hex(3)
REPLY = "Thanks, we will call you back (ticket=1)"  # a comma and "=": taken whole


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    """Write a CSV file with a header."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_set_gives_every_row_a_constant_beside_the_mapped_columns(
    stack: Stack, client: ApiClient, tmp_path: Path
) -> None:
    task = f"c{TAG}"
    path = write_csv(
        tmp_path / "calls.csv", ["question", "topic"], [[f"Call me {i}", task] for i in range(7)]
    )
    args = ["ingest", str(path), "--map", "input=question,task_type=topic"]
    out = ok(tuneloop(stack, *args, "--set", "rating=1.0", "--set", f"output={REPLY}"))
    assert "stored 7 interactions from 7 rows" in out, out
    rows = stored(client, task)
    assert {(r["rating"], r["output"]) for r in rows} == {(1.0, REPLY)}
    assert sorted(r["input"] for r in rows) == [f"Call me {i}" for i in range(7)]


def test_a_constant_given_as_a_mapping_is_refused_pointing_to_set(
    stack: Stack, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "m.csv", ["q", "a", "t"], [["x", "y", f"m{TAG}"]])
    result = tuneloop(stack, "ingest", str(path), "--map", "input=q,output=a,task_type=t,rating=1")
    assert result.returncode == 1, result.stderr
    assert "no column '1'" in result.stderr and "--set field=value" in result.stderr


def test_bad_cells_are_grouped_by_problem_with_their_values_and_lines(
    stack: Stack, client: ApiClient, tmp_path: Path
) -> None:
    task = f"g{TAG}"
    rows: list[list[object]] = [[f"q{i}", "a", 0.5, task] for i in range(40)]
    bad_ratings = {3: "abc", 5: "n/a", 9: "abc", 12: "1.5", 20: "abc", 33: "abc", 40: "abc"}
    for line, cell in bad_ratings.items():
        rows[line - 2][2] = cell  # line 1 is the header
    for line in (7, 25):
        rows[line - 2][3] = "bad "  # a task type the API refuses (trailing space)
    path = write_csv(tmp_path / "g.csv", ["input", "output", "rating", "task_type"], rows)
    result = tuneloop(stack, "ingest", str(path), "--skip-invalid")
    ok(result)
    groups = {problem.split(" — ")[0]: lines for problem, lines in GROUP.findall(result.stderr)}
    rating = "rating: not a number between 0 and 1"
    assert groups[rating] == "3, 5, 9, 12, 20 and 2 more", result.stderr
    problem = next(p for p in GROUP.findall(result.stderr) if p[0].startswith(rating))[0]
    assert problem == f"{rating} — 'abc', 'n/a' and '1.5'", result.stderr
    named = bad_lines_of(result.stderr)
    assert named[7].startswith("task_type: ") and named[7].endswith(" — 'bad '"), result.stderr
    assert re.search(r"task_type: .* \(lines 7 and 25\)$", result.stderr, re.M), result.stderr
    assert "9 bad rows, 2 problems:" in result.stderr, result.stderr
    assert count_of(client, task) == 40 - 9


def test_dpo_export_with_no_pair_says_why_and_exits_1(
    stack: Stack, client: ApiClient, tmp_path: Path
) -> None:
    task = f"d{TAG}"
    rows = [
        {"input": f"q{i}", "output": answer, "rating": 0.8, "task_type": task}
        for i in range(6)
        for answer in ("yes", "sure")  # two outputs per input, rated alike
    ]
    ok(tuneloop(stack, "ingest", str(write_jsonl(tmp_path / "d.jsonl", rows))))
    job_id = ok(tuneloop(stack, "jobs", "create", "--task-type", task, "--no-synthetic", "-q"))
    out_file = tmp_path / "pairs.jsonl"
    result = tuneloop(stack, "export", job_id.strip(), "--format", "dpo", "-o", str(out_file))
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "no dpo pairs for job" in result.stderr, result.stderr
    assert "12 interactions, 6 distinct inputs" in result.stderr, result.stderr
    assert "no input has two outputs with different ratings" in result.stderr, result.stderr
    assert not out_file.exists()  # nothing written, not even an empty file
