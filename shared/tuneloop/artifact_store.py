"""Directories of files (adapters, checkpoints) kept outside Redis: a local directory or S3.

`open_store(url)` takes a directory path (or `file://` URL) or `s3://bucket/prefix`. A key
names one stored directory, in slash-separated segments of letters, digits and `._-` such
as `models/ft-abc/adapter` or `jobs/ftjob-.../checkpoints/epoch-3`; keys do not nest (no
key lies inside another key's directory).

A stored directory is complete or invisible. Each one holds a manifest (`MANIFEST`: its
files and their sizes) written last: the local backend fills a temporary directory beside
the key's, writes the manifest there, then renames it into place; the S3 backend uploads
every file under a new generation (`<key>/<generation>/<file>`), then the manifest object
naming that generation, then removes older generations. `get_dir`, `exists` and `keys` see
only directories with a manifest and `get_dir` fetches only the files it lists, so a put cut
short (a killed worker) is never read, and putting a key again switches readers from the old
version to the new one at once. `delete(prefix)` also removes what cut-short puts left there.
boto3 is imported only when an S3 store is opened.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

MANIFEST = ".tuneloop-manifest.json"
MANIFEST_FORMAT = "tuneloop.artifacts/1"
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_RETRIES = 3  # get_dir re-reads the manifest when a put replaced the files it was reading


class ArtifactStore(Protocol):
    """What both backends offer."""

    url: str

    def put_dir(self, key: str, local_dir: str | Path) -> None:
        """Store every file under local_dir as key, replacing what key held."""

    def get_dir(self, key: str, local_dir: str | Path) -> bool:
        """Copy key's files into local_dir (replaced whole); False when key is not stored."""

    def exists(self, key: str) -> bool:
        """Whether key is a complete stored directory."""

    def delete(self, prefix: str) -> int:
        """Remove every file of the key prefix and of the keys under it; return files removed."""

    def keys(self, prefix: str = "") -> list[str]:
        """Complete keys equal to prefix or under it, sorted."""


def check_key(key: str, *, allow_empty: bool = False) -> str:
    """Return key unchanged when it is a valid key (or "" when allowed); else ValueError."""
    if key == "" and allow_empty:
        return key
    parts = key.split("/")
    if not all(_SEGMENT.fullmatch(p) for p in parts):  # no "", ".", "..", hidden names
        raise ValueError(f"bad artifact key {key!r}: slash-separated [A-Za-z0-9._-] segments")
    return key


def local_files(local_dir: Path) -> dict[str, Path]:
    """Map each regular file under local_dir (symlinks followed) to its posix relative path."""
    if not local_dir.is_dir():
        raise FileNotFoundError(f"not a directory: {local_dir}")
    found = {}
    for path in sorted(local_dir.rglob("*")):
        if path.is_file():
            rel = path.relative_to(local_dir).as_posix()
            if MANIFEST in rel.split("/"):
                raise ValueError(f"{local_dir} holds a file named {MANIFEST}, which is reserved")
            found[rel] = path
    return found


def manifest_bytes(files: Mapping[str, Path], generation: str = "") -> bytes:
    """The manifest of a directory: its files' relative paths and sizes, and its generation."""
    sizes = {rel: path.stat().st_size for rel, path in sorted(files.items())}
    doc = {"format": MANIFEST_FORMAT, "generation": generation, "files": sizes}
    return json.dumps(doc, sort_keys=True).encode()


def read_manifest(raw: bytes) -> tuple[str, dict[str, int]]:
    """The generation and files (relative path -> size) a manifest lists; else ValueError."""
    doc = json.loads(raw)
    if doc.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"not a Tuneloop artifact manifest: {doc.get('format')!r}")
    files = doc["files"]
    for rel in files:
        if rel.startswith("/") or {"", ".", ".."} & set(rel.split("/")):
            raise ValueError(f"manifest names a path outside its directory: {rel!r}")
    return doc.get("generation", ""), files


def is_key(name: str) -> bool:
    """Whether name is a valid key (and so not a temporary or hidden directory)."""
    return all(_SEGMENT.fullmatch(p) for p in name.split("/"))


def replace_dir(staged: Path, target: Path) -> None:
    """Move the staged directory to target, removing what target held."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex}")
        os.rename(target, old)
        os.rename(staged, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staged, target)


def staging_dir(target: Path) -> Path:
    """A new empty directory beside target (same filesystem), to fill then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))


def leftovers(target: Path) -> list[Path]:
    """Temporary directories beside target that puts and replacements cut short left."""
    if not target.parent.is_dir():
        return []
    names = (f".{target.name}.tmp-", f".{target.name}.old-")
    return [p for p in target.parent.iterdir() if p.name.startswith(names)]


def fetch_with_retries(fetch_once: Callable[[], bool]) -> bool:
    """Run a fetch again when a put replaced the version it was reading (FileNotFoundError)."""
    for attempt in range(_RETRIES):
        try:
            return fetch_once()
        except FileNotFoundError:
            if attempt == _RETRIES - 1:
                raise
    return False


class DirectoryStore:
    """Keys as directories under a root directory, each renamed into place once complete."""

    def __init__(self, root: str | Path) -> None:
        """Use root (created when missing)."""
        self.root = Path(root)
        self.url = str(self.root)

    def path(self, key: str) -> Path:
        """The directory that holds key."""
        return self.root / check_key(key)

    def _put_file(self, staged: Path, rel: str, source: Path) -> None:
        """Copy one file into the staged directory."""
        dest = staged / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)

    def put_dir(self, key: str, local_dir: str | Path) -> None:
        """Copy into a temporary directory beside key's, add the manifest, rename into place."""
        target, files = self.path(key), local_files(Path(local_dir))
        staged = staging_dir(target)
        try:
            for rel, source in files.items():
                self._put_file(staged, rel, source)
            (staged / MANIFEST).write_bytes(manifest_bytes(files))
            replace_dir(staged, target)
        finally:
            shutil.rmtree(staged, ignore_errors=True)

    def exists(self, key: str) -> bool:
        """Whether key's directory is in place with its manifest."""
        return (self.path(key) / MANIFEST).is_file()

    def get_dir(self, key: str, local_dir: str | Path) -> bool:
        """Copy the manifest's files of key to local_dir, through a directory renamed at the end."""
        source = self.path(key)

        def fetch_once() -> bool:
            try:
                _generation, files = read_manifest((source / MANIFEST).read_bytes())
            except FileNotFoundError:
                return False
            target = Path(local_dir)
            staged = staging_dir(target)
            try:
                for rel in files:
                    (staged / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source / rel, staged / rel)
                replace_dir(staged, target)
            finally:
                shutil.rmtree(staged, ignore_errors=True)
            return True

        return fetch_with_retries(fetch_once)

    def delete(self, prefix: str) -> int:
        """Remove prefix's directory, everything under it and puts of it cut short.

        Returns the number of files removed.
        """
        target = self.path(prefix)
        doomed = [p for p in (target, *leftovers(target)) if p.exists()]
        count = sum(1 for d in doomed for p in d.rglob("*") if p.is_file())
        for path in doomed:
            # Renamed away first (hidden, not a key), so no reader sees it half removed.
            away = path.with_name(f".{target.name}.old-{uuid.uuid4().hex}")
            os.rename(path, away)
            shutil.rmtree(away)
        return count

    def keys(self, prefix: str = "") -> list[str]:
        """Complete keys at or under prefix, sorted."""
        base = self.root / check_key(prefix, allow_empty=True) if prefix else self.root
        if not base.is_dir():
            return []
        found = (m.parent.relative_to(self.root).as_posix() for m in base.rglob(MANIFEST))
        return sorted(k for k in found if is_key(k))


class S3Store:
    """Keys as object prefixes in a bucket; a manifest object, uploaded last, completes one."""

    def __init__(self, bucket: str, prefix: str, client: Any, url: str) -> None:
        """Use bucket under prefix ("" for the bucket's root) through a boto3 S3 client."""
        self.bucket, self.client, self.url = bucket, client, url
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _base(self, key: str, *, allow_empty: bool = False) -> str:
        """The object-name prefix of key's files, ending in a slash."""
        if allow_empty and key == "":
            return self.prefix
        return f"{self.prefix}{check_key(key)}/"

    def _names(self, base: str) -> Iterator[str]:
        """Every object name starting with base."""
        pages = self.client.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=self.bucket, Prefix=base):
            for obj in page.get("Contents", ()):
                yield obj["Key"]

    def _remove(self, names: list[str]) -> None:
        """Delete objects, a thousand per request."""
        for start in range(0, len(names), 1000):
            chunk = [{"Key": n} for n in names[start : start + 1000]]
            done = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True}
            )
            if done.get("Errors"):
                raise OSError(f"S3 delete failed: {done['Errors'][:3]}")

    def _put_file(self, base: str, rel: str, source: Path) -> None:
        """Upload one file of a directory."""
        self.client.upload_file(str(source), self.bucket, base + rel)

    def _manifest(self, key: str) -> tuple[str, dict[str, int]] | None:
        """The generation and files key's manifest lists, or None when key has no manifest."""
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._base(key) + MANIFEST)
        except self.client.exceptions.NoSuchKey:
            return None
        return read_manifest(obj["Body"].read())

    def put_dir(self, key: str, local_dir: str | Path) -> None:
        """Upload every file under a new generation, then the manifest, then drop older ones."""
        base, files = self._base(key), local_files(Path(local_dir))
        generation = uuid.uuid4().hex
        for rel, source in files.items():
            self._put_file(base, f"{generation}/{rel}", source)
        body = manifest_bytes(files, generation)
        self.client.put_object(Bucket=self.bucket, Key=base + MANIFEST, Body=body)
        keep = (base + MANIFEST, f"{base}{generation}/")
        self._remove([n for n in self._names(base) if not n.startswith(keep)])

    def exists(self, key: str) -> bool:
        """Whether key's manifest object exists."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._base(key) + MANIFEST)
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def _download(self, name: str, dest: Path) -> None:
        """Download one object; FileNotFoundError when it is gone (a put replaced it)."""
        try:
            self.client.download_file(self.bucket, name, str(dest))
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(f"s3://{self.bucket}/{name}") from error
            raise

    def get_dir(self, key: str, local_dir: str | Path) -> bool:
        """Download the files key's manifest lists into local_dir, renamed into place at the end."""

        def fetch_once() -> bool:
            found = self._manifest(key)
            if found is None:
                return False
            (generation, files), base = found, self._base(key)
            target = Path(local_dir)
            staged = staging_dir(target)
            try:
                for rel in files:
                    (staged / rel).parent.mkdir(parents=True, exist_ok=True)
                    self._download(f"{base}{generation}/{rel}", staged / rel)
                replace_dir(staged, target)
            finally:
                shutil.rmtree(staged, ignore_errors=True)
            return True

        return fetch_with_retries(fetch_once)

    def delete(self, prefix: str) -> int:
        """Delete the manifests under prefix first (hiding them), then every other object."""
        names = list(self._names(self._base(prefix)))
        manifests = {n for n in names if n.rsplit("/", 1)[-1] == MANIFEST}
        self._remove(sorted(manifests))
        self._remove([n for n in names if n not in manifests])
        return len(names)

    def keys(self, prefix: str = "") -> list[str]:
        """Complete keys at or under prefix, sorted."""
        suffix = "/" + MANIFEST
        found = (
            n[len(self.prefix) : -len(suffix)]
            for n in self._names(self._base(prefix, allow_empty=True))
            if n.endswith(suffix)
        )
        return sorted(k for k in found if is_key(k))


def s3_client(env: Mapping[str, str]) -> Any:
    """A boto3 S3 client: endpoint TUNELOOP_S3_ENDPOINT, else the standard AWS settings."""
    import boto3  # heavy, and only S3 stores need it
    from botocore.config import Config

    endpoint = env.get("TUNELOOP_S3_ENDPOINT") or None
    # Path-style requests for a custom endpoint (MinIO and most S3-compatible servers).
    config = Config(s3={"addressing_style": "path"}) if endpoint else None
    return boto3.client("s3", endpoint_url=endpoint, config=config)


def open_store(url: str, env: Mapping[str, str] | None = None, client: Any = None) -> ArtifactStore:
    """Open the store url names: a directory path, `file://` path or `s3://bucket/prefix`."""
    if url.startswith("s3://"):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"no bucket in {url!r}")
        return S3Store(bucket, prefix, client or s3_client(os.environ if env is None else env), url)
    if not url:
        raise ValueError("no artifact store given (TUNELOOP_ARTIFACTS)")
    return DirectoryStore(url.removeprefix("file://"))


def open_configured(settings: Any) -> ArtifactStore:
    """Open the store the settings name (TUNELOOP_ARTIFACTS, TUNELOOP_S3_ENDPOINT)."""
    env = {**os.environ, "TUNELOOP_S3_ENDPOINT": settings.s3_endpoint}
    return open_store(settings.artifacts, env)
