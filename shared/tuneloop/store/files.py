"""Uploaded files (OpenAI's Files API): a record, the bytes compressed, the jobs that use it."""

import json
import zlib

from redis import Redis

from tuneloop.store import ids, keys, paging, scripts
from tuneloop.timeutil import now

DELETE = scripts.source("file_delete")
USE = scripts.source("file_use")


class FileInUseError(Exception):
    """The file cannot be deleted: a job that has not ended trains or evaluates on it."""

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.job_id = job_id


class FileStore:
    """Files as a JSON record plus zlib-compressed bytes, listed newest first.

    Given a project, it is that project's view: files are stored in it and listed from its
    list, and another project's file reads as no file. Without one (the workers), every file
    is seen.
    """

    def __init__(self, redis: Redis, raw: Redis, project: str | None = None) -> None:
        self.redis, self.raw, self.project = redis, raw, project
        self.space = keys.Space(project or keys.DEFAULT_PROJECT)
        self._delete = redis.register_script(DELETE)
        self._use = redis.register_script(USE)

    def add(self, filename: str, purpose: str, content: bytes, summary: dict) -> dict:
        """Store a validated file; return its record (OpenAI's file object and our summary)."""
        packed = zlib.compress(content, 6)
        record = {
            "id": ids.new_file(),
            "object": "file",
            "bytes": len(content),
            "created_at": now(),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
            "tuneloop": {**summary, "stored_bytes": len(packed)},
            "project": self.space.project,
        }
        seq = self.redis.incr(keys.FILE_SEQ)
        pipe = self.raw.pipeline(transaction=True)  # the bytes and the record, or neither
        pipe.set(keys.file_content(record["id"]), packed)
        pipe.set(keys.file(record["id"]), json.dumps(record))
        pipe.zadd(keys.FILES, {record["id"]: seq}).zadd(self.space.files, {record["id"]: seq})
        pipe.execute()
        return record

    def get(self, fid: str) -> dict | None:
        """Return a file's record, or None (also for another project's file)."""
        raw = self.redis.get(keys.file(fid))
        record = json.loads(raw) if raw else None
        return record if record is not None and self._sees(record) else None

    def _sees(self, record: dict) -> bool:
        """Whether this view sees the file (one stored before projects is the default's)."""
        return self.project is None or project_of(record) == self.project

    def content(self, fid: str) -> bytes | None:
        """Return a file's bytes as uploaded, or None."""
        if self.project is not None and self.get(fid) is None:
            return None
        packed = self.raw.get(keys.file_content(fid))
        return zlib.decompress(packed) if packed is not None else None

    def page(
        self, limit: int, after: str | None = None, purpose: str | None = None
    ) -> tuple[list[dict], bool]:
        """Return up to limit files after the cursor, newest first, and has_more."""
        listed = self.space.files if self.project else keys.FILES
        start = paging.start_after(self.redis, listed, after, reverse=True)
        batches = (
            [json.loads(r) for r in self.redis.mget([keys.file(i) for i in ids]) if r]
            for ids in paging.ids_from(self.redis, listed, start, "-inf", reverse=True)
        )
        return paging.first_page(batches, limit, lambda f: purpose in (None, f["purpose"]))

    def use(self, fid: str, job_id: str) -> bool:
        """Record that job_id uses the file; False when the file no longer exists."""
        return self._use(keys=[keys.file(fid), keys.file_jobs(fid)], args=[job_id]) == 1

    def delete(self, fid: str) -> bool:
        """Delete a file; False when there was none; FileInUseError while an active job uses it."""
        record = self.get(fid)
        if record is None:
            return False
        listed = keys.Space(project_of(record)).files
        head = [keys.file(fid), keys.file_content(fid), keys.file_jobs(fid), keys.FILES, listed]
        while True:  # again only if a job started using the file in between
            users = sorted(self.redis.smembers(keys.file_jobs(fid)))
            outcome = self._delete(keys=[*head, *map(keys.job, users)], args=[fid, *users])
            if outcome != "changed":
                break
        if outcome not in ("deleted", "missing"):
            raise FileInUseError(outcome)
        return outcome == "deleted"


def project_of(record: dict) -> str:
    """Return the project a file belongs to (default for one stored before projects)."""
    return record.get("project") or keys.DEFAULT_PROJECT
