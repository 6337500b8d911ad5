"""The job's Celery canvas: collect → filter → prepare → (baseline ∥ fine-tune) → eval → compare."""

from celery import Celery, Signature, chain, group

from tuneloop import contracts


def job_canvas(celery: Celery, job_id: str) -> chain:
    """Build the chain of stage tasks; each gets only the job id."""

    def stage(name: str) -> Signature:
        """Return the immutable signature of one stage task."""
        return celery.signature(name, args=(job_id,), immutable=True)

    return chain(
        stage(contracts.COLLECT),
        stage(contracts.FILTER),
        stage(contracts.PREPARE),
        group(stage(contracts.EVALUATE_BASELINE), stage(contracts.FINE_TUNE)),
        stage(contracts.EVALUATE_FINE_TUNED),
        stage(contracts.COMPARE),
    )
