"""Binary values of any size, stored as chunks of at most CHUNK_BYTES and swapped in whole."""

import json
import uuid
from collections.abc import Iterator

from redis import Redis

CHUNK_BYTES = 4 * 1024 * 1024  # no Redis value over a few MB
MANIFEST_MARK = '{"blob": 1'  # how every manifest starts (a plain value never does)
_MARK = MANIFEST_MARK.encode()


class BlobGoneError(RuntimeError):
    """A streamed value's chunk was gone when its turn came."""


class BlobStore:
    """Write chunks under a fresh generation, then point the manifest at it in one step."""

    def __init__(self, raw: Redis, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.raw = raw  # a client that returns bytes
        self.chunk_bytes = chunk_bytes

    def put(self, key: str, data: bytes, ttl: int | None = None) -> int:
        """Store data under key, replacing any earlier value; return its size."""
        manifest = self.write_chunks(key, data, ttl)
        self.drop_replaced(self.raw.set(key, manifest, ex=ttl, get=True))  # one atomic swap
        return len(data)

    def write_chunks(self, key: str, data: bytes, ttl: int | None = None) -> str:
        """Write data's chunks under a fresh generation; return the manifest that names them.

        Nothing points at the chunks until the manifest is set at key (by put, or by a
        script that sets it only under a condition); discard() removes them otherwise.
        """
        gen = uuid.uuid4().hex[:12]
        view, names = memoryview(data), []
        pipe = self.raw.pipeline(transaction=False)
        for i, start in enumerate(range(0, len(data), self.chunk_bytes)):
            names.append(f"{key}:chunk:{gen}:{i}")
            pipe.set(names[-1], view[start : start + self.chunk_bytes].tobytes(), ex=ttl)
        pipe.execute()
        return json.dumps({"blob": 1, "chunks": names, "size": len(data)})

    def drop_replaced(self, old: bytes | str | None) -> None:
        """Delete the chunks of a manifest that was just replaced (only it pointed at them)."""
        manifest = _parse(old.encode() if isinstance(old, str) else old)
        if manifest and manifest["chunks"]:
            self.raw.delete(*manifest["chunks"])

    def discard(self, manifest: str) -> None:
        """Delete the chunks of a manifest that was never set."""
        self.drop_replaced(manifest)

    def get(self, key: str) -> bytes | None:
        """Return the value of key, or None; a value swapped mid-read is read again."""
        for _ in range(3):
            manifest = self._manifest(key)
            if manifest is None:
                return None
            parts = self.raw.mget(manifest["chunks"]) if manifest["chunks"] else []
            if all(p is not None for p in parts):
                return b"".join(parts)
        raise RuntimeError(f"blob {key} kept changing while it was read")

    def stream(self, key: str) -> tuple[int, Iterator[bytes]] | None:
        """Return the value's size and its chunks read one at a time, or None when absent.

        A chunk deleted meanwhile (the value deleted or replaced mid-read) raises BlobGoneError.
        """
        manifest = self._manifest(key)
        if manifest is None:
            return None

        def chunks() -> Iterator[bytes]:
            for name in manifest["chunks"]:
                part = self.raw.get(name)
                if part is None:
                    raise BlobGoneError(f"blob {key} was deleted or replaced while it was read")
                yield part

        return manifest["size"], chunks()

    def delete(self, *keys: str) -> None:
        """Remove values and their chunks."""
        for key in keys:
            manifest = self._manifest(key)
            names = manifest["chunks"] if manifest else []
            self.raw.delete(key, *names)

    def expire(self, key: str, seconds: int) -> None:
        """Let a value and its chunks expire after seconds."""
        manifest = self._manifest(key)
        for name in [key, *(manifest["chunks"] if manifest else [])]:
            self.raw.expire(name, seconds)

    def expire_at(self, key: str, when: int) -> None:
        """Let a value and its chunks expire at the Unix time when."""
        manifest = self._manifest(key)
        for name in [key, *(manifest["chunks"] if manifest else [])]:
            self.raw.expireat(name, when)

    def persist(self, key: str) -> None:
        """Keep a value and its chunks for good."""
        manifest = self._manifest(key)
        for name in [key, *(manifest["chunks"] if manifest else [])]:
            self.raw.persist(name)

    def _manifest(self, key: str) -> dict | None:
        return _parse(self.raw.get(key))


def chunk_names(manifest: str | bytes | None) -> list[str]:
    """Return the chunk keys a manifest names ([] for an absent or plain value)."""
    parsed = _parse(manifest.encode() if isinstance(manifest, str) else manifest)
    return list(parsed["chunks"]) if parsed else []


def _parse(raw: bytes | None) -> dict | None:
    """Return a manifest, or None for an absent or plain value (delete and expire work on it)."""
    if raw is None or not raw.startswith(_MARK):
        return None
    return json.loads(raw)
