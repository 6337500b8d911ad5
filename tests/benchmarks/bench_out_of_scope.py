"""Out-of-scope abstention on a generated CLINC150-shaped set, through the real stack.

Shaped as CLINC150's "small" variant (Larson et al., 2019): 150 generated task types are in
scope, 70 rated rows each (the split keeps about 56 to train on and 14 to validate on, as
CLINC150 small has 50 and 20) and 30 eval cases each. 200 rows labelled "oos", one from each
of 200 other topics, train the out-of-scope task; its 1,000 eval cases come from 200 more
topics the agent never saw, so abstaining on them is a real test, not recall of trained inputs.
The same data is fine-tuned twice in one run, alternately: with the threshold chosen on the
validation split, and with abstain_threshold 0 (never abstain, the baseline of the comparison).
The goal (issue #23): in-scope accuracy at least no abstention's minus 0.02, with out-of-scope
recall at least 0.474, the MLP's on CLINC150 (Larson et al., 2019, table 2).
"""

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from benchsupport import post_rows, run_job, start_stack
from datagen import varied

OOS, SEED, ROUNDS = "oos", 21, 1
N_TOPICS = 550
IN_SCOPE = range(0, 150)  # task types the agent serves: 70 rated rows, 30 eval cases each
TRAIN_OOS = range(150, 350)  # 200 other topics, 1 row each, all labelled "oos" for training
EVAL_OOS = range(350, 550)  # 200 more topics the agent never saw: 5 "oos" eval cases each
TRAIN_PER, EVAL_PER, OOS_TRAIN_PER, OOS_EVAL_PER = 70, 30, 1, 5
MAX_LOSS, MLP_RECALL = 0.02, 0.474  # the goal: in-scope loss at most, out-of-scope recall least


def data() -> tuple[list[dict], list[dict]]:
    """Return the training rows and the eval set (no input is in both)."""
    rows, cases = [], []
    for i, row in enumerate(varied(N_TOPICS * (TRAIN_PER + EVAL_PER), N_TOPICS, SEED)):
        topic, nth = i % N_TOPICS, i // N_TOPICS
        if topic in IN_SCOPE:
            (rows if nth < TRAIN_PER else cases).append(row)
        elif topic in TRAIN_OOS and nth < OOS_TRAIN_PER:
            rows.append({**row, "task_type": OOS})
        elif topic in EVAL_OOS and nth < OOS_EVAL_PER:
            cases.append({**row, "task_type": OOS})
    eval_set = [
        {"input": r["input"], "expected_type": r["task_type"], "reference_output": r["output"]}
        for r in cases
    ]
    return rows, eval_set


def figures(job: dict) -> dict:
    """Return the fine-tuned agent's out-of-scope figures and the threshold used."""
    scope = job["result"]["out_of_scope"]
    return {"threshold": scope["threshold"], **scope["fine_tuned"]}


def line(name: str, runs: list[dict]) -> str:
    """Format the medians (min-max) of a configuration's runs."""
    parts = []
    for key in ("threshold", "out_of_scope_recall", "out_of_scope_precision", "in_scope_accuracy"):
        values = [r[key] for r in runs if r[key] is not None]
        if values:
            parts.append(
                f"{key} {statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"
            )
        else:
            parts.append(f"{key} n/a")
    return f"  {name:<28} " + ", ".join(parts)


def goal(chosen: dict, never: dict) -> str:
    """Say whether the chosen threshold meets the goal against never abstaining."""
    loss = never["in_scope_accuracy"] - chosen["in_scope_accuracy"]
    recall = chosen["out_of_scope_recall"]
    met = loss <= MAX_LOSS + 1e-9 and recall >= MLP_RECALL
    return (
        f"  goal {'met' if met else 'NOT met'}: in-scope accuracy {loss:.3f} below never "
        f"abstaining (at most {MAX_LOSS}), out-of-scope recall {recall:.3f} "
        f"(at least {MLP_RECALL})"
    )


def curve_table(result: dict) -> list[str]:
    """Format the job's trade-off curves: validation rows and eval cases, per threshold."""
    valid = {p["threshold"]: p for p in result["abstention"]["curve"] or []}
    cases = {p["threshold"]: p for p in result["out_of_scope"]["curve"] or []}
    chosen = result["abstention"]["threshold"]
    out = [
        "  threshold  validation: in-scope acc  oos recall | eval cases: in-scope acc  oos recall"
    ]
    for t in sorted(set(valid) | set(cases)):
        v, c = valid.get(t, {}), cases.get(t, {})
        mark = " chosen" if t == chosen else (" never" if t == 0 else "")
        cells = [
            f"{x:.3f}" if x is not None else "n/a"
            for x in (
                v.get("in_scope_accuracy"),
                v.get("out_of_scope_recall"),
                c.get("in_scope_accuracy"),
                c.get("out_of_scope_recall"),
            )
        ]
        out.append(
            f"  {t:9.4f}  {cells[0]:>24}  {cells[1]:>10} | {cells[2]:>24}  {cells[3]:>10}{mark}"
        )
    return out


def same_job(result: dict) -> dict | None:
    """Return no abstention's and the chosen threshold's eval figures from one job's curve."""
    points = {p["threshold"]: p for p in result["out_of_scope"].get("curve") or []}
    chosen = result["abstention"]["threshold"]
    if 0.0 not in points or chosen not in points:
        return None  # a job of the code before the curve
    return {"never": points[0.0], "chosen": points[chosen]}


def main() -> None:
    """Fine-tune with a chosen threshold and with none, alternately; print both."""
    rows, eval_set = data()
    base = {
        "min_score": 0.0,
        "include_synthetic": False,
        "eval_set": eval_set,
        "out_of_scope_task": OOS,
    }
    chosen, never = [], []
    stack, client = start_stack(workers=1)
    try:
        post_rows(client, rows)
        for _ in range(ROUNDS):
            job, _ = run_job(client, base)
            chosen.append(figures(job))
            last = job
            job, _ = run_job(client, {**base, "abstain_threshold": 0.0})
            never.append(figures(job))
    finally:
        stack.stop()
    result = last["result"]
    print("command: .venv/bin/python tests/benchmarks/bench_out_of_scope.py")
    n_oos = sum(c["expected_type"] == OOS for c in eval_set)
    print(
        f"out of scope: {len(rows)} training rows ({len(IN_SCOPE)} task types + {OOS!r} from "
        f"{len(TRAIN_OOS)} topics); {len(eval_set)} eval cases, {n_oos} from {len(EVAL_OOS)} "
        f"unseen topics; {ROUNDS} job(s) each, alternating (same data and seed: same figures)"
    )
    print(line("threshold chosen on validation", chosen))
    print(line("abstain_threshold 0 (never)", never))
    print(goal(chosen[-1], never[-1]) + " (two jobs)")
    one = same_job(result)
    if one is not None:
        print(goal(one["chosen"], one["never"]) + " (the same job's curve)")
        print("\n".join(curve_table(result)))
    abstention = result["abstention"]
    print(
        f"  max_in_scope_loss {abstention.get('max_in_scope_loss')}; validation figures at "
        f"the chosen threshold: {abstention['validation']}"
    )
    calibration = result["calibration"]
    print(
        f"  ECE: baseline {calibration['baseline']['ece']:.3f}, "
        f"fine-tuned {calibration['fine_tuned']['ece']:.3f}; response_chrf "
        f"{result['baseline_metrics']['response_chrf']:.3f} -> "
        f"{result['fine_tuned_metrics']['response_chrf']:.3f}"
    )


if __name__ == "__main__":
    main()
