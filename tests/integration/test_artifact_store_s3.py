"""The artifact store's behaviour, the same tests on both backends: a directory and real S3.

S3 is moto's server (ThreadedMotoServer) on a free port, reached over HTTP through boto3 as
any S3-compatible endpoint (TUNELOOP_S3_ENDPOINT). A put cut short is a real process killed
with SIGKILL in the middle of its uploads.
"""

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tuneloop.artifact_store import MANIFEST, ArtifactStore, open_store

from .support import free_port, wait_until

# Puts a directory, but stops for good after its second file: the test then kills it.
CUT_SHORT_PUT = """
import pathlib, sys, time
from tuneloop.artifact_store import open_store
url, key, source, marker = sys.argv[1:5]
store = open_store(url)
put_file, done = store._put_file, []
def put_then_hang(*args):
    put_file(*args)
    done.append(args)
    if len(done) == 2:
        pathlib.Path(marker).touch()
        time.sleep(600)
store._put_file = put_then_hang
store.put_dir(key, source)
"""


@dataclass
class Backend:
    """A store, its URL, the environment a child process needs, and its raw files."""

    name: str
    store: ArtifactStore
    url: str
    env: dict[str, str]
    root: Path | None = None  # the directory backend's root
    client: Any = None  # the S3 backend's boto3 client
    bucket: str = ""

    def raw_names(self, prefix: str) -> list[str]:
        """Every file or object under prefix, complete or not, hidden or not."""
        if self.root is not None:  # with the temporary directories beside prefix's
            parent, _, name = prefix.rpartition("/")
            beside = f"{parent}/.{name}." if parent else f".{name}."
            found = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*"))
            return sorted(
                rel
                for rel in found
                if (self.root / rel).is_file() and rel.startswith((f"{prefix}/", beside))
            )
        pages = self.client.get_paginator("list_objects_v2")
        return sorted(
            obj["Key"]
            for page in pages.paginate(Bucket=self.bucket, Prefix=f"art/{prefix}/")
            for obj in page.get("Contents", ())
        )


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3-compatible server on a free port; its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(params=["directory", "s3"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    """A fresh, empty store of each backend."""
    if request.param == "directory":
        root = tmp_path / "artifacts"
        return Backend("directory", open_store(str(root)), str(root), dict(os.environ), root=root)
    endpoint = request.getfixturevalue("s3_server")
    env = {
        "TUNELOOP_S3_ENDPOINT": endpoint,
        "AWS_ACCESS_KEY_ID": "tuneloop-test",
        "AWS_SECRET_ACCESS_KEY": "tuneloop-test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bucket = f"tuneloop-{uuid.uuid4().hex[:12]}"
    url = f"s3://{bucket}/art"
    store = open_store(url)
    store.client.create_bucket(Bucket=bucket)
    return Backend("s3", store, url, {**os.environ, **env}, client=store.client, bucket=bucket)


def make_dir(path: Path, files: dict[str, bytes]) -> Path:
    """Write files (relative path -> bytes) under path; return path."""
    for rel, data in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_bytes(data)
    return path


def read_dir(path: Path) -> dict[str, bytes]:
    """Every file under path, by relative path."""
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


ADAPTER = {
    "adapter_config.json": b'{"r": 8}',
    "adapter_model.safetensors": os.urandom(200_000),
    "empty.txt": b"",
    "tokenizer/tokenizer.json": b'{"version": "1.0"}',
}


def cut_short_put(backend: Backend, key: str, source: Path, tmp_path: Path) -> None:
    """Run a put of source as key in a child process and kill it -9 after its second file."""
    marker = tmp_path / f"marker-{uuid.uuid4().hex}"
    argv = [sys.executable, "-c", CUT_SHORT_PUT, backend.url, key, str(source), str(marker)]
    child = subprocess.Popen(argv, env=backend.env)
    try:
        wait_until(
            lambda: marker.exists() or child.poll() is not None,
            60,
            lambda: "the child put to upload two files",
        )
        assert child.poll() is None, f"the child put exited with {child.returncode}"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    assert child.returncode == -signal.SIGKILL


def test_a_put_directory_comes_back_file_for_file(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    store.put_dir("models/ft-1/adapter", make_dir(tmp_path / "src", ADAPTER))
    stale = make_dir(tmp_path / "out", {"stale.bin": b"from before"})
    assert store.exists("models/ft-1/adapter")
    assert store.get_dir("models/ft-1/adapter", stale) is True
    assert read_dir(stale) == ADAPTER  # replaced whole: no stale file, no manifest


def test_a_missing_key_is_not_there_and_get_dir_leaves_the_target_alone(
    backend: Backend, tmp_path: Path
) -> None:
    target = make_dir(tmp_path / "out", {"mine.txt": b"keep"})
    assert backend.store.exists("models/none/adapter") is False
    assert backend.store.get_dir("models/none/adapter", target) is False
    assert read_dir(target) == {"mine.txt": b"keep"}
    assert backend.store.keys("models") == []


def test_keys_lists_complete_keys_under_a_prefix_by_whole_segments(
    backend: Backend, tmp_path: Path
) -> None:
    source = make_dir(tmp_path / "src", {"a.txt": b"a"})
    for key in ("models/ft-1/adapter", "models/ft-10/adapter", "jobs/j1/checkpoints/epoch-2"):
        backend.store.put_dir(key, source)
    backend.store.put_dir("jobs/j1/checkpoints/epoch-1", source)
    assert backend.store.keys("models/ft-1") == ["models/ft-1/adapter"]
    assert backend.store.keys("jobs/j1/checkpoints") == [
        "jobs/j1/checkpoints/epoch-1",
        "jobs/j1/checkpoints/epoch-2",
    ]
    assert backend.store.keys("models/ft-1/adapter") == ["models/ft-1/adapter"]
    assert len(backend.store.keys()) == 4


def test_putting_a_key_again_replaces_every_file(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    store.put_dir("models/ft-1/adapter", make_dir(tmp_path / "v1", {"old.bin": b"1", "x": b"1"}))
    store.put_dir("models/ft-1/adapter", make_dir(tmp_path / "v2", {"x": b"2", "new.bin": b"2"}))
    assert store.get_dir("models/ft-1/adapter", tmp_path / "out")
    assert read_dir(tmp_path / "out") == {"x": b"2", "new.bin": b"2"}
    # Nothing of the old version is left behind: its files and the manifest only.
    assert len(backend.raw_names("models/ft-1/adapter")) == 3


def test_a_put_killed_midway_is_invisible(backend: Backend, tmp_path: Path) -> None:
    source = make_dir(tmp_path / "src", ADAPTER)
    cut_short_put(backend, "jobs/j1/checkpoints/epoch-1", source, tmp_path)
    assert backend.raw_names("jobs/j1"), "the killed put should have left files behind"
    assert backend.store.exists("jobs/j1/checkpoints/epoch-1") is False
    assert backend.store.get_dir("jobs/j1/checkpoints/epoch-1", tmp_path / "out") is False
    assert not (tmp_path / "out").exists()
    assert backend.store.keys("jobs") == []


def test_a_put_killed_midway_leaves_the_previous_version_readable(
    backend: Backend, tmp_path: Path
) -> None:
    store = backend.store
    first = {"adapter_config.json": b'{"r": 4}', "adapter_model.safetensors": b"v1"}
    store.put_dir("models/ft-1/adapter", make_dir(tmp_path / "v1", first))
    cut_short_put(backend, "models/ft-1/adapter", make_dir(tmp_path / "v2", ADAPTER), tmp_path)
    assert store.get_dir("models/ft-1/adapter", tmp_path / "out")
    assert read_dir(tmp_path / "out") == first
    assert store.keys("models") == ["models/ft-1/adapter"]


def test_delete_removes_every_file_under_the_prefix_and_only_those(
    backend: Backend, tmp_path: Path
) -> None:
    store, source = backend.store, make_dir(tmp_path / "src", ADAPTER)
    store.put_dir("jobs/j1/checkpoints/epoch-1", source)
    store.put_dir("jobs/j1/checkpoints/epoch-2", source)
    cut_short_put(backend, "jobs/j1/checkpoints/epoch-3", source, tmp_path)
    store.put_dir("jobs/j10/checkpoints/epoch-1", source)
    store.put_dir("models/ft-1/adapter", source)
    assert store.delete("jobs/j1") >= 2 * (len(ADAPTER) + 1)
    assert backend.raw_names("jobs/j1") == []
    assert store.keys("jobs/j1") == []
    assert store.keys() == ["jobs/j10/checkpoints/epoch-1", "models/ft-1/adapter"]


def test_deleting_a_key_removes_its_files_and_a_killed_put_of_it(
    backend: Backend, tmp_path: Path
) -> None:
    store, source = backend.store, make_dir(tmp_path / "src", ADAPTER)
    store.put_dir("models/ft-1/adapter", source)
    cut_short_put(backend, "models/ft-1/adapter", source, tmp_path)
    store.delete("models/ft-1/adapter")
    assert backend.raw_names("models/ft-1/adapter") == []
    assert store.exists("models/ft-1/adapter") is False
    assert store.delete("models/ft-1/adapter") == 0


@pytest.mark.parametrize("key", ["", "/models/a", "models//a", "../x", "models/.hidden", "a/./b"])
def test_keys_outside_the_store_or_hidden_are_refused(backend: Backend, key: str) -> None:
    with pytest.raises(ValueError, match="bad artifact key"):
        backend.store.exists(key)


def test_a_file_named_like_the_manifest_is_refused(backend: Backend, tmp_path: Path) -> None:
    source = make_dir(tmp_path / "src", {f"sub/{MANIFEST}": b"{}"})
    with pytest.raises(ValueError, match="reserved"):
        backend.store.put_dir("models/ft-1/adapter", source)
    assert backend.raw_names("models") == []
