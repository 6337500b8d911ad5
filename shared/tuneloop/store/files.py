"""Uploaded files (OpenAI's Files API): a record, the bytes in chunks, the jobs that use it.

An upload's bytes are stored as they arrive, in chunks of at most CHUNK_BYTES named by a
manifest (the chunks, the file's size, whether they hold one zlib stream), and its record
says `uploaded`. A worker checks the lines (tuneloop.files.process) and settles the file in
one step: `processed`, its bytes swapped for their zlib stream, or `error`, its bytes
dropped. A chunk is written with an expiry that the step naming it in a manifest removes,
so the chunks of an upload or a check that died half-way expire on their own.

Each file belongs to a project (in its record) and is listed in its project's list; its
stored bytes are counted in its project's usage by the steps that add, settle and delete it.
"""

import contextlib
import hashlib
import json
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

from tuneloop.contracts import FILE_UPLOADED
from tuneloop.store import budget as budgets
from tuneloop.store import ids, keys, paging, prefixes, scripts
from tuneloop.store.budget import NO_BUDGET, Budget
from tuneloop.timeutil import now

ADD = scripts.source("file_add")
DELETE = scripts.source("file_delete")
USE = scripts.source("file_use")
SETTLE = scripts.source("file_settle", UPLOADED=FILE_UPLOADED)
PENDING_TTL = 3600  # seconds: chunks no manifest names yet expire after this
# A chunk is one SET (and one append-only-file write) that Redis makes every other command
# wait for: 1 MiB keeps that wait to a few ms while uploads stream in (4 MiB: over 20 ms).
CHUNK_BYTES = 1024 * 1024
_MARK = b'{"chunks"'  # how a manifest starts (a file stored before chunks holds zlib bytes)


class FileInUseError(Exception):
    """The file cannot be deleted: a job that has not ended trains or evaluates on it."""

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.job_id = job_id


class FileGoneError(Exception):
    """The file was deleted, or settled by another check, while it was being read."""


@dataclass(frozen=True)
class Upload:
    """A file waiting for its check: its record and its manifest as they were read."""

    fid: str
    record: dict
    manifest: dict
    digest: str  # of the manifest's stored bytes: the file is the same while it matches


class FileStore:
    """Files as a JSON record plus chunks of bytes, listed newest first.

    Given a project, it is that project's view: files are stored in it and listed from its
    list, and another project's file reads as no file. Without one (the workers), every file
    is seen.
    """

    def __init__(
        self,
        redis: Redis,
        raw: Redis,
        chunk_bytes: int = CHUNK_BYTES,
        project: str | None = None,
        budget: Budget = NO_BUDGET,
    ) -> None:
        self.redis, self.raw = redis, raw
        self.chunk_bytes = chunk_bytes
        self.project, self.budget = project, budget
        self.space = keys.Space(project or keys.DEFAULT_PROJECT)
        self._add = redis.register_script(ADD)
        self._delete = redis.register_script(DELETE)
        self._use = redis.register_script(USE)
        self._settle = redis.register_script(SETTLE)

    def writer(self) -> "ChunkWriter":
        """Return a writer of a new file's bytes; add() then stores the file's record."""
        return ChunkWriter(self.raw, ids.new_file(), self.chunk_bytes)

    def add(self, filename: str, purpose: str, written: "ChunkWriter") -> dict:
        """Store the record of a file whose bytes were written (status uploaded); return it.

        BudgetExceeded (its bytes discarded, nothing stored) when they would take the project
        past its byte budget.
        """
        written.flush()
        record = {
            "id": written.fid,
            "object": "file",
            "bytes": written.size,
            "created_at": now(),
            "filename": filename,
            "purpose": purpose,
            "status": FILE_UPLOADED,
            "expires_at": None,
            "status_details": None,
            "tuneloop": {"stored_bytes": written.size},
            "project": self.space.project,
        }
        seq = self.redis.incr(keys.FILE_SEQ)
        outcome = self._add(  # the manifest, record and listings, or none
            keys=[
                keys.file_content(written.fid),
                keys.file(written.fid),
                keys.FILES,
                self.space.files,
                self.space.usage,
                keys.FILES_UPLOADED,
                *written.names,
            ],
            args=[
                manifest(written.names, written.size, False),
                json.dumps(record),
                written.fid,
                seq,
                written.size,
                self.budget.max_bytes,
                now(),
            ],
        )
        if budgets.is_refusal(outcome):
            written.discard()
            budgets.raise_if_over(outcome)
        written.kept = True
        return record

    def get(self, fid: str) -> dict | None:
        """Return a file's record, or None (also for another project's file)."""
        raw = self.redis.get(keys.file(fid))
        record = json.loads(raw) if raw else None
        return record if record is not None and self._sees(record) else None

    def _sees(self, record: dict) -> bool:
        """Whether this view sees the file (one stored before projects is the default's)."""
        return self.project is None or keys.project_of(record) == self.project

    def content(self, fid: str) -> bytes | None:
        """Return a file's bytes as uploaded, or None; a file settled mid-read is read again."""
        if self.project is not None and self.get(fid) is None:
            return None  # another project's
        before = None
        for _ in range(3):
            stored = self.raw.get(keys.file_content(fid))
            if stored is None or stored == before:  # None, or a chunk is gone (not replaced)
                return None
            before, found = stored, parsed(stored)
            if found is None:  # stored before chunks: the zlib stream itself
                return zlib.decompress(stored)
            parts = self.raw.mget(found["chunks"]) if found["chunks"] else []
            if all(p is not None for p in parts):
                data = b"".join(parts)
                return zlib.decompress(data) if found["zlib"] else data
        raise RuntimeError(f"file {fid} kept changing while it was read")

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

    def with_prefix(self, prefix: str, cap: int = 10) -> prefixes.Matches:
        """Return this view's files starting with prefix (newest first, up to cap)."""
        return prefixes.with_prefix(
            self.redis, self.space.files if self.project else keys.FILES, prefix, cap
        )

    def use(self, fid: str, job_id: str) -> bool:
        """Record that job_id uses the file; False when the file no longer exists."""
        return self._use(keys=[keys.file(fid), keys.file_jobs(fid)], args=[job_id]) == 1

    def delete(self, fid: str) -> bool:
        """Delete a file; False when there was none; FileInUseError while an active job uses it."""
        record = self.get(fid)
        if record is None:
            return False
        space = keys.Space(keys.project_of(record))
        head = [
            keys.file(fid),
            keys.file_content(fid),
            keys.file_jobs(fid),
            keys.FILES,
            space.files,
            space.usage,
            keys.FILES_UPLOADED,
            keys.FILE_CHECK_SENDS,
        ]
        while True:  # again only if the file was settled or a job used it in between
            stored = self.raw.get(keys.file_content(fid))
            chunks = (parsed(stored) or {"chunks": []})["chunks"]
            users = sorted(self.redis.smembers(keys.file_jobs(fid)))
            outcome = self._delete(
                keys=[*head, *chunks, *map(keys.job, users)],
                args=[fid, digest(stored), len(chunks), *users],
            )
            if outcome != "changed":
                break
        if outcome not in ("deleted", "missing"):
            raise FileInUseError(outcome)
        return outcome == "deleted"

    def stale_uploads(self, before: float, limit: int = 100) -> list[str]:
        """Return files uploaded before the time before that still wait for their check."""
        return self.redis.zrangebyscore(keys.FILES_UPLOADED, "-inf", before, start=0, num=limit)

    def count_check_send(self, fid: str) -> int:
        """Count one more check sent again for a file; return how many so far."""
        return int(self.redis.hincrby(keys.FILE_CHECK_SENDS, fid, 1))

    def pending(self, fid: str) -> Upload | None:
        """Return a file waiting for its check, or None (deleted, or checked already)."""
        record = self.get(fid)
        if record is None or record["status"] != FILE_UPLOADED:
            return None
        stored = self.raw.get(keys.file_content(fid))
        found = parsed(stored)
        return Upload(fid, record, found, digest(stored)) if found is not None else None

    def pieces(self, upload: Upload) -> Iterator[bytes]:
        """Yield an upload's chunks one at a time; FileGoneError once one of them is gone."""
        for name in upload.manifest["chunks"]:
            piece = self.raw.get(name)
            if piece is None:
                raise FileGoneError(upload.fid)
            yield piece

    def settle(self, upload: Upload, record: dict, packed: Iterable[bytes] | None) -> bool:
        """Give a checked upload its record and its bytes (their zlib stream in pieces, or
        None to drop them) in one step; False when it was deleted or settled since it was read.
        """
        written = ChunkWriter(self.raw, upload.fid, self.chunk_bytes)
        found = ""
        if packed is not None:
            try:
                for piece in packed:
                    written.write(piece)
                written.flush()
            except BaseException:
                written.discard()
                raise
            record = {**record, "tuneloop": {**record["tuneloop"], "stored_bytes": written.size}}
            found = manifest(written.names, upload.manifest["bytes"], True)
        old = upload.manifest["chunks"]
        before = upload.record["tuneloop"]["stored_bytes"]
        after = written.size if packed is not None else 0
        usage = keys.Space(keys.project_of(upload.record)).usage
        done = self._settle(
            keys=[
                keys.file(upload.fid),
                keys.file_content(upload.fid),
                usage,
                keys.FILES_UPLOADED,
                keys.FILE_CHECK_SENDS,
                *old,
                *written.names,
            ],
            args=[upload.digest, json.dumps(record), found, len(old), before, after, upload.fid],
        )
        written.kept = done == 1
        written.discard()  # nothing once kept
        return done == 1


class ChunkWriter:
    """A file's bytes written to Redis as they come, in chunks of one new generation that
    expire until a manifest names them; a writer whose chunks were not kept can discard them.

    Writable like the file werkzeug streams an upload's part into (write, then seek(0)).
    """

    def __init__(self, raw: Redis, fid: str, chunk_bytes: int) -> None:
        self.raw, self.fid, self.chunk_bytes = raw, fid, chunk_bytes
        self.generation = uuid.uuid4().hex[:12]
        self.names: list[str] = []
        self.size = 0  # bytes stored in chunks
        self.kept = False  # a manifest names the chunks: never discard them
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        """Take the next bytes; store each chunk once it is full."""
        self._buffer += data
        while len(self._buffer) >= self.chunk_bytes:
            self._store(self.chunk_bytes)
        return len(data)

    def flush(self) -> None:
        """Store the bytes still buffered as the last chunk."""
        if self._buffer:
            self._store(len(self._buffer))

    def seek(self, offset: int, whence: int = 0) -> int:
        """Flush (werkzeug seeks to the start once a part's bytes have all come)."""
        self.flush()
        return 0

    def discard(self) -> None:
        """Delete the chunks written, unless a manifest names them (they expire anyway)."""
        self._buffer.clear()
        if self.kept or not self.names:
            return
        with contextlib.suppress(RedisError):  # Redis may be down: the expiry removes them
            self.raw.delete(*self.names)
        self.names, self.size = [], 0

    close = discard  # werkzeug closes every uploaded part at the end of the request

    def _store(self, n: int) -> None:
        """Store the first n buffered bytes as the next chunk."""
        name = keys.file_chunk(self.fid, self.generation, len(self.names))
        self.raw.set(name, bytes(self._buffer[:n]), ex=PENDING_TTL)
        del self._buffer[:n]
        self.names.append(name)
        self.size += n


def manifest(names: list[str], size: int, packed: bool) -> str:
    """The manifest of a file's chunks: their names, the file's size, whether zlib-packed."""
    return json.dumps({"chunks": names, "bytes": size, "zlib": packed})


def parsed(stored: bytes | None) -> dict | None:
    """Return a stored manifest, or None (no file, or one stored before chunks)."""
    if stored is None or not stored.startswith(_MARK):
        return None
    return json.loads(stored)


def digest(stored: bytes | None) -> str:
    """The SHA-1 of a stored manifest ("" for none), as the scripts compare it."""
    return hashlib.sha1(stored or b"", usedforsecurity=False).hexdigest()
