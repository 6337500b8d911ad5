"""The job's Celery canvas, derived from the stage graph: each stage, then what needs it."""

from collections.abc import Mapping

from celery import Celery, Signature, chain, group

from tuneloop import graph


def job_canvas(
    celery: Celery,
    job_id: str,
    kind: str = graph.FINE_TUNING,
    queues: Mapping[str, str] | None = None,
) -> Signature:
    """Build the canvas of the job kind's pipeline (graph.PIPELINES); tasks get only the job id.

    queues sends named stages to a queue of their own (registry.stage_queues: the stages of
    a model kind that needs its own worker); the others go to the default queue.

    Where stages fork, each branch carries on through the stages after the join instead of
    meeting in a Celery chord: a chord's counter lives in the result backend, and one part
    that failed while Redis was away poisons it for good. The branch that finishes last runs
    the join; the others see a missing input there and stop (graph.JOINS).
    """

    def stage(name: str) -> Signature:
        """Return the immutable signature of one stage task."""
        signature = celery.signature(graph.BY_NAME[name].task, args=(job_id,), immutable=True)
        return signature.set(queue=queues[name]) if queues and name in queues else signature

    def from_stage(name: str) -> Signature:
        """Return the canvas of a stage and of everything after it."""
        after = graph.successors(name)
        if not after:
            return stage(name)
        rest = from_stage(after[0]) if len(after) == 1 else group(map(from_stage, after))
        return chain(stage(name), rest)

    return from_stage(graph.first(kind))
