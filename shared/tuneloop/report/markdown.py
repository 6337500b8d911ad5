"""A job's report as Markdown, from the job document alone (GET /v1/jobs/{id}).

Standard library and tuneloop.report_metrics only: the gateway serves it, the pages offer it
as a download and the `tuneloop` CLI prints it (`tuneloop report JOB --markdown`).
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tuneloop.report.format import p_value
from tuneloop.report_metrics import HEADLINE, LANGUAGE, metric_cells, num, percent

Job = Mapping[str, Any]


def cell(value: object) -> str:
    """A table cell's text: pipes escaped, line breaks made spaces."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A GitHub-flavoured Markdown table (numbers right-aligned after the first column)."""
    lines = ["| " + " | ".join(cell(h) for h in header) + " |"]
    lines.append("|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|")
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def heading(job: Job) -> list[str]:
    """The title and the job's facts."""
    result, request = job.get("result") or {}, job.get("request") or {}
    facts = [
        ("Status", job.get("status")),
        ("Kind", job.get("kind")),
        ("Base model", request.get("model")),
        ("Suffix", request.get("suffix")),
        ("Model", result.get("model_id")),
    ]
    lines = [f"# Report of job `{job['id']}`", ""]
    lines += [f"- **{name}:** {value}" for name, value in facts if value]
    if models := result.get("models"):
        lines.append(f"- **Compares:** {models['baseline']} (baseline) with {models['fine_tuned']}")
    if error := job.get("error"):
        where = f"{error.get('code')} in {error.get('stage')}"
        lines.append(f"- **Error:** {where}: {error.get('message')}")
    return lines


def verdict_note(sig: Mapping) -> str:
    """Whether the verdict is conclusive, and McNemar's p when the sentence does not say it."""
    mark = "conclusive" if sig["conclusive"] else "not conclusive"
    test = sig.get("mcnemar")  # a likelihood (LLM) evaluation has none
    if test is None or "McNemar" in sig["verdict"]:
        return mark
    return f"{mark}; McNemar {p_value(test['p_value'])}"


def verdict(result: Mapping) -> list[str]:
    """The significance verdict, the per-case outcomes and the promotion decision."""
    lines = ["", "## Verdict", ""]
    if sig := result.get("significance"):
        lines.append(f"{sig['verdict']} ({verdict_note(sig)})")
    if cases := result.get("cases"):
        lines += ["", f"Cases: {cases['improved']} improved, {cases['regressed']} regressed."]
    if promotion := result.get("promotion"):
        lines += ["", f"Promotion: {promotion['reason']}", ""]
        lines += table(
            ("metric", "rule", "bound", "threshold", "observed", "passed"),
            (
                (c["metric"], c["rule"], c["bound"], f"{c['threshold']:g}", *passed(c))
                for c in promotion.get("checks") or []
            ),
        )
    return lines if len(lines) > 3 else []


def passed(check: Mapping) -> tuple[str, str]:
    """A promotion check's observed value and whether it passed."""
    return num(check.get("observed")), "yes" if check["passed"] else "no"


def metrics(result: Mapping) -> list[str]:
    """Both agents' metrics with their 95% intervals, and the change with its interval."""
    base, tuned = result.get("baseline_metrics") or {}, result.get("fine_tuned_metrics") or {}
    names = [m for m in dict.fromkeys(HEADLINE + LANGUAGE) if m in base or m in tuned]
    if not names:
        return []
    improvement = result.get("improvement") or {}
    rows = [
        (
            name,
            *metric_cells(result, name),
            percent((improvement.get(name) or {}).get("relative")),
        )
        for name in names
    ]
    header = ("metric", "baseline", "95% CI", "fine-tuned", "95% CI", "change", "95% CI", "rel.")
    title = f"## Metrics ({base.get('n_cases', tuned.get('n_cases', '?'))} evaluation cases)"
    return ["", title, "", *table(header, rows)]


def tasks(result: Mapping) -> list[str]:
    """Per expected task type: cases, both agents' accuracy and F1."""
    base = (result.get("baseline_metrics") or {}).get("by_task_type") or {}
    tuned = (result.get("fine_tuned_metrics") or {}).get("by_task_type") or {}
    classes = result.get("classification") or {}
    f1 = {who: (classes.get(who) or {}).get("by_task_type") or {} for who in classes}
    rows = []
    for task in sorted(set(base) | set(tuned)):
        b, t = base.get(task) or {}, tuned.get(task) or {}
        rows.append(
            (
                task,
                t.get("n_cases", b.get("n_cases")),
                num(b.get("task_accuracy")),
                num(t.get("task_accuracy")),
                num((f1.get("baseline") or {}).get(task, {}).get("f1")),
                num((f1.get("fine_tuned") or {}).get(task, {}).get("f1")),
            )
        )
    if not rows:
        return []
    header = ("task type", "cases", "baseline acc", "fine-tuned acc")
    header += ("baseline F1", "fine-tuned F1")
    return ["", "## Per task type", "", *table(header, rows)]


def training(result: Mapping) -> list[str]:
    """The data trained and evaluated on, and how the training went."""
    data = result.get("training_data") or {}
    if not data:
        return []
    dropped = ", ".join(f"{k}: {v}" for k, v in sorted((data.get("dropped") or {}).items()))
    lines = [
        "",
        "## Training data",
        "",
        f"- Training examples: {data.get('total_examples')}",
        f"- Validation examples: {data.get('validation_examples', 0)}",
        f"- Held out for evaluation: {data.get('holdout_examples', 0)}",
        f"- Dropped: {dropped or 'none'}",
    ]
    if epochs := result.get("epochs"):
        last = epochs[-1]
        early = ", stopped early" if result.get("stopped_early") else ""
        lines.append(
            f"- Training: {len(epochs)} epochs (best {result.get('best_epoch')}{early}); last "
            f"train loss {num(last['train_loss'], 4)}, validation loss "
            f"{num(last.get('valid_loss'), 4)}"
        )
    if hyper := result.get("hyperparameters"):
        used = ", ".join(f"{k}={v}" for k, v in sorted(hyper.items()))
        lines.append(f"- Hyperparameters used: {used}")
    distribution = data.get("task_distribution") or {}
    if distribution:
        rows = sorted(distribution.items(), key=lambda kv: (-kv[1], kv[0]))
        lines += ["", *table(("task type", "training examples"), rows)]
    return lines


def render(job: Job) -> str:
    """The job's report as one Markdown document (a job without a result says so)."""
    result = job.get("result") or {}
    parts = heading(job)
    if not result:
        parts += ["", f"No report yet: the job is {job.get('status')}."]
    else:
        parts += verdict(result) + metrics(result) + tasks(result) + training(result)
    return "\n".join(parts) + "\n"
