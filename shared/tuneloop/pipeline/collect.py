"""The collect stage: count the snapshot of interactions the job was created over.

The rows themselves are read on demand by later stages (tuneloop.pipeline.data); the pure
side, turning interactions into examples, is tuneloop.stages.collect.
"""

from tuneloop.pipeline import data
from tuneloop.pipeline.runner import Limits
from tuneloop.store import Store


def run(store: Store, job: dict, limits: Limits) -> None:
    """Count the snapshot of interactions that existed when the job was created."""
    n = data.collected_count(store, job)
    store.jobs.add_event(
        job["id"], "collect:count", "message", f"collected {n} examples", {"collected": n}
    )
