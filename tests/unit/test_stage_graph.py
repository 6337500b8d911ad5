"""The stage graph is declared once: tasks, canvas, runner, progress and README follow it."""

import importlib
import importlib.util
import re
from pathlib import Path

import pytest
from celery import Celery

from tuneloop import contracts, graph
from tuneloop.canvas import after_stage, job_canvas, parts_canvas
from tuneloop.pipeline.runner import work_of
from tuneloop.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def worker_app() -> Celery:
    from tuneloop_worker.celery_app import create_celery

    app = create_celery(Settings())
    app.loader.import_default_modules()  # what a starting worker imports: the task modules
    return app


def _paths(signature: dict, before: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every sequence of task names a message can run through, start to end."""
    if signature["task"] == "celery.chain":
        paths = [before]
        for part in signature["kwargs"]["tasks"]:
            paths = [p for path in paths for p in _paths(part, path)]
        return paths
    if signature["task"] == "celery.group":
        return [p for part in signature["kwargs"]["tasks"] for p in _paths(part, before)]
    return [(*before, signature["task"].removeprefix(graph.TASK_PREFIX))]


def _graph_paths(name: str) -> list[tuple[str, ...]]:
    after = graph.successors(name)
    return [(name, *rest) for s in after for rest in _graph_paths(s)] if after else [(name,)]


def test_one_celery_task_per_stage_with_the_stage_summary(worker_app: Celery) -> None:
    tasks = {n: t for n, t in worker_app.tasks.items() if n.startswith(graph.TASK_PREFIX)}
    parts = [stage.part_task for stage in graph.ALL if stage.fan_out is not None]
    assert sorted(tasks) == sorted([stage.task for stage in graph.ALL] + parts)
    for stage in graph.ALL:
        task = tasks[stage.task]
        assert task.__doc__ == stage.summary
        assert task.acks_late and task.ignore_result


def test_a_fanned_out_stage_has_a_part_task_that_acks_late_and_comes_back_if_lost(
    worker_app: Celery,
) -> None:
    assert frozenset({"embed"}) == graph.FANNED
    task = worker_app.tasks[graph.BY_NAME["embed"].part_task]
    assert task.name == "tuneloop.stages.embed.part"
    assert task.stage == "embed"
    assert task.acks_late and task.reject_on_worker_lost and task.ignore_result


def test_the_parts_go_to_the_default_queue_as_one_group(worker_app: Celery) -> None:
    group = dict(parts_canvas(worker_app, "job-1", "embed", (0, 2, 5)))
    assert group["task"] == "celery.group"
    leaves = group["kwargs"]["tasks"]
    assert [(leaf["task"], tuple(leaf["args"])) for leaf in leaves] == [
        ("tuneloop.stages.embed.part", ("job-1", i)) for i in (0, 2, 5)
    ]
    assert all("queue" not in leaf["options"] for leaf in leaves)


def test_what_follows_embed_is_fine_tune_then_the_join_on_the_kinds_queues(
    worker_app: Celery,
) -> None:
    rest = after_stage(worker_app, "job-1", "embed", {"fine_tune": "own"})
    assert _paths(dict(rest), ("embed",)) == [
        ("embed", "fine_tune", "evaluate_fine_tuned", "compare")
    ]
    assert dict(rest)["kwargs"]["tasks"][0]["options"]["queue"] == "own"
    assert after_stage(worker_app, "job-1", "compare") is None


def test_the_canvas_runs_every_path_of_the_graph_in_order(worker_app: Celery) -> None:
    paths = _paths(dict(job_canvas(worker_app, "job-1")))
    assert paths == _graph_paths(graph.first())
    assert paths == [
        ("collect", "filter", "prepare", "embed", "fine_tune", "evaluate_fine_tuned", "compare"),
        ("collect", "filter", "prepare", "evaluate_baseline", "evaluate_fine_tuned", "compare"),
    ]
    for path in paths:  # every stage comes after all it needs that lie on its path
        for i, name in enumerate(path):
            assert set(graph.NEEDS[name]) & set(path) <= set(path[:i])


def test_an_evaluation_job_runs_both_models_then_the_comparison(worker_app: Celery) -> None:
    paths = _paths(dict(job_canvas(worker_app, "job-1", graph.EVALUATION)))
    assert paths == _graph_paths(graph.first(graph.EVALUATION))
    assert paths == [
        ("evaluation_start", "evaluate_model_a", "compare_models"),
        ("evaluation_start", "evaluate_model_b", "compare_models"),
    ]
    assert graph.last(graph.EVALUATION) == "compare_models"
    assert graph.progress_total(0, graph.EVALUATION) == 4


def test_every_task_of_the_canvas_carries_only_the_job_id(worker_app: Celery) -> None:
    def leaves(signature: dict) -> list[dict]:
        if signature["task"] in ("celery.chain", "celery.group"):
            return [leaf for part in signature["kwargs"]["tasks"] for leaf in leaves(part)]
        return [signature]

    canvases = [job_canvas(worker_app, "job-1", kind) for kind in graph.PIPELINES]
    for leaf in (leaf for canvas in canvases for leaf in leaves(dict(canvas))):
        assert (tuple(leaf["args"]), leaf["kwargs"], leaf["immutable"]) == (("job-1",), {}, True)


def test_joins_are_the_stages_that_need_more_than_one() -> None:
    assert frozenset({"evaluate_fine_tuned", "compare_models"}) == graph.JOINS
    assert contracts.STAGES == graph.STAGES


def test_each_stage_names_a_function_the_worker_can_run() -> None:
    for name in graph.STAGES:
        assert callable(work_of(name)), name


def test_every_stage_is_the_run_function_of_the_pipeline_module_of_its_name() -> None:
    for stage in graph.ALL:
        module = importlib.import_module(f"tuneloop.pipeline.{stage.name}")
        assert work_of(stage.name) is module.run, stage.name
        assert importlib.util.find_spec(f"tuneloop.pipeline.{stage.name}") is not None


def test_progress_counts_each_stage_and_each_epoch() -> None:
    assert graph.progress_total(0) == len(graph.GRAPH) == 8
    assert graph.progress_total(30) == 38


def test_the_readme_lists_the_stages_of_the_graph() -> None:
    text = README.read_text(encoding="utf-8")
    listed = re.search(r"`stage` is one of `([^`]*)`", text.replace("\n", " "))
    assert listed, "the README's list of stages"
    assert tuple(s.strip() for s in listed.group(1).split(",")) == graph.STAGES
    described = re.findall(r"\*\*(\w+)\*\*", text)  # the architecture's stage notes
    assert set(graph.STAGES) <= set(described), set(graph.STAGES) - set(described)


@pytest.mark.parametrize(
    ("stages", "problem"),
    [
        ((graph.Stage("a", "m:f", (), ""), graph.Stage("a", "m:f", (), "")), "declared twice"),
        ((graph.Stage("a", "m:f", ("b",), ""),), "not declared before"),
        ((graph.Stage("a", "m:f", (), ""), graph.Stage("b", "m:f", (), "")), "exactly one"),
    ],
)
def test_a_malformed_graph_is_refused(stages: tuple, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        graph.check(stages)
