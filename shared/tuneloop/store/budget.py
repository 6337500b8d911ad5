"""Byte budgets: what each project stores, counted where it is written and deleted.

Every script that writes or deletes a project's interactions, files, eval sets, cases,
models, webhook endpoints or webhook deliveries moves the project's usage hash
(keys.Space.usage) in the same step (lua/include/budget.lua): ``bytes`` in all, and
``{kind}:bytes`` and ``{kind}:count`` per kind.
A write that would take ``bytes`` past the budget is refused before it writes anything.
"""

from dataclasses import dataclass

from redis import Redis

from tuneloop.store import keys

KINDS = (
    "interactions",
    "files",
    "eval_sets",
    "cases",
    "models",
    "webhooks",
    "webhook_deliveries",
)


class BudgetExceeded(Exception):  # noqa: N818 - a refusal, answered 429 insufficient_quota
    """A write would take its project past its byte budget: nothing was stored."""

    def __init__(self, stored: int, adding: int, limit: int) -> None:
        super().__init__(stored, adding, limit)
        self.stored, self.adding, self.limit = stored, adding, limit

    def describe(self, project: str) -> str:
        """The refusal as the API words it: the budget, the figures, what to do."""
        return (
            f"project {project!r} stores {self.stored:,} bytes and this write adds "
            f"{self.adding:,}, past its budget of {self.limit:,} bytes "
            "(TUNELOOP_MAX_PROJECT_BYTES); nothing was stored: delete jobs, files, models "
            "or interactions it no longer needs, or ask an operator for a larger budget"
        )


@dataclass(frozen=True)
class Budget:
    """The most bytes one project may store (0: no limit)."""

    max_bytes: int = 0


def is_refusal(outcome: object) -> bool:
    """Whether a script answered over_budget's refusal."""
    return isinstance(outcome, list) and bool(outcome) and outcome[0] == "over_budget"


def raise_if_over(outcome: object) -> None:
    """Raise BudgetExceeded when a script answered over_budget's refusal."""
    if is_refusal(outcome):
        raise BudgetExceeded(int(outcome[1]), int(outcome[2]), int(outcome[3]))


def usage(redis: Redis, space: keys.Space) -> dict:
    """Return a project's stored bytes in all and per kind, and its counts."""
    raw = redis.hgetall(space.usage)
    return {
        "bytes": int(raw.get("bytes", 0)),
        **{
            kind: {
                "bytes": int(raw.get(f"{kind}:bytes", 0)),
                "count": int(raw.get(f"{kind}:count", 0)),
            }
            for kind in KINDS
        },
    }


NO_BUDGET = Budget()  # no limit: a store built without settings (tests, tools)
