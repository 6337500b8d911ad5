"""The promotion gate: whether a job's report passes every rule the job was given (promote_if)."""

from tuneloop.contracts import LATEST_PROMOTED

# Float noise is no failure: 0.85 - 0.80 is 0.04999999999999993, which meets min_delta 0.05.
TOLERANCE = 1e-9
# Why a metric can be null on an evaluation; any other metric missing was not measured.
_UNDEFINED = {
    "response_quality": "the evaluation cases have no reference outputs",
    "response_chrf": "the evaluation cases have no reference outputs",
}


def decide(rules: list[dict], report: dict) -> dict | None:
    """Return whether the report passes every rule, each check and why; None without rules."""
    if not rules:
        return None
    judged = [_check(rule, report) for rule in rules]
    checks = [check for check, _ in judged]
    failed = [phrase for check, phrase in judged if not check["passed"]]
    if failed:
        reason = (
            f"Not promoted ({len(failed)} of {len(checks)} checks failed): {'; '.join(failed)}."
        )
    else:
        passed = "; ".join(phrase for _, phrase in judged)
        reason = f"Promoted as {LATEST_PROMOTED}, every check passed: {passed}."
    return {
        "promoted": not failed,
        "alias": None if failed else LATEST_PROMOTED,
        "checks": checks,
        "reason": reason,
    }


def _check(rule: dict, report: dict) -> tuple[dict, str]:
    """Return one rule's check and a phrase saying what it found."""
    metric = rule["metric"]
    kind = "min_delta" if rule.get("min_delta") is not None else "min_value"
    threshold, lower = rule[kind], bool(rule.get("use_lower_bound"))
    point, interval = _read(report, metric, kind)
    observed = (interval[0] if interval else None) if lower else point
    passed = observed is not None and observed >= threshold - TOLERANCE
    subject = ("the change in " if kind == "min_delta" else "") + metric
    if lower:
        subject = f"the lower 95% bound of {subject}"
    if observed is None:
        why = _UNDEFINED.get(metric, "this evaluation did not measure it")
        if point is not None:
            why = "the report has no confidence interval for it"
        phrase = f"{subject} is undefined ({why})"
    else:
        shown = f"{observed:+.4g}" if kind == "min_delta" else f"{observed:.4g}"
        phrase = f"{subject} {shown} is {'at least' if passed else 'below'} {threshold:g}"
    check = {
        "metric": metric,
        "rule": kind,
        "threshold": threshold,
        "bound": "lower_ci95" if lower else "point",
        "observed": observed,
        "passed": passed,
    }
    return check, phrase


def _read(report: dict, metric: str, kind: str) -> tuple[float | None, list[float] | None]:
    """Return the value a rule of kind reads for metric, and its 95% interval (or None)."""
    if kind == "min_value":
        values = report.get("fine_tuned_metrics") or {}
        return values.get(metric), (values.get("ci95") or {}).get(metric)
    change = (report.get("improvement") or {}).get(metric) or {}
    return change.get("absolute"), change.get("absolute_ci95")
