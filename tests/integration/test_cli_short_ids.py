"""Ids you can copy: full ids in `tuneloop jobs list` at 80 and 120 columns, and a unique
prefix of an id accepted by every command, as git and docker accept one.

Runs the installed console script against the session stack; the jobs here fail fast (their
task type has no data), which is all a prefix needs.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess

import pytest

from tuneloop.store import prefixes

from .support import ApiClient, Stack, failed_jobs
from .support.jobs import crowded_job_index
from .test_cli import CLI_TIMEOUT, TUNELOOP, cli_env, ok

pytestmark = pytest.mark.integration

TAG = secrets.token_hex(3)


def run(stack: Stack, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run the console script with args and extra environment."""
    return subprocess.run(
        [str(TUNELOOP), *args],
        env=cli_env(stack, **env),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def jobs(client: ApiClient) -> list[str]:
    """Three jobs over a task type without data (they fail at once), oldest first."""
    return failed_jobs(client, 3, f"none{TAG}")


def unique_prefix(job_id: str, others: list[str]) -> str:
    """The shortest prefix (past "ftjob-") of job_id that starts no other id."""
    for end in range(len("ftjob-") + 1, len(job_id)):
        if not any(o.startswith(job_id[:end]) for o in others if o != job_id):
            return job_id[:end]
    raise AssertionError(job_id)


def every_job_id(client: ApiClient) -> list[str]:
    """The ids of the project's jobs, newest first."""
    found, after = [], None
    while True:
        params = {"limit": 100, **({"after": after} if after else {})}
        page = client.get("/v1/jobs", params=params).json()
        found += [j["id"] for j in page["data"]]
        if not page["has_more"]:
            return found
        after = found[-1]


@pytest.mark.parametrize("columns", ["80", "120"])
def test_jobs_list_prints_every_id_whole_at_80_and_120_columns(
    stack: Stack, jobs: list[str], columns: str
) -> None:
    result = run(stack, "jobs", "list", "--limit", "5", COLUMNS=columns)
    lines = ok(result).splitlines()
    for job_id in jobs:
        assert sum(job_id in line for line in lines) == 1, result.stdout
    assert max(map(len, lines)) <= int(columns), result.stdout
    assert "…" not in result.stdout, result.stdout
    assert f"left out to fit {columns} columns:" in result.stderr, result.stderr


def test_a_unique_prefix_names_its_job_in_show_events_and_report(
    stack: Stack, client: ApiClient, jobs: list[str]
) -> None:
    target = jobs[1]
    short = unique_prefix(target, every_job_id(client))
    shown = json.loads(ok(run(stack, "jobs", "show", short, "--json")))
    assert shown["id"] == target
    events = ok(run(stack, "jobs", "events", short, "--json")).splitlines()
    assert json.loads(events[-1])["type"] == "job.failed"
    report = run(stack, "report", short)  # the failed job's report: its own id, not a 404
    assert report.returncode == 1 and f"job {target} is failed" in report.stderr, report.stderr


def test_an_ambiguous_prefix_lists_the_newest_candidates_and_how_many(
    stack: Stack, client: ApiClient, jobs: list[str]
) -> None:
    every = every_job_id(client)
    matching = [j for j in every if j.startswith("ftjob-")]
    result = run(stack, "jobs", "show", "ftjob-")
    assert result.returncode == 1, (result.stdout, result.stderr)
    count = f"more than {len(matching[:100])}" if len(matching) > 100 else str(len(matching))
    assert f"job id 'ftjob-' is ambiguous: {count} jobs start with it" in result.stderr
    listed = re.findall(r"^  (ftjob-[0-9a-f]+)$", result.stderr, re.M)
    assert listed == matching[:10], result.stderr  # newest first: the module's jobs lead
    assert listed[:3] == jobs[::-1], result.stderr


def test_a_prefix_nothing_starts_is_the_usual_404(stack: Stack) -> None:
    result = run(stack, "jobs", "cancel", "ftjob-zz")
    assert result.returncode == 1 and "404" in result.stderr, result.stderr
    result = run(stack, "ask", "ft-nothing-here", "Hello?")
    assert result.returncode == 1 and "404" in result.stderr, result.stderr


def test_a_model_prefix_asks_that_model(stack: Stack) -> None:
    answer = json.loads(ok(run(stack, "ask", "tuneloop-keyword", "Rain in Oslo?", "--json")))
    plain = json.loads(
        ok(run(stack, "ask", "tuneloop-keyword-baseline", "Rain in Oslo?", "--json"))
    )
    assert answer == plain


def test_a_prefix_matching_more_than_max_matches_exits_1_asking_for_more_characters(
    stack: Stack,
) -> None:
    with crowded_job_index(stack.store, f"ftjob-{TAG}", prefixes.MAX_MATCHES + 1) as prefix:
        result = run(stack, "jobs", "show", prefix)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "422" in result.stderr and "id_prefix" in result.stderr, result.stderr
    assert "give more characters" in result.stderr, result.stderr
