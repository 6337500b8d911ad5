"""The job's Celery canvas: collect → filter → prepare → (baseline ∥ fine-tune) → eval → compare."""

from celery import Celery, Signature, chain, group

from tuneloop import contracts


def job_canvas(celery: Celery, job_id: str) -> chain:
    """Build the stage tasks' canvas; each gets only the job id.

    The two parallel branches each continue with evaluate_fine_tuned and compare instead of
    joining in a Celery chord: a chord's counter lives in the result backend, and one part
    that failed while Redis was away poisons it for good. The branch that finishes second
    runs the join; the other's evaluate_fine_tuned sees a missing input and stops there.
    """

    def stage(name: str) -> Signature:
        """Return the immutable signature of one stage task."""
        return celery.signature(name, args=(job_id,), immutable=True)

    def branch(first: str) -> chain:
        """Return one parallel branch followed by the join stages."""
        return chain(stage(first), stage(contracts.EVALUATE_FINE_TUNED), stage(contracts.COMPARE))

    return chain(
        stage(contracts.COLLECT),
        stage(contracts.FILTER),
        stage(contracts.PREPARE),
        group(branch(contracts.EVALUATE_BASELINE), branch(contracts.FINE_TUNE)),
    )
