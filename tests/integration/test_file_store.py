"""FileStore and the file check's store side on the session's real Redis: chunks that expire
until a record names them, a check that finds its file deleted, a check delivered twice, and
a file stored before chunks.

No upload goes through the gateway here, so no worker checks these files: each test runs
the check itself (tuneloop.files.process.run), in this process, when it wants it run.
"""

import json
import time
import zlib
from collections.abc import Iterator

import pytest

from tuneloop.contracts import FILE_PROCESSED
from tuneloop.files import process
from tuneloop.files.check import compressed
from tuneloop.pipeline import sweep
from tuneloop.store import Store, keys
from tuneloop.store.files import PENDING_TTL, FileStore

from .support import Stack

pytestmark = pytest.mark.integration

GOOD = b"".join(
    json.dumps(
        {
            "messages": [
                {"role": "user", "content": f"Where is card {i}?"},
                {"role": "assistant", "content": "On its way."},
            ],
            "metadata": {"task_type": "card"},
        }
    ).encode()
    + b"\n"
    for i in range(300)
)


@pytest.fixture
def store(stack: Stack) -> Iterator[Store]:
    """The session's store, with files kept in chunks of 4 KiB (so a file has many)."""
    store = Store.from_url(stack.redis_url)
    store.files = FileStore(store.redis, store.raw, chunk_bytes=4096)
    yield store
    store.redis.close()


def file_keys(store: Store, fid: str) -> list[str]:
    """Every key of a file: its record, manifest, chunks and jobs set."""
    return sorted(store.redis.scan_iter(match=f"{keys.file(fid)}*", count=1000))


def chunk_keys(store: Store, fid: str) -> list[str]:
    """The keys of a file's chunks."""
    return [k for k in file_keys(store, fid) if ":chunk:" in k]


def added(store: Store, content: bytes) -> str:
    """Store a file as the gateway does (its check is not sent); return its id."""
    writer = store.files.writer()
    for start in range(0, len(content), 1000):
        writer.write(content[start : start + 1000])
    return store.files.add("t.jsonl", "fine-tune", writer)["id"]


def test_chunks_expire_until_the_record_names_them_and_a_refused_upload_leaves_none(
    store: Store,
) -> None:
    writer = store.files.writer()
    writer.write(GOOD)
    writer.flush()
    chunks = chunk_keys(store, writer.fid)
    assert len(chunks) == -(-len(GOOD) // 4096) and file_keys(store, writer.fid) == chunks
    assert all(0 < store.redis.ttl(c) <= PENDING_TTL for c in chunks)
    writer.discard()  # the request was refused after its body was read
    assert file_keys(store, writer.fid) == []
    fid = added(store, GOOD)
    assert all(store.redis.ttl(c) == -1 for c in chunk_keys(store, fid))  # kept for good
    assert store.files.content(fid) == GOOD
    assert store.files.delete(fid) and file_keys(store, fid) == []


def test_a_check_settles_the_file_as_processed_with_its_bytes_as_one_zlib_stream(
    store: Store,
) -> None:
    fid = added(store, GOOD)
    raw = chunk_keys(store, fid)
    assert process.run(store, fid) == FILE_PROCESSED
    record = store.files.get(fid)
    assert record["tuneloop"]["rows"] == 300 and record["bytes"] == len(GOOD)
    packed = chunk_keys(store, fid)
    assert not set(raw) & set(packed) and len(packed) < len(raw)  # the upload's chunks gone
    assert all(store.redis.ttl(c) == -1 for c in packed)
    assert record["tuneloop"]["stored_bytes"] == sum(store.raw.strlen(c) for c in packed)
    assert store.files.content(fid) == GOOD
    store.files.delete(fid)
    assert file_keys(store, fid) == []


def test_a_check_delivered_twice_settles_the_file_once(store: Store) -> None:
    fid = added(store, GOOD)
    assert process.run(store, fid) == FILE_PROCESSED
    record, chunks = store.files.get(fid), chunk_keys(store, fid)
    assert process.run(store, fid) == process.GONE
    assert (store.files.get(fid), chunk_keys(store, fid)) == (record, chunks)
    store.files.delete(fid)


def test_a_file_deleted_while_checked_keeps_no_bytes_and_the_check_ends_quietly(
    store: Store,
) -> None:
    fid = added(store, GOOD)
    upload = store.files.pending(fid)
    assert upload is not None
    packed = list(compressed(store.files.pieces(upload), 4096))
    assert store.files.delete(fid)  # while the check runs: after it read the chunks
    assert not store.files.settle(upload, {**upload.record, "status": FILE_PROCESSED}, packed)
    assert file_keys(store, fid) == []  # neither the upload's chunks nor the check's


def test_a_file_deleted_before_its_check_reads_it_ends_the_check_quietly_leaving_nothing(
    store: Store,
) -> None:
    fid = added(store, GOOD)
    upload = store.files.pending(fid)
    assert upload is not None and store.files.delete(fid)
    assert process.run(store, fid) == process.GONE
    assert file_keys(store, fid) == []


def test_a_file_stored_before_chunks_is_read_and_deleted_whole(store: Store) -> None:
    fid = added(store, GOOD)
    store.files.delete(fid)
    record = {"id": fid, "status": FILE_PROCESSED, "purpose": "fine-tune", "tuneloop": {}}
    store.raw.set(keys.file_content(fid), zlib.compress(GOOD))  # the earlier layout
    store.raw.set(keys.file(fid), json.dumps(record))
    store.raw.zadd(keys.FILES, {fid: 0})
    assert store.files.content(fid) == GOOD
    assert store.files.delete(fid)
    assert file_keys(store, fid) == [] and store.redis.zscore(keys.FILES, fid) is None


def test_a_file_whose_check_never_finished_is_checked_again_then_settled_as_error(
    store: Store,
) -> None:
    fid = added(store, GOOD)  # its check was never sent: as if its message were lost
    later = time.time() + sweep.RECHECK_AFTER + 1
    assert fid in store.files.stale_uploads(later)
    assert fid not in store.files.stale_uploads(time.time() - 60)  # not yet stale
    usage = store.usage()["files"]
    sent: list[str] = []
    for _ in range(sweep.MAX_CHECK_SENDS):
        assert fid in sweep.recheck_files(store, sent.append, later)
    assert sent.count(fid) == sweep.MAX_CHECK_SENDS
    assert fid not in sweep.recheck_files(store, sent.append, later)  # given up: no more sends
    record = store.files.get(fid)
    assert record["status"] == "error" and "upload the file again" in record["status_details"]
    assert chunk_keys(store, fid) == [] and fid not in store.files.stale_uploads(later)
    after = store.usage()["files"]
    assert after["bytes"] == usage["bytes"] - len(GOOD) and after["count"] == usage["count"]
    assert store.files.delete(fid) and store.usage()["files"]["count"] == usage["count"] - 1


def test_a_checked_or_deleted_file_no_longer_waits_for_a_check(store: Store) -> None:
    checked, deleted = added(store, GOOD), added(store, GOOD)
    later = time.time() + sweep.RECHECK_AFTER + 1
    assert {checked, deleted} <= set(store.files.stale_uploads(later))
    assert process.run(store, checked) == FILE_PROCESSED
    assert store.files.delete(deleted)
    assert not {checked, deleted} & set(store.files.stale_uploads(later))
    assert store.files.delete(checked)
