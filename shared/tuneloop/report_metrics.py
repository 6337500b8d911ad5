"""The report's metrics and how text shows them: one home for the API, the CLI, demo and pages.

Standard library only: the `tuneloop` CLI, an HTTP client, imports this module and nothing
else of the server's.
"""

# The metrics every metric set carries with a 95% interval (and a promote_if rule may name),
# in the order the CLI and the pages show them.
HEADLINE = (
    "task_accuracy",
    "macro_f1",
    "average_confidence",
    "response_quality",
    "response_chrf",
    "overall_score",
)
# A language-model job's metrics (tuneloop.llm.evaluation), each with a 95% interval.
LANGUAGE = ("mean_token_nll", "perplexity", "response_chrf", "preference_accuracy")
# What a promote_if rule may name on a language-model job: the held-out likelihood's fall
# (baseline minus fine-tuned mean token NLL, in nats: higher is better) and preferences.
LANGUAGE_GATE = ("nll_reduction", "preference_accuracy")
# The lab's report (`make demo`) opens with the lab's first metric, then the same order.
LAB_ORDER = ("average_confidence", *(name for name in HEADLINE if name != "average_confidence"))
DIGITS = 3
MISSING = "n/a"


def num(value: float | None, digits: int = DIGITS) -> str:
    """Render a number, or "n/a"."""
    return MISSING if value is None else f"{value:.{digits}f}"


def signed(value: float | None, digits: int = DIGITS) -> str:
    """Render a change with its sign, or "n/a"."""
    return MISSING if value is None else f"{value:+.{digits}f}"


def percent(value: float | None) -> str:
    """Render a relative change as a signed percentage, or "n/a"."""
    return MISSING if value is None else f"{value:+.1%}"


def interval(pair: list[float] | None, digits: int = DIGITS) -> str:
    """Render a 95% interval, or nothing when it is undefined."""
    return f"[{pair[0]:.{digits}f}, {pair[1]:.{digits}f}]" if pair else ""


def metric_cells(result: dict, name: str) -> tuple[str, ...]:
    """One metric's baseline, its interval, fine-tuned, its interval, the change, its interval."""
    base, tuned = result.get("baseline_metrics") or {}, result.get("fine_tuned_metrics") or {}
    change = (result.get("improvement") or {}).get(name) or {}
    return (
        num(base.get(name)),
        interval((base.get("ci95") or {}).get(name)),
        num(tuned.get(name)),
        interval((tuned.get("ci95") or {}).get(name)),
        signed(change.get("absolute")),
        interval(change.get("absolute_ci95")),
    )
