"""An uploaded file's check, off the request path: read its chunks, check its lines, settle it."""

import logging

from tuneloop.files.check import check, checked_record, compressed
from tuneloop.store import Store
from tuneloop.store.files import FileGoneError

log = logging.getLogger(__name__)


def run(store: Store, fid: str) -> str:
    """Check a file's lines; settle it as processed (its bytes kept as one zlib stream) or as
    error (its bytes dropped); return its status, or "gone" when it was deleted or settled
    already (a redelivered check), leaving nothing behind."""
    upload = store.files.pending(fid)
    if upload is None:
        return "gone"
    try:
        result = check(store.files.pieces(upload))
        record = checked_record(upload.record, result)
        packed = (
            None
            if result.n_bad
            else compressed(store.files.pieces(upload), store.files.chunk_bytes)
        )
        settled = store.files.settle(upload, record, packed)
    except FileGoneError:
        settled = False
    if not settled:
        log.info("file %s: deleted or settled during its check", fid)
        return "gone"
    log.info("file %s: %s, %d rows, %d bad lines", fid, record["status"], result.rows, result.n_bad)
    return record["status"]
