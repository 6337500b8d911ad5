"""Read two jobs of the caller's project and compare them: the route's and the page's work."""

from tuneloop.report.compare_jobs import compare
from tuneloop.store import Store, ids
from tuneloop_gateway import checks

CHANGED = ("regressed", "improved")  # the cases a job's baseline and fine-tuned disagree on
CASES_READ = 5000  # changed cases read per job and outcome; past it the cases are not paired


class ComparisonError(Exception):
    """A job that cannot be compared: the field that names it, an HTTP status and why."""

    def __init__(self, field: str, status: int, message: str) -> None:
        super().__init__(message)
        self.field, self.status, self.message = field, status, message


def existing(store: Store, field: str, job_id: str) -> dict:
    """Return a job of the store's project, or raise ComparisonError (404) naming the field."""
    job = store.jobs.get(job_id) if checks.is_id(ids.JOB, job_id) else None
    if job is None:
        raise ComparisonError(field, 404, f"no job with id {job_id!r}")
    return job


def check_result(field: str, job: dict) -> None:
    """Raise ComparisonError (409) naming the field unless the job has a result."""
    if not job.get("result"):
        message = f"job {job['id']} is {job['status']}: it has no result to compare yet"
        raise ComparisonError(field, 409, message)


def kept_cases(store: Store, job: dict) -> tuple[dict | None, bool]:
    """Return the job's changed cases per outcome (None: it kept none) and whether all."""
    if "cases" not in job["result"]:
        return None, True
    pages = {o: store.cases.page(job["id"], o, CASES_READ) for o in CHANGED}
    return {o: rows for o, (rows, _) in pages.items()}, not any(m for _, m in pages.values())


def comparison(store: Store, a_id: str, b_id: str) -> dict:
    """Compare job A (field a) with job B (field b) of the store's project."""
    a, b = existing(store, "a", a_id), existing(store, "b", b_id)
    check_result("a", a)
    check_result("b", b)
    (cases_a, all_a), (cases_b, all_b) = kept_cases(store, a), kept_cases(store, b)
    return compare(a, b, cases_a, cases_b, complete=all_a and all_b)
