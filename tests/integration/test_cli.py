"""The `tuneloop` console script, run as a subprocess against a real stack.

Most tests use the session stack; their data has task types of their own (a random tag), so
jobs select only it whatever other modules stored. The live `--watch` test runs in a
pseudo-terminal on a private stack whose worker sleeps after each epoch, so progress can be
seen advancing and the job cancelled while it runs.
"""

from __future__ import annotations

import csv
import json
import os
import pty
import re
import secrets
import select
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from tuneloop_cli import lab_report

from tuneloop.report_metrics import LAB_ORDER
from tuneloop.schemas.chat_file import parse

from .support import (
    API_KEY,
    SLOW_EPOCHS,
    ApiClient,
    Stack,
    client_for,
    fault_stack,
    training_items,
    wait_until,
)

pytestmark = pytest.mark.integration

TUNELOOP = Path(sys.executable).with_name("tuneloop")  # the installed console script
TAG = secrets.token_hex(3)
WEATHER, TRAVEL = f"cliw{TAG}", f"clit{TAG}"
CLI_TIMEOUT = 180.0
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def cli_env(stack: Stack, **extra: str) -> dict[str, str]:
    """The environment of a CLI run: the stack's URL and key, nothing of the caller's proxy."""
    drop = ("TUNELOOP_", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "COLUMNS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, "TUNELOOP_URL": stack.base_url, "TUNELOOP_API_KEY": API_KEY, **extra}


def tuneloop(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    """Run the console script with args; return its exit code and output."""
    return subprocess.run(
        [str(TUNELOOP), *args],
        env=cli_env(stack),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def ok(result: subprocess.CompletedProcess) -> str:
    """Assert the run exited 0; return its stdout."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def count_of(client: ApiClient, task_type: str) -> int:
    """How many stored interactions have the task type."""
    response = client.get("/v1/interactions/stats")
    assert response.status_code == 200, response.text
    return response.json()["task_distribution"].get(task_type, 0)


def stored(client: ApiClient, task_type: str) -> list[dict]:
    """Every stored interaction of a task type, oldest first."""
    items: list[dict] = []
    after = None
    while True:
        params = {"limit": 1000, "task_type": task_type, **({"after": after} if after else {})}
        page = client.get("/v1/interactions", params=params).json()
        items += page["data"]
        if not page["has_more"]:
            return items
        after = page["data"][-1]["id"]


def write_jsonl(path: Path, records: list[object]) -> Path:
    """Write records as JSONL (a str record is written as the line itself)."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def mapped_rows(task_type: str, n: int, start: int = 0) -> list[dict]:
    """Rows with the file's own column names (text, answer, score, kind)."""
    return [
        {
            "text": f"row {i} of {task_type}",
            "answer": f"answer {i}",
            "score": 0.9,
            "kind": task_type,
        }
        for i in range(start, start + n)
    ]


MAPPING = "input=text,output=answer,rating=score,task_type=kind"


# ---- ingest ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jsonl_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,500 rows (three batches, the last one short) under the file's own column names."""
    return write_jsonl(tmp_path_factory.mktemp("cli") / "rows.jsonl", mapped_rows(f"j{TAG}", 2500))


@pytest.fixture(scope="module")
def jsonl_ingested(stack: Stack, client: ApiClient, jsonl_file: Path) -> dict:
    """Ingest the JSONL file once; return the run and the count before it."""
    before = count_of(client, f"j{TAG}")
    result = tuneloop(stack, "ingest", str(jsonl_file), "--map", MAPPING)
    return {"result": result, "before": before}


def test_ingest_of_jsonl_with_a_mapping_stores_every_row_by_its_columns(
    client: ApiClient, jsonl_ingested: dict
) -> None:
    out = ok(jsonl_ingested["result"])
    assert "stored 2,500 interactions" in out, out
    assert count_of(client, f"j{TAG}") == jsonl_ingested["before"] + 2500
    rows = stored(client, f"j{TAG}")
    assert {(r["input"], r["output"], r["rating"]) for r in rows} == {
        (f"row {i} of j{TAG}", f"answer {i}", 0.9) for i in range(2500)
    }


def test_ingest_run_again_on_the_same_file_stores_nothing_twice(
    stack: Stack, client: ApiClient, jsonl_file: Path, jsonl_ingested: dict
) -> None:
    ok(jsonl_ingested["result"])
    before = count_of(client, f"j{TAG}")
    out = ok(tuneloop(stack, "ingest", str(jsonl_file), "--map", MAPPING))
    assert count_of(client, f"j{TAG}") == before, "a re-run stored rows again"
    assert "stored 0 interactions" in out and "2,500 were already stored" in out, out


def test_ingest_of_csv_maps_columns_and_keeps_multiline_cells(
    stack: Stack, client: ApiClient, tmp_path: Path
) -> None:
    task = f"c{TAG}"
    path = tmp_path / "rows.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "reply", "stars", "topic", "meta", "unused", "by"])
        writer.writerow(["first\nquestion", "reply 0", "0.75", task, '{"app": "x"}', "?", "gpt-4o"])
        for i in range(1, 30):
            writer.writerow([f"question {i}", f"reply {i}", "0.5", task, "", "?", ""])
    mapping = "input=question,output=reply,rating=stars,task_type=topic,metadata=meta,model=by"
    out = ok(tuneloop(stack, "ingest", str(path), "--map", mapping))
    assert "stored 30 interactions" in out, out
    rows = stored(client, task)
    assert len(rows) == 30
    first = next(r for r in rows if r["output"] == "reply 0")
    assert (first["input"], first["rating"], first["metadata"], first["model"]) == (
        "first\nquestion",
        0.75,
        {"app": "x"},
        "gpt-4o",
    )
    assert sum(r["model"] is None for r in rows) == 29  # an empty cell: no model


BAD_LINES = {
    3: "rating",  # 1.5: out of range (the API says so)
    5: "not valid JSON",  # found before anything is sent
    7: "input",  # blank (the API says so)
    8: "task_type: 'bad 8 ' is not a task type",  # ends with a space (the API quotes it)
}


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    """Nine lines (one blank) of which four rows are bad, each for its own reason."""
    good = {"input": "fine", "output": "ok", "rating": 0.5, "task_type": f"b{TAG}"}
    return write_jsonl(
        tmp_path / "bad.jsonl",
        [
            {**good, "input": "good 1"},
            {**good, "input": "good 2"},
            {**good, "input": "bad 3", "rating": 1.5},
            "",
            '{"input": "bad 5",',
            {**good, "input": "good 6"},
            {**good, "input": "   "},
            {**good, "input": "bad 8", "task_type": "bad 8 "},
            {**good, "input": "good 9"},
        ],
    )


GROUP = re.compile(r"^  (.+) \(lines? ([^)]+)\)$", re.MULTILINE)


def bad_lines_of(stderr: str) -> dict[int, str]:
    """The grouped report of bad rows read back: each line number named, with its problem
    (`rating: … — 1.5 (lines 3, 17 and 12 more)`; the lines a group leaves out are not)."""
    named: dict[int, str] = {}
    for problem, lines in GROUP.findall(stderr):
        shown = re.sub(r" and \d+ more$", "", lines).replace(" and ", ", ")
        for line in shown.split(", "):
            named[int(line)] = problem
    return named


def assert_bad_lines_named(stderr: str) -> None:
    """Each bad row is named by its line number and what is wrong with it."""
    named = bad_lines_of(stderr)
    assert sorted(named) == sorted(BAD_LINES), stderr
    for line, what in BAD_LINES.items():
        assert what in named[line], (line, named[line])


def test_ingest_names_bad_rows_by_line_and_stores_nothing_of_their_batch(
    stack: Stack, client: ApiClient, bad_file: Path
) -> None:
    before = count_of(client, f"b{TAG}")
    result = tuneloop(stack, "ingest", str(bad_file))
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert_bad_lines_named(result.stderr)
    assert count_of(client, f"b{TAG}") == before


def test_ingest_with_skip_invalid_stores_the_good_rows_once_and_names_the_bad(
    stack: Stack, client: ApiClient, bad_file: Path
) -> None:
    before = count_of(client, f"b{TAG}")
    for _ in range(2):  # the second run must store nothing again
        out = ok(result := tuneloop(stack, "ingest", str(bad_file), "--skip-invalid"))
        assert_bad_lines_named(result.stderr)
        assert count_of(client, f"b{TAG}") == before + 4, out
    assert {r["input"] for r in stored(client, f"b{TAG}")} >= {"good 1", "good 2", "good 9"}


def test_ingest_after_fixing_a_bad_row_stores_only_the_batches_not_yet_stored(
    stack: Stack, client: ApiClient, tmp_path: Path
) -> None:
    task = f"f{TAG}"
    rows: list[object] = [
        {"input": f"q{i}", "output": "a", "rating": 0.5, "task_type": task} for i in range(2000)
    ]
    good_row = rows[1499]
    rows[1499] = {**good_row, "rating": -1}  # line 1500, in the second batch
    path = write_jsonl(tmp_path / "fix.jsonl", rows)
    result = tuneloop(stack, "ingest", str(path))
    assert result.returncode == 1, result.stderr
    assert bad_lines_of(result.stderr)[1500].startswith("rating: "), result.stderr
    assert count_of(client, task) == 1000, "the first batch, before the bad row, is stored"
    rows[1499] = good_row
    write_jsonl(path, rows)
    out = ok(tuneloop(stack, "ingest", str(path)))
    assert count_of(client, task) == 2000, out
    assert "1,000 were already stored" in out, out


# ---- a finished job: watch, list, show, events, report, export, ask ----------------------


def job_rows() -> list[dict]:
    """Two task types; some inputs rated twice with different outputs (for DPO pairs)."""
    rows = []
    for i in range(40):
        city = f"city{i}"
        rows.append(
            {
                "input": f"Will it rain in {city}?",
                "output": f"Rain is likely in {city}.",
                "rating": 0.9,
                "task_type": WEATHER,
            }
        )
        rows.append(
            {
                "input": f"Book a hotel in {city}",
                "output": f"Hotels in {city} are listed here.",
                "rating": 0.95,
                "task_type": TRAVEL,
            }
        )
        if i % 2 == 0:  # a worse answer to the same input
            rows.append(
                {
                    "input": f"Will it rain in {city}?",
                    "output": "I do not know.",
                    "rating": 0.2 + 0.01 * (i % 5),
                    "task_type": WEATHER,
                }
            )
        if i % 4 == 1:  # two good answers, one better: still a pair
            rows.append(
                {
                    "input": f"book a hotel in  {city}",
                    "output": f"Try the inns of {city}.",
                    "rating": 0.85,
                    "task_type": TRAVEL,
                }
            )
    return rows


@pytest.fixture(scope="module")
def finished_job(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Ingest job_rows with the CLI, then `jobs create ... --watch` the job over them."""
    path = write_jsonl(tmp_path_factory.mktemp("job") / "job.jsonl", job_rows())
    ok(tuneloop(stack, "ingest", str(path)))
    result = tuneloop(
        stack,
        "jobs",
        "create",
        "--task-type",
        WEATHER,
        "--task-type",
        TRAVEL,
        "--no-synthetic",
        "--lab-eval-set",
        "--epochs",
        "5",
        "--holdout",
        "0.2",
        "--watch",
        "-q",
    )
    return {"result": result, "id": result.stdout.strip()}


def test_jobs_create_watch_exits_0_and_names_the_model_when_the_job_succeeds(
    client: ApiClient, finished_job: dict
) -> None:
    result = finished_job["result"]
    ok(result)
    job = client.get(f"/v1/jobs/{finished_job['id']}").json()
    assert job["status"] == "succeeded", job
    assert f"succeeded: model {job['model_id']}" in result.stderr, result.stderr


def test_jobs_create_watch_exits_3_with_the_error_when_the_job_fails(stack: Stack) -> None:
    result = tuneloop(
        stack, "jobs", "create", "--task-type", f"none{TAG}", "--no-synthetic", "--watch"
    )
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "failed in filter: no_training_data" in result.stderr, result.stderr


def test_jobs_list_show_and_events_follow_agree_with_the_api(
    stack: Stack, client: ApiClient, finished_job: dict
) -> None:
    job_id = finished_job["id"]
    listed = json.loads(ok(tuneloop(stack, "jobs", "list", "--status", "succeeded", "--json")))
    assert job_id in [j["id"] for j in listed["data"]]
    assert job_id in ok(tuneloop(stack, "jobs", "list"))
    shown = json.loads(ok(tuneloop(stack, "jobs", "show", job_id, "--json")))
    assert shown["status"] == "succeeded" and shown["model_id"], shown
    lines = ok(tuneloop(stack, "jobs", "events", job_id, "--follow", "--json")).splitlines()
    events = [json.loads(line) for line in lines]
    api_events = client.get(f"/v1/jobs/{job_id}/events", params={"limit": 1000}).json()["data"]
    assert [e["id"] for e in events] == [e["id"] for e in api_events]
    assert events[-1]["type"] == "job.succeeded"


def test_report_json_is_the_jobs_result_and_the_tables_show_it(
    stack: Stack, client: ApiClient, finished_job: dict
) -> None:
    job_id = finished_job["id"]
    result = client.get(f"/v1/jobs/{job_id}").json()["result"]
    assert json.loads(ok(tuneloop(stack, "report", job_id, "--json"))) == result
    tables = ok(tuneloop(stack, "report", job_id))
    base, tuned = result["baseline_metrics"], result["fine_tuned_metrics"]
    row = next(line for line in tables.splitlines() if "task_accuracy" in line)
    assert f"{base['task_accuracy']:.3f}" in row and f"{tuned['task_accuracy']:.3f}" in row, row
    assert " ".join(result["significance"]["verdict"].split()) in " ".join(tables.split())
    for task in base["by_task_type"]:
        assert task in tables


def test_report_lab_prints_the_demos_plain_text_report(
    stack: Stack, client: ApiClient, finished_job: dict
) -> None:
    job_id = finished_job["id"]
    job = client.get(f"/v1/jobs/{job_id}").json()
    events = client.get(f"/v1/jobs/{job_id}/events", params={"limit": 1000}).json()["data"]
    text = ok(tuneloop(stack, "report", job_id, "--lab"))
    assert text == lab_report.render(job, events) + "\n"
    assert "AGENT FINE-TUNING REPORT" in text and f"Model: {job['result']['model_id']}" in text
    shown = [line.split()[0] for line in text.splitlines() if line.startswith("  ")]
    metrics = [name for name in shown if name in LAB_ORDER]
    assert metrics[: len(LAB_ORDER)] == list(LAB_ORDER), text


def test_report_of_a_failed_job_says_why_and_exits_1(stack: Stack, client: ApiClient) -> None:
    body = {"task_types": [f"none{TAG}"], "include_synthetic": False}
    job_id = client.post("/v1/jobs", json=body).json()["id"]
    wait_until(
        lambda: client.get(f"/v1/jobs/{job_id}").json()["status"] == "failed", 60, lambda: job_id
    )
    result = tuneloop(stack, "report", job_id)
    assert result.returncode == 1 and "no_training_data" in result.stderr, result.stderr


def test_export_chat_is_the_training_file_and_prompt_completion_converts_it(
    stack: Stack, client: ApiClient, finished_job: dict
) -> None:
    job_id = finished_job["id"]
    served = client.get(f"/v1/jobs/{job_id}/training_file").text.splitlines()
    chat = ok(tuneloop(stack, "export", job_id, "--format", "chat")).splitlines()
    assert chat == served and chat
    # Each line names its task type where the files parser reads it: uploaded, it trains again.
    job = client.get(f"/v1/jobs/{job_id}").json()
    per_task = Counter(json.loads(line)["metadata"]["task_type"] for line in chat)
    assert per_task == Counter(job["result"]["training_data"]["task_distribution"])
    assert [row["task_type"] for row in parse("\n".join(chat).encode())[0]] == [
        json.loads(line)["metadata"]["task_type"] for line in chat
    ]
    pairs = ok(tuneloop(stack, "export", job_id, "--format", "prompt-completion")).splitlines()
    expected = [
        {"prompt": m[0]["content"], "completion": m[1]["content"]}
        for m in (json.loads(line)["messages"] for line in served)
    ]
    assert [json.loads(line) for line in pairs] == expected


def test_export_dpo_pairs_a_higher_rated_with_a_lower_rated_output_of_the_same_input(
    stack: Stack, client: ApiClient, finished_job: dict
) -> None:
    out = ok(tuneloop(stack, "export", finished_job["id"], "--format", "dpo"))
    pairs = [json.loads(line) for line in out.splitlines()]
    ratings: dict[tuple[str, str], float] = {}
    for task in (WEATHER, TRAVEL):
        for item in stored(client, task):
            key = (" ".join(item["input"].split()).casefold(), item["output"])
            ratings[key] = item["rating"]
    for pair in pairs:
        same = " ".join(pair["prompt"].split()).casefold()
        chosen, rejected = ratings[(same, pair["chosen"])], ratings[(same, pair["rejected"])]
        assert chosen > rejected and chosen >= 0.8, (pair, chosen, rejected)
    # Inputs rated with two different outputs: every even weather city, every 4th hotel.
    expected = {f"will it rain in city{i}?" for i in range(0, 40, 2)}
    expected |= {f"book a hotel in city{i}" for i in range(1, 40, 4)}
    assert {" ".join(p["prompt"].split()).casefold() for p in pairs} == expected


def test_ask_prints_the_models_answer(stack: Stack, client: ApiClient, finished_job: dict) -> None:
    model = client.get(f"/v1/jobs/{finished_job['id']}").json()["model_id"]
    answer = json.loads(ok(tuneloop(stack, "ask", model, "Will it rain in Oslo?", "--json")))
    assert answer["task_type"] == WEATHER and "Oslo" in answer["text"], answer
    text = ok(tuneloop(stack, "ask", model, "Will it rain in Oslo?"))
    assert text.strip() == answer["text"]
    missing = tuneloop(stack, "ask", f"ft-none-{TAG}", "Hello?")
    assert missing.returncode == 1 and "404" in missing.stderr, missing.stderr


# ---- --watch in a pseudo-terminal ------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_stack() -> Iterator[Stack]:
    """A private stack whose worker sleeps after each epoch, with training data."""
    with fault_stack(workers=[("w1", SLOW_EPOCHS)]) as stack, client_for(stack) as client:
        response = client.post("/v1/interactions/batch", json={"items": training_items()})
        assert response.status_code == 201, response.text
        yield stack


class Terminal:
    """A process on a pseudo-terminal, its output read as it comes."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            argv, env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True
        )
        os.close(slave)
        self.raw = b""

    def read_until(self, pattern: str, timeout: float) -> re.Match:
        """Read until the output (ANSI codes removed) matches pattern."""
        deadline = time.monotonic() + timeout
        while (found := re.search(pattern, self.text)) is None:
            if time.monotonic() > deadline or not self._read(deadline - time.monotonic()):
                raise AssertionError(f"no {pattern!r} in the terminal:\n{self.text}")
        return found

    def _read(self, timeout: float) -> bool:
        """Read what is there (waiting up to timeout); False at the end of the output."""
        ready, _, _ = select.select([self.master], [], [], max(0.0, min(timeout, 1.0)))
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the process closed the terminal
            return False
        self.raw += chunk
        return bool(chunk)

    @property
    def text(self) -> str:
        """The output with the terminal's control sequences removed."""
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))

    def finish(self, timeout: float) -> int:
        """Read to the end; return the exit code."""
        deadline = time.monotonic() + timeout
        while self._read(deadline - time.monotonic()) and time.monotonic() < deadline:
            pass
        return self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))

    def close(self) -> None:
        """Kill the process if it still runs and close the terminal."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self.master)


def test_watch_in_a_terminal_shows_live_progress_and_exits_4_when_cancelled(
    slow_stack: Stack,
) -> None:
    argv = [
        str(TUNELOOP),
        "jobs",
        "create",
        "--no-synthetic",
        "--lab-eval-set",
        "--epochs",
        "60",
        "--patience",
        "none",
        "--watch",
    ]
    term = Terminal(argv, cli_env(slow_stack, TERM="xterm-256color", COLUMNS="160"))
    try:
        job_id = term.read_until(r"created job (ftjob-\w+)", 60).group(1)
        term.read_until(r"running .*epoch ([3-9]|[1-9]\d)/60 · train \d\.\d{4} · valid", 60)
        seen = {int(n) for n in re.findall(r"epoch (\d+)/60", term.text)}
        assert len(seen) >= 2, f"the bar did not advance epoch by epoch:\n{term.text}"
        assert "\x1b[" in term.raw.decode("utf-8", "replace"), "no live (redrawn) display"
        cancel = subprocess.run(
            [str(TUNELOOP), "jobs", "cancel", job_id],
            env=cli_env(slow_stack),
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        assert cancel.returncode == 0 and "cancelled" in cancel.stdout, cancel
        code = term.finish(60)
    finally:
        term.close()
    assert code == 4, f"exit {code}\n{term.text}"
    assert f"job {job_id} was cancelled" in term.text


def test_events_follow_prints_new_events_until_the_job_ends(slow_stack: Stack) -> None:
    with client_for(slow_stack) as client:
        body = {
            "include_synthetic": False,
            "lab_eval_set": True,
            "hyperparameters": {"n_epochs": 60},
        }
        job_id = client.post("/v1/jobs", json=body).json()["id"]
        follower = subprocess.Popen(
            [str(TUNELOOP), "jobs", "events", job_id, "--follow", "--json", "--interval", "0.1"],
            env=cli_env(slow_stack),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(
                lambda: client.get(f"/v1/jobs/{job_id}").json()["progress"]["current"] >= 6,
                60,
                lambda: f"job {job_id} to train a few epochs",
            )
            assert follower.poll() is None, "--follow returned while the job was running"
            assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 200
            stdout, stderr = follower.communicate(timeout=60)
        finally:
            if follower.poll() is None:
                follower.kill()
    assert follower.returncode == 0, stderr
    events = [json.loads(line) for line in stdout.splitlines()]
    with client_for(slow_stack) as client:
        api_events = client.get(f"/v1/jobs/{job_id}/events", params={"limit": 1000}).json()
    assert not api_events["has_more"]
    api_events = api_events["data"]
    assert [e["id"] for e in events] == [e["id"] for e in api_events]
    assert events[-1]["type"] == "job.cancelled", events[-1]
    assert any(e["type"] == "metrics" for e in events)
