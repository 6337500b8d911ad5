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
    """Files as a JSON record plus zlib-compressed bytes, listed newest first."""

    def __init__(self, redis: Redis, raw: Redis) -> None:
        self.redis, self.raw = redis, raw
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
        }
        seq = self.redis.incr(keys.FILE_SEQ)
        pipe = self.raw.pipeline(transaction=True)  # the bytes and the record, or neither
        pipe.set(keys.file_content(record["id"]), packed)
        pipe.set(keys.file(record["id"]), json.dumps(record))
        pipe.zadd(keys.FILES, {record["id"]: seq})
        pipe.execute()
        return record

    def get(self, fid: str) -> dict | None:
        """Return a file's record, or None."""
        raw = self.redis.get(keys.file(fid))
        return json.loads(raw) if raw else None

    def content(self, fid: str) -> bytes | None:
        """Return a file's bytes as uploaded, or None."""
        packed = self.raw.get(keys.file_content(fid))
        return zlib.decompress(packed) if packed is not None else None

    def page(
        self, limit: int, after: str | None = None, purpose: str | None = None
    ) -> tuple[list[dict], bool]:
        """Return up to limit files after the cursor, newest first, and has_more."""
        start = paging.start_after(self.redis, keys.FILES, after, reverse=True)
        batches = (
            [json.loads(r) for r in self.redis.mget([keys.file(i) for i in ids]) if r]
            for ids in paging.ids_from(self.redis, keys.FILES, start, "-inf", reverse=True)
        )
        return paging.first_page(batches, limit, lambda f: purpose in (None, f["purpose"]))

    def use(self, fid: str, job_id: str) -> bool:
        """Record that job_id uses the file; False when the file no longer exists."""
        return self._use(keys=[keys.file(fid), keys.file_jobs(fid)], args=[job_id]) == 1

    def delete(self, fid: str) -> bool:
        """Delete a file; False when there was none; FileInUseError while an active job uses it."""
        head = [keys.file(fid), keys.file_content(fid), keys.file_jobs(fid), keys.FILES]
        while True:  # again only if a job started using the file in between
            users = sorted(self.redis.smembers(keys.file_jobs(fid)))
            outcome = self._delete(keys=[*head, *map(keys.job, users)], args=[fid, *users])
            if outcome != "changed":
                break
        if outcome not in ("deleted", "missing"):
            raise FileInUseError(outcome)
        return outcome == "deleted"
