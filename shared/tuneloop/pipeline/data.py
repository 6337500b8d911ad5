"""A job's rows as streams: collected on demand from the snapshot, never copied per stage."""

from collections.abc import Iterator

from tuneloop.errors import StageError
from tuneloop.job_request import request_of
from tuneloop.schemas.chat_file import trusted_batches
from tuneloop.stages.collect import collect as collect_examples
from tuneloop.stages.collect import synthetic_examples
from tuneloop.stages.evaluate import holdout_cases, request_cases
from tuneloop.stages.filter import select
from tuneloop.stages.prepare import HOLDOUT, TRAIN, held_from_bytes, one_side
from tuneloop.store import Store
from tuneloop.store.artifacts import HELD_OUT


def collected(store: Store, job: dict) -> Iterator[list[dict]]:
    """Yield the job's examples in a fixed order: synthetic ones (if asked), then its data.

    The data is the job's training file when it names one, else the interaction snapshot.
    """
    request = request_of(job)
    fid = request.training_file
    if fid:
        batches = file_batches(store, job["id"], fid)
    else:
        batches = store.for_job(job).interactions.snapshot(job["snapshot_seq"])
    return collect_examples(batches, request.include_synthetic)


def file_batches(store: Store, jid: str, fid: str, batch: int = 500) -> Iterator[list[dict]]:
    """Yield a training file's rows as interactions; a row without a task type keeps None.

    The filter drops such a row as no_task_type (this agent learns routing from task types).
    The file is read at the call, so a file deleted since raises StageError here, before
    anything is yielded (a download can still answer with an error).
    """
    content = store.files.content(fid)
    if content is None:
        raise StageError("training_file_missing", f"the training file {fid} of job {jid} is gone")
    return _file_rows(fid, content, batch)


def _file_rows(fid: str, content: bytes, batch: int) -> Iterator[list[dict]]:
    """Yield the rows of a file's content in batches, with ids naming the file and the row."""
    start = 0
    for rows in trusted_batches(content, batch):
        yield [
            {**row, "id": f"{fid}:{start + i + 1}", "source": "file"} for i, row in enumerate(rows)
        ]
        start += len(rows)


def collected_count(store: Store, job: dict) -> int:
    """Return how many examples collected() yields, without reading them."""
    request = request_of(job)
    synthetic = len(synthetic_examples()) if request.include_synthetic else 0
    fid = request.training_file
    if fid:
        record = store.files.get(fid)
        if record is None:
            raise StageError("training_file_missing", f"the training file {fid} is gone")
        return synthetic + record["tuneloop"]["rows"]
    snapshot = store.for_job(job).interactions
    return synthetic + snapshot.snapshot_size(job["snapshot_seq"])


def kept(store: Store, job: dict) -> Iterator[list[dict]]:
    """Yield the examples that passed the filter; KeyError before the filter has run."""
    mask = store.artifacts.get_blob(job["id"], "kept")
    if mask is None:
        raise KeyError(f"job {job['id']} has not been filtered yet")
    return select(mask, collected(store, job))


def split_of(job: dict) -> tuple[int, float | None]:
    """Return the (seed, holdout fraction or None) that place each input on one side."""
    request = request_of(job)
    return request.hyperparameters["seed"], request.holdout_fraction


def sides(store: Store, job: dict) -> tuple[int, float | None, frozenset[int]]:
    """Return what side_of needs after prepare: the seed, the band's holdout fraction (None
    with a stratified holdout) and the stratified holdout's ranks."""
    seed, holdout = split_of(job)
    if holdout is None or not request_of(job).holdout_per_task:
        return seed, holdout, frozenset()
    raw = store.artifacts.get_blob(job["id"], HELD_OUT)
    if raw is None:
        raise StageError("holdout_missing", f"the held-out inputs of job {job['id']} are gone")
    return seed, None, held_from_bytes(raw)


def training_rows(store: Store, job: dict) -> Iterator[list[dict]]:
    """Yield the kept examples on the training side."""
    seed, holdout, held = sides(store, job)
    return one_side(kept(store, job), seed, holdout, TRAIN, held)


def eval_set(store: Store, job: dict) -> list[dict] | None:
    """Return the cases the job was created with, or None when it was given none."""
    if not request_of(job).eval_set_size:
        return None
    cases = store.jobs.eval_set(job["id"])
    if not cases:  # never evaluate on the lab's cases in place of the ones asked for
        raise StageError("eval_set_missing", f"the eval set of job {job['id']} is gone")
    return cases


def given_cases(store: Store, job: dict) -> list[dict]:
    """Return the cases the request gives: its eval set, and the lab's five when asked for."""
    return request_cases(eval_set(store, job), request_of(job).lab_eval_set)


def evaluation_cases(store: Store, job: dict) -> Iterator[list[dict]]:
    """Yield the given cases, then held-out rows when the job has a holdout_fraction."""
    yield given_cases(store, job)
    if request_of(job).holdout_fraction is not None:
        seed, holdout, held = sides(store, job)
        yield from holdout_cases(one_side(kept(store, job), seed, holdout, HOLDOUT, held))
