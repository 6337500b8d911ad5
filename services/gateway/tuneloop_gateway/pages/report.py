"""A job's report shaped for the pages: pure functions of the job resource and its events."""

from collections.abc import Iterable

from tuneloop import contracts
from tuneloop.report_metrics import HEADLINE as METRICS  # the metrics with 95% intervals

EPOCH_EVENT = "metrics"  # the fine_tune stage's per-epoch event (tuneloop.pipeline.fine_tune)


def is_active(job: dict) -> bool:
    """Whether the job may still change (and can be cancelled)."""
    return job["status"] not in contracts.TERMINAL


def is_halted(job: dict) -> bool:
    """Whether a pause halted the job (pausing or paused): it can be resumed, not paused."""
    return job["status"] in contracts.HALTED


def epochs_of(job: dict, events: Iterable[dict]) -> list[dict]:
    """Return the losses per epoch: the result's when the job has one, else the events' so far."""
    result = job.get("result") or {}
    if result.get("epochs"):
        return list(result["epochs"])
    by_epoch = {}
    for event in events:
        data = event.get("data") or {}
        if event.get("type") == EPOCH_EVENT and "epoch" in data and "train_loss" in data:
            by_epoch[data["epoch"]] = {
                "epoch": data["epoch"],
                "train_loss": data["train_loss"],
                "valid_loss": data.get("valid_loss"),
            }
    return [by_epoch[n] for n in sorted(by_epoch)]


def metric_rows(result: dict) -> list[dict]:
    """Return per metric: both values, their 95% intervals and the change with its interval."""
    base, tuned = result.get("baseline_metrics"), result.get("fine_tuned_metrics")
    if not (base and tuned):
        return []
    improvement = result.get("improvement") or {}
    rows = []
    for metric in METRICS:
        if base.get(metric) is None and tuned.get(metric) is None:
            continue
        change = improvement.get(metric) or {}
        rows.append(
            {
                "metric": metric,
                "baseline": base.get(metric),
                "baseline_ci": (base.get("ci95") or {}).get(metric),
                "fine_tuned": tuned.get(metric),
                "fine_tuned_ci": (tuned.get("ci95") or {}).get(metric),
                "absolute": change.get("absolute"),
                "absolute_ci": change.get("absolute_ci95"),
                "relative": change.get("relative"),
            }
        )
    return rows


def task_rows(result: dict) -> list[dict]:
    """Return per expected task type: cases, both agents' accuracy and F1."""
    base = (result.get("baseline_metrics") or {}).get("by_task_type") or {}
    tuned = (result.get("fine_tuned_metrics") or {}).get("by_task_type") or {}
    classes = result.get("classification") or {}
    f1_base = (classes.get("baseline") or {}).get("by_task_type") or {}
    f1_tuned = (classes.get("fine_tuned") or {}).get("by_task_type") or {}
    rows = []
    for task in sorted(set(base) | set(tuned)):
        b, t = base.get(task) or {}, tuned.get(task) or {}
        row = {
            "task_type": task,
            "n_cases": t.get("n_cases", b.get("n_cases")),
            "baseline_accuracy": b.get("task_accuracy"),
            "fine_tuned_accuracy": t.get("task_accuracy"),
            "baseline_f1": (f1_base.get(task) or {}).get("f1"),
            "fine_tuned_f1": (f1_tuned.get(task) or {}).get("f1"),
        }
        row["change"] = _minus(row["fine_tuned_accuracy"], row["baseline_accuracy"])
        rows.append(row)
    return rows


def _minus(after: float | None, before: float | None) -> float | None:
    """Return after - before, or None when either is missing."""
    return None if after is None or before is None else after - before


def confusion_rows(result: dict) -> list[dict]:
    """Return each agent's most confused (expected, predicted) pairs side by side, worst first."""
    classes = result.get("classification") or {}
    counts: dict[tuple[str, str], dict] = {}
    for who in ("baseline", "fine_tuned"):
        for pair in (classes.get(who) or {}).get("confused_pairs") or []:
            key = (pair["expected"], pair["predicted"])
            counts.setdefault(key, {"baseline": None, "fine_tuned": None})[who] = pair["count"]
    rows = [{"expected": e, "predicted": p, **c} for (e, p), c in counts.items()]
    return sorted(
        rows, key=lambda r: (-(r["fine_tuned"] or 0), -(r["baseline"] or 0), r["expected"])
    )


def calibration_rows(result: dict) -> list[dict]:
    """Return the confidence bins either agent has cases in: both agents' counts and accuracy."""
    calibration = result.get("calibration") or {}
    base = (calibration.get("baseline") or {}).get("bins") or []
    tuned = (calibration.get("fine_tuned") or {}).get("bins") or []
    return [
        {"lower": b["lower"], "upper": b["upper"], "baseline": b, "fine_tuned": t}
        for b, t in zip(base, tuned, strict=False)
        if b.get("count") or t.get("count")
    ]


def scope_rows(result: dict) -> list[dict]:
    """Return per threshold of the out-of-scope trade-off: figures on validation and on cases."""
    abstention, scope = result.get("abstention") or {}, result.get("out_of_scope") or {}
    valid = {p["threshold"]: p for p in abstention.get("curve") or []}
    cases = {p["threshold"]: p for p in scope.get("curve") or []}
    chosen = abstention.get("threshold", scope.get("threshold"))
    rows = []
    for threshold in sorted(set(valid) | set(cases)):
        v, c = valid.get(threshold) or {}, cases.get(threshold) or {}
        rows.append(
            {
                "threshold": threshold,
                "chosen": threshold == chosen,
                "validation_accuracy": v.get("in_scope_accuracy"),
                "validation_recall": v.get("out_of_scope_recall"),
                "validation_loss": v.get("in_scope_loss"),
                "eval_accuracy": c.get("in_scope_accuracy"),
                "eval_recall": c.get("out_of_scope_recall"),
                "eval_loss": c.get("in_scope_loss"),
            }
        )
    return rows


def scope_summary(result: dict) -> dict:
    """Return the out-of-scope task, the threshold and how it was chosen (None where unknown)."""
    abstention, scope = result.get("abstention") or {}, result.get("out_of_scope") or {}
    return {
        "task": scope.get("task", abstention.get("task")),
        "threshold": abstention.get("threshold", scope.get("threshold")),
        "chosen_by": abstention.get("chosen_by"),
        "max_in_scope_loss": abstention.get("max_in_scope_loss"),
    }


def distribution_rows(training: dict) -> list[dict]:
    """Return per task type: training, validation and held-out examples, largest first."""
    train = training.get("task_distribution") or {}
    valid = training.get("validation_distribution") or {}
    held = training.get("holdout_distribution") or {}
    tasks = set(train) | set(valid) | set(held)
    rows = [
        {
            "task_type": task,
            "train": train.get(task, 0),
            "validation": valid.get(task, 0),
            "holdout": held.get(task, 0),
        }
        for task in tasks
    ]
    return sorted(rows, key=lambda r: (-r["train"], r["task_type"]))


def live_state(job: dict) -> dict:
    """Return what the job page refreshes while the job runs."""
    return {
        "id": job["id"],
        "status": job["status"],
        "stage": job["stage"],
        "progress": job["progress"],
        "active": is_active(job),
        "halted": is_halted(job),
        "finished_at": job.get("finished_at"),
        "error": job.get("error"),
    }
