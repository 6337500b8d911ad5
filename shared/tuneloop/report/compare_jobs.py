"""Compare two finished jobs (A, then B): losses, configuration, metrics, tasks and cases.

Pure and numpy-free: the gateway's route and page, and through them the CLI, show what this
returns. Every change is B minus A.
"""

from tuneloop.report import compare_cases as cc
from tuneloop.report import compare_stats as stats
from tuneloop.report_metrics import HEADLINE, LANGUAGE
from tuneloop.stages.compare import CONFIDENCE_LEVEL, RESAMPLES

TOLERANCE = 1e-9  # how far the cases' accuracy change may be from the reported one (rounding)
METRICS = tuple(dict.fromkeys((*HEADLINE, *LANGUAGE)))  # what a job of any kind reports
SUMMARY = ("id", "status", "kind", "model_id", "created_at", "finished_at")


def compare(
    a: dict, b: dict, cases_a: cc.Cases | None, cases_b: cc.Cases | None, complete: bool = True
) -> dict:
    """Return the comparison of two jobs with results; cases None: the job kept none.

    complete is whether cases_a and cases_b hold every changed case of their jobs.
    """
    ra, rb = a.get("result") or {}, b.get("result") or {}
    keyed_a, keyed_b = cc.by_input(cases_a or {}), cc.by_input(cases_b or {})
    reason = unpaired_reason(a, b, cases_a, cases_b, complete) or cc.mismatch(keyed_a, keyed_b)
    n = _n_cases(ra)
    a_right, b_right = _split(cc.differing(keyed_a, keyed_b, reason is None))
    if reason is None and abs((len(b_right) - len(a_right)) / n - _change(ra, rb)) > TOLERANCE:
        reason = "the changed cases do not add up to the reported accuracies"
        a_right, b_right = _split(cc.differing(keyed_a, keyed_b, False))
    paired = reason is None
    metrics = metric_deltas(ra, rb, (n, len(b_right), len(a_right)) if paired else None)
    return {
        "object": "job.comparison",
        "a": _summary(a),
        "b": _summary(b),
        "loss_curves": {"a": ra.get("epochs") or [], "b": rb.get("epochs") or []},
        "config_diff": config_diff(_config(a), _config(b)),
        "metrics": metrics,
        "intervals": _intervals(metrics),
        "tasks": task_deltas(ra, rb),
        "cases": {
            "paired": paired,
            "reason": reason or f"both jobs were evaluated on the same {n} cases",
            "n_cases": {"a": _n_cases(ra), "b": _n_cases(rb)},
            "matched": len(keyed_a.keys() & keyed_b.keys()),
            "a_right_b_wrong": cc.bounded(a_right),
            "b_right_a_wrong": cc.bounded(b_right),
        },
    }


def _split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Return the differing cases A got right, and those B got right."""
    return [r for r in rows if r["a"]["correct"]], [r for r in rows if r["b"]["correct"]]


def unpaired_reason(
    a: dict, b: dict, cases_a: cc.Cases | None, cases_b: cc.Cases | None, complete: bool
) -> str | None:
    """Return why the two jobs' cases cannot be paired from the job documents, or None."""
    ra, rb = a.get("result") or {}, b.get("result") or {}
    for name, job, cases in (("A", a, cases_a), ("B", b, cases_b)):
        if cases is None:
            return f"job {name} ({job['id']}) kept no per-case outcomes"
    if not complete:
        return "a job changed more cases than are read here"
    if _n_cases(ra) != _n_cases(rb) or not _n_cases(ra):
        return f"A was evaluated on {_n_cases(ra)} cases and B on {_n_cases(rb)}"
    if _points(ra.get("baseline_metrics")) != _points(rb.get("baseline_metrics")):
        return "the two jobs' baselines scored differently, so their cases are not the same"
    return None


def _points(metrics: dict | None) -> dict:
    """Return a metric set without its intervals (those depend on each job's seed)."""
    return {k: v for k, v in (metrics or {}).items() if k != "ci95"}


def _n_cases(result: dict) -> int:
    """Return how many cases the job's fine-tuned agent was evaluated on."""
    return int((result.get("fine_tuned_metrics") or {}).get("n_cases") or 0)


def _change(ra: dict, rb: dict) -> float:
    """Return B's reported task accuracy minus A's."""
    return rb["fine_tuned_metrics"]["task_accuracy"] - ra["fine_tuned_metrics"]["task_accuracy"]


def _summary(job: dict) -> dict:
    """Return what names a job in the comparison."""
    result = job.get("result") or {}
    return {**{k: job.get(k) for k in SUMMARY}, "best_epoch": result.get("best_epoch")}


def _config(job: dict) -> dict:
    """Return what configured a job: its kind, request and the hyperparameters actually used."""
    used = (job.get("result") or {}).get("hyperparameters") or {}
    return {"kind": job.get("kind"), "request": job.get("request") or {}, "used": used}


def config_diff(a: dict, b: dict, prefix: str = "") -> list[dict]:
    """Return the leaves that differ, by dotted path; missing names the side without it."""
    rows = []
    for key in sorted(a.keys() | b.keys()):
        path = f"{prefix}{key}"
        if key not in a or key not in b:
            missing = "a" if key not in a else "b"
            rows.append({"path": path, "a": a.get(key), "b": b.get(key), "missing": missing})
        elif isinstance(a[key], dict) and isinstance(b[key], dict):
            rows += config_diff(a[key], b[key], f"{path}.")
        elif a[key] != b[key]:
            rows.append({"path": path, "a": a[key], "b": b[key], "missing": None})
    return rows


def metric_deltas(ra: dict, rb: dict, paired: tuple[int, int, int] | None) -> list[dict]:
    """Return each metric of both fine-tuned agents, the change and its interval.

    paired is (cases, B-only right, A-only right) when the cases pair: task accuracy then gets
    the paired bootstrap; every other metric (no per-case values kept) the unpaired interval.
    """
    ma, mb = ra.get("fine_tuned_metrics") or {}, rb.get("fine_tuned_metrics") or {}
    rows = []
    for name in METRICS:
        a, b = ma.get(name), mb.get(name)
        if a is None and b is None:
            continue
        delta = None if a is None or b is None else b - a
        if name == "task_accuracy" and paired is not None:
            ci, method = stats.paired_interval(*paired), stats.PAIRED
        else:
            ci = stats.unpaired_interval(
                a, (ma.get("ci95") or {}).get(name), b, (mb.get("ci95") or {}).get(name)
            )
            method = stats.UNPAIRED if ci is not None else None
        rows.append({"name": name, "a": a, "b": b, "delta": delta, "ci95": ci, "method": method})
    return rows


def _intervals(metrics: list[dict]) -> dict:
    """Return how the intervals shown were computed (only the methods used)."""
    used = sorted({row["method"] for row in metrics if row["method"]})
    out: dict = {
        "confidence_level": CONFIDENCE_LEVEL,
        "methods": {m: stats.METHODS[m] for m in used},
    }
    if stats.PAIRED in used:
        out["bootstrap"] = {"resamples": RESAMPLES, "seed": stats.SEED}
    return out


def task_deltas(ra: dict, rb: dict) -> list[dict]:
    """Return each task type's fine-tuned task accuracy in A and B and the change."""
    ta = (ra.get("fine_tuned_metrics") or {}).get("by_task_type") or {}
    tb = (rb.get("fine_tuned_metrics") or {}).get("by_task_type") or {}
    rows = []
    for task in sorted(ta.keys() | tb.keys()):
        a, b = ta.get(task, {}), tb.get(task, {})
        acc_a, acc_b = a.get("task_accuracy"), b.get("task_accuracy")
        rows.append(
            {
                "task_type": task,
                "a": acc_a,
                "b": acc_b,
                "delta": None if acc_a is None or acc_b is None else acc_b - acc_a,
                "a_cases": a.get("n_cases", 0),
                "b_cases": b.get("n_cases", 0),
            }
        )
    return rows
