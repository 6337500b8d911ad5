"""An uploaded file's check, off the request path: read its chunks, check its lines, settle it."""

import logging

from tuneloop import failpoints
from tuneloop.files.check import check, checked_record, compressed
from tuneloop.store import Store
from tuneloop.store.files import FileGoneError

log = logging.getLogger(__name__)
GONE = "gone"


def run(store: Store, fid: str) -> str:
    """Check a file's lines; settle it as processed (its bytes kept as one zlib stream) or as
    error (its bytes dropped); return its status, or GONE when it was deleted or settled
    already (a check delivered twice), leaving nothing behind."""
    upload = store.files.pending(fid)
    if upload is None:
        log.info("file %s: deleted or checked already", fid)
        return GONE
    try:
        result = check(store.files.pieces(upload))
        log.info("file %s: checked, %d rows, %d bad lines", fid, result.rows, result.n_bad)
        failpoints.hit("check_file")
        record = checked_record(upload.record, result)
        chunk = store.files.chunk_bytes
        packed = None if result.n_bad else compressed(store.files.pieces(upload), chunk)
        settled = store.files.settle(upload, record, packed)
    except FileGoneError:
        settled = False
    if not settled:
        log.info("file %s: deleted or settled during its check; nothing kept", fid)
        return GONE
    log.info("file %s: %s", fid, record["status"])
    return record["status"]
