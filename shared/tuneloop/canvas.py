"""The job's Celery canvas, derived from the stage graph: each stage, then what needs it."""

from collections.abc import Iterable, Mapping

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

    return _from_stage(celery, job_id, graph.first(kind), queues or {})


def after_stage(
    celery: Celery, job_id: str, name: str, queues: Mapping[str, str] | None = None
) -> Signature | None:
    """Build the canvas of everything after stage name (None when it ends its pipeline).

    The last part of a fanned-out stage sends it: the stages after, on the same queues.
    """
    after = graph.successors(name)
    if not after:
        return None
    if len(after) == 1:
        return _from_stage(celery, job_id, after[0], queues or {})
    return group(_from_stage(celery, job_id, n, queues or {}) for n in after)


def parts_canvas(celery: Celery, job_id: str, name: str, parts: Iterable[int]) -> Signature:
    """Build the group of a fanned-out stage's parts: on the default queue, over every worker."""
    task = graph.BY_NAME[name].part_task
    return group(celery.signature(task, args=(job_id, i), immutable=True) for i in parts)


def _stage(celery: Celery, job_id: str, name: str, queues: Mapping[str, str]) -> Signature:
    """Return the immutable signature of one stage task (on its queue, if it has one)."""
    signature = celery.signature(graph.BY_NAME[name].task, args=(job_id,), immutable=True)
    return signature.set(queue=queues[name]) if name in queues else signature


def _from_stage(celery: Celery, job_id: str, name: str, queues: Mapping[str, str]) -> Signature:
    """Return the canvas of a stage and of everything after it."""
    rest = after_stage(celery, job_id, name, queues)
    return (
        _stage(celery, job_id, name, queues)
        if rest is None
        else chain(_stage(celery, job_id, name, queues), rest)
    )
