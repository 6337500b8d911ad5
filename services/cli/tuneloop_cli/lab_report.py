"""The lab's plain-text report of a job, as `make demo` and `tuneloop report --lab` print it."""

from tuneloop.report.format import p_value
from tuneloop.report_metrics import LAB_ORDER, interval, num, percent


def metric_lines(title: str, m: dict) -> list[str]:
    """Return a metric set's lines: each metric with its value and 95% interval."""
    lines = [f"{title} ({m['n_cases']} evaluation cases; 95% CI):"]
    ci = m.get("ci95") or {}
    lines += [
        f"  {name:<20} {num(m.get(name))} {interval(ci.get(name))}"
        for name in LAB_ORDER
        if name in m
    ]
    return lines


def _judgement(r: dict) -> list[str]:
    """Return the lines on significance, calibration, out-of-scope, regressions, promotion."""
    lines = []
    if sig := r.get("significance"):
        p = p_value((sig.get("mcnemar") or {}).get("p_value"))  # none: a likelihood evaluation
        lines.append(f"\nMcNemar {p} over {sig['n_cases']} cases. {sig['verdict']}")
    if cal := r.get("calibration"):
        eces = ", ".join(f"{who} {cal[who]['ece']:.3f}" for who in ("baseline", "fine_tuned"))
        lines.append(f"Expected calibration error: {eces}")
    if oos := r.get("out_of_scope"):
        tuned = oos["fine_tuned"]
        lines.append(
            f"Out of scope ({oos['task']!r}, threshold {num(oos['threshold'])}): recall "
            f"{num(tuned['out_of_scope_recall'])}, precision "
            f"{num(tuned['out_of_scope_precision'])}, in-scope accuracy "
            f"{num(tuned['in_scope_accuracy'])}"
        )
    if cases := r.get("cases"):
        lines.append(f"Cases: {cases_line(cases)} (GET /v1/jobs/{{id}}/cases?outcome=wrong)")
    if promotion := r.get("promotion"):
        lines.append(f"Promotion: {promotion['reason']}")
    return lines


def render(job: dict, events: list[dict]) -> str:
    """Return the report of a finished job as text."""
    if job["status"] != "succeeded":
        return f"\nJob {job['id']} {job['status']}: {job.get('error')}"
    r = job["result"]
    td, collected = r["training_data"], _first_value(events, "collected")
    lines = ["", "=" * 72, "AGENT FINE-TUNING REPORT", "=" * 72]
    lines.append(f"Collected interactions:  {collected}")
    lines.append(
        f"High-quality examples:   "
        f"{td['total_examples'] + td['validation_examples'] + td['holdout_examples']} "
        f"({td['total_examples']} train, {td['validation_examples']} validation, "
        f"{td['holdout_examples']} held out and evaluated)"
    )
    lines.append(f"Dropped:                 {td['dropped'] or 'none'}")
    lines.append(f"Task distribution:       {td['task_distribution']}")
    lines += metric_lines("\nBaseline metrics", r["baseline_metrics"])
    hp = ", ".join(f"{k}={v}" for k, v in sorted(r["hyperparameters"].items()))
    lines.append(f"\nFine-tuning ({hp}); router log-loss, computed on the data:")
    lines += [
        f"  epoch {e['epoch']:>3}  train {e['train_loss']:.4f}  validation {num(e['valid_loss'])}"
        for e in r["epochs"]
    ]
    lines.append(
        f"  best epoch {r['best_epoch']} (its weights are the model; stopped early: "
        f"{'yes' if r['stopped_early'] else 'no'}); model {r['model_size_bytes']:,} bytes"
    )
    lines += metric_lines("\nFine-tuned metrics", r["fine_tuned_metrics"])
    lines.append(
        f"\n{'metric':<20} {'baseline':>9} {'fine-tuned':>11} {'change':>8} {'relative':>9}"
        "  change 95% CI"
    )
    for name in (n for n in LAB_ORDER if n in r["improvement"]):
        ch = r["improvement"][name]
        lines.append(
            f"{name:<20} {num(r['baseline_metrics'][name]):>9} "
            f"{num(r['fine_tuned_metrics'][name]):>11} {num(ch['absolute']):>8} "
            f"{percent(ch['relative']):>9}  {interval(ch.get('absolute_ci95'))}"
        )
    lines += _judgement(r)
    lines.append("\nExample interactions (same input, both agents):")
    for ex in r["examples"]:
        lines.append(f"  Q: {ex['input']}  [expected: {ex['expected_type']}]")
        for who in ("baseline", "fine_tuned"):
            a = ex[who]
            lines.append(f"    {who:<10} [{a['task_type']}, {a['confidence']:.2f}] {a['text']}")
    lines.append(f"\nModel: {r['model_id']}")
    return "\n".join(lines)


def _first_value(events: list[dict], field: str) -> str:
    """Return the first event data value named field, or '?'."""
    for e in events:
        if field in e.get("data", {}):
            return str(e["data"][field])
    return "?"


def cases_line(cases: dict) -> str:
    """The case counts: improved, regressed and (once kept) every case the fine-tuned got wrong."""
    line = f"{cases['improved']} improved, {cases['regressed']} regressed"
    return f"{line}, {cases['wrong']} wrong" if "wrong" in cases else line
