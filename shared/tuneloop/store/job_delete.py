"""Deleting a job with every key its id names, in one Lua step (lua/job_delete.lua).

The keys are read first (the artifact index, each blob artifact's manifest for its chunks,
the owner and the files the request names); the script checks that what it was given is
still all there is, and retries the read when it is not. It refuses a job that has not
ended, and one whose stage still holds a lease (a cancelled job's stage stops at its next
check): nothing a live stage writes can outlive the delete. The model the job published is
not the job's: it stays, and its job_id names a job that is gone (404).
"""

import json
from dataclasses import dataclass

from redis import Redis

from tuneloop import contracts
from tuneloop.store import blobs, job_keys, keys, scripts

DELETE = scripts.source("job_delete", **job_keys.JOB_KEYS)
TRIES = 20  # reads before giving up on a job whose artifacts keep changing


class JobActiveError(Exception):
    """The job has not ended (queued or running): cancel it first."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class JobStageRunningError(Exception):
    """The job has ended but one of its stages still holds its lease: retry in a moment."""

    def __init__(self, stage: str) -> None:
        super().__init__(stage)
        self.stage = stage


@dataclass(frozen=True)
class _Read:
    """What the script is given about the job, as read just before."""

    owner: str  # the owner field as stored ('' without one)
    project: str  # the project the job belongs to
    files: list[str]  # the files the request trains or evaluates on
    names: list[str]  # its artifact names
    artifacts: list[str]  # their keys, and the chunks of the blob ones


def files_of(request: dict) -> list[str]:
    """The ids of the files a job's request names (OpenAI's training and validation files)."""
    return sorted({request.get("training_file"), request.get("validation_file")} - {None})


class JobDeletion:
    """Deleting jobs (JobStore's part)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._purge = redis.register_script(DELETE)

    def delete(self, jid: str) -> bool:
        """Remove a job whatever its status (one never queued) with everything stored for it."""
        return self._delete_job(jid, "any") is not None

    def delete_ended(self, jid: str) -> str | None:
        """Delete an ended job with every key its id names; return its object name (None: none).

        JobActiveError while it is queued or running, JobStageRunningError while one of its
        stages still holds a lease.
        """
        return self._delete_job(jid, "ended")

    def _delete_job(self, jid: str, mode: str) -> str | None:
        for _ in range(TRIES):
            read = self._read_keys(jid)
            if read is None:
                return None
            found = self._purge(keys=_keys(jid, read), args=_args(jid, mode, read))
            match found[0]:
                case "deleted":
                    return json.loads(found[1]) if found[1] else ""
                case "missing":
                    return None
                case "active":
                    raise JobActiveError(found[1])
                case "leased":
                    raise JobStageRunningError(contracts.STAGES[int(found[1]) - 1])
        raise RuntimeError(f"job {jid}: its artifacts kept changing while it was deleted")

    def _read_keys(self, jid: str) -> _Read | None:
        """Read what the delete script needs to be given; None without a job."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(keys.job(jid), ["status", "owner", "request", "project"])
        pipe.smembers(keys.job_artifacts(jid))
        (status, owner, request, project), found = pipe.execute()
        if status is None:
            return None
        names = sorted(found)
        artifacts = [keys.artifact(jid, name) for name in names]
        pipe = self.redis.pipeline(transaction=False)
        for key in artifacts:  # the start of each value: a manifest, or a plain JSON value
            pipe.getrange(key, 0, len(blobs.MANIFEST_MARK) - 1)
        heads = pipe.execute()
        manifests = [k for k, h in zip(artifacts, heads, strict=True) if h == blobs.MANIFEST_MARK]
        read = self.redis.mget(manifests) if manifests else []
        chunks = [c for manifest in read for c in blobs.chunk_names(manifest)]
        files = files_of(json.loads(request)) if request else []
        project = json.loads(project) if project else keys.DEFAULT_PROJECT
        if getattr(self, "project", None) not in (None, project):
            return None  # another project's job: a project's view deletes only its own
        return _Read(owner or "", project, files, names, [*artifacts, *chunks])


def _keys(jid: str, read: _Read) -> list[str]:
    """The script's KEYS, in the order lua/job_delete.lua reads them."""
    owner = json.loads(read.owner) if read.owner else ""
    return [
        *job_keys.head(jid),
        keys.jobs_of_owner(owner),
        keys.job_artifacts(jid),
        keys.SWEEP_SUSPECTS,
        keys.Space(read.project).jobs,
        keys.Space(read.project).usage,
        *job_keys.leases(jid),
        *(keys.file_jobs(fid) for fid in read.files),
        *job_keys.owned(jid),
        *read.artifacts,
    ]


def _args(jid: str, mode: str, read: _Read) -> list[str | int]:
    """The script's ARGV."""
    return [jid, mode, read.owner, len(contracts.STAGES), len(read.files), *read.names]
