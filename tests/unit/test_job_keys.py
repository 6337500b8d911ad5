"""Every key keys.py names from a job's id is one a job's delete unlinks (store/job_keys.py), and
every key that holds a job's id as a member is one the delete takes it out of."""

import inspect
import itertools
from collections.abc import Callable

import pytest

from tuneloop import contracts
from tuneloop.stages.compare import CASE_LISTS
from tuneloop.store import job_delete, job_keys, keys

JID = "ftjob-0123456789abcdef01234567"
# What each argument after the job id can be.
DOMAINS = {"stage": contracts.STAGES, "outcome": CASE_LISTS}  # the stored lists
# Found through the job's artifact index (and a blob's manifest), not named from the id alone.
THROUGH_THE_INDEX = {"artifact"}
# Keys that hold job ids as members; the delete script takes the job out of each.
MEMBER_INDEXES = {"job_status_index", "jobs_of_owner", "file_jobs"}


def key_functions() -> dict[str, Callable[..., str]]:
    """Every function of keys.py, by name."""
    return {
        n: f
        for n, f in vars(keys).items()
        if inspect.isfunction(f) and f.__module__ == keys.__name__
    }


def deleted_with_the_job(jid: str) -> set[str]:
    """Every key lua/job_delete.lua is given to unlink (or check, for the leases)."""
    read = job_delete._Read(owner="", project="default", files=[], names=[], artifacts=[])
    return set(job_delete._keys(jid, read))


def named_from(function: Callable[..., str]) -> list[str]:
    """Every key function names from JID, over the domains of its other arguments."""
    names = list(inspect.signature(function).parameters)[1:]
    missing = [n for n in names if n not in DOMAINS]
    assert not missing, f"{function.__name__}: no domain for {missing}: add it to DOMAINS"
    return [function(JID, *args) for args in itertools.product(*(DOMAINS[n] for n in names))]


@pytest.mark.parametrize(
    "name",
    [n for n, f in key_functions().items() if list(inspect.signature(f).parameters)[:1] == ["jid"]],
)
def test_every_key_named_from_a_job_id_is_deleted_with_the_job(name: str) -> None:
    if name in THROUGH_THE_INDEX:
        return
    left = sorted(set(named_from(key_functions()[name])) - deleted_with_the_job(JID))
    assert left == [], f"keys.{name} names keys a job's delete leaves: {left[:3]}"


def test_every_other_key_of_jobs_holds_them_as_members_the_delete_takes_them_out_of() -> None:
    about_jobs = {
        n
        for n, f in key_functions().items()
        if "job" in n and list(inspect.signature(f).parameters)[:1] != ["jid"]
    }
    assert about_jobs == MEMBER_INDEXES
    given = deleted_with_the_job(JID)
    assert {keys.JOBS, keys.SWEEP_SUSPECTS, keys.jobs_of_owner("")} <= given
    assert {keys.job_status_index(s) for s in contracts.STATUSES} <= given


def test_a_failed_jobs_bulk_data_is_deleted_with_it_too() -> None:
    assert set(job_keys.bulk(JID)) <= deleted_with_the_job(JID)
    assert keys.job_eval_set(JID) in job_keys.bulk(JID)


def test_the_files_a_job_trains_or_evaluates_on_are_read_from_its_request() -> None:
    request = {"training_file": "file-a", "validation_file": "file-b", "model": "x"}
    assert job_delete.files_of(request) == ["file-a", "file-b"]
    assert job_delete.files_of({"model": "x"}) == []
    read = job_delete._Read('"k"', "team-a", files=["file-a"], names=["plan"], artifacts=["a"])
    names = job_delete._keys(JID, read)
    assert keys.file_jobs("file-a") in names and keys.jobs_of_owner("k") in names
    assert keys.Space("team-a").jobs in names  # its project loses it from its list
