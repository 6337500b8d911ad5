"""The artifact store's directory backend, its URLs and settings (behaviour on both backends:
tests/integration/test_artifact_store_s3.py)."""

import subprocess
import sys
from pathlib import Path

import pytest

from tuneloop import artifact_store
from tuneloop.artifact_store import MANIFEST, DirectoryStore, S3Store, open_store
from tuneloop.settings import Settings


def make_dir(path: Path, files: dict[str, bytes]) -> Path:
    """Write files (relative path -> bytes) under path; return path."""
    for rel, data in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_bytes(data)
    return path


def test_a_path_or_file_url_opens_a_directory_store(tmp_path: Path) -> None:
    for url in (str(tmp_path), f"file://{tmp_path}"):
        store = open_store(url)
        assert isinstance(store, DirectoryStore)
        assert store.root == tmp_path


def test_an_s3_url_names_the_bucket_and_the_prefix() -> None:
    store = open_store("s3://models-bucket/tuneloop/prod/", client=object())
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix) == ("models-bucket", "tuneloop/prod/")
    assert open_store("s3://models-bucket", client=object()).prefix == ""


@pytest.mark.parametrize("url", ["", "s3://", "s3:///prefix"])
def test_a_url_without_a_place_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        open_store(url, client=object())


def test_importing_the_store_does_not_import_boto3() -> None:
    probe = "import sys, tuneloop.artifact_store; print('boto3' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_directory_is_invisible_until_renamed_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DirectoryStore(tmp_path / "art")
    seen = []
    copy = store._put_file

    def copy_and_look(staged: Path, rel: str, source: Path) -> None:
        copy(staged, rel, source)
        seen.append((store.exists("models/m/adapter"), store.keys(), staged.parent))

    monkeypatch.setattr(store, "_put_file", copy_and_look)
    store.put_dir("models/m/adapter", make_dir(tmp_path / "src", {"a": b"1", "b/c": b"2"}))
    assert [(e, k) for e, k, _ in seen] == [(False, []), (False, [])]
    assert {parent for *_, parent in seen} == {tmp_path / "art" / "models" / "m"}  # same fs
    assert sorted(p.name for p in (tmp_path / "art" / "models" / "m").iterdir()) == ["adapter"]
    assert (tmp_path / "art" / "models" / "m" / "adapter" / MANIFEST).is_file()


def test_a_failed_put_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = DirectoryStore(tmp_path / "art")
    copy, copied = store._put_file, []

    def copy_once_then_fail(staged: Path, rel: str, source: Path) -> None:
        if copied:
            raise OSError("disk full")
        copy(staged, rel, source)
        copied.append(rel)

    monkeypatch.setattr(store, "_put_file", copy_once_then_fail)
    with pytest.raises(OSError, match="disk full"):
        store.put_dir("models/m/adapter", make_dir(tmp_path / "src", {"a": b"1", "b": b"2"}))
    assert copied == ["a"]
    assert [p for p in (tmp_path / "art").rglob("*") if p.is_file()] == []


def test_a_directory_made_by_hand_without_a_manifest_is_not_a_key(tmp_path: Path) -> None:
    make_dir(tmp_path / "art" / "models" / "m" / "adapter", {"adapter_config.json": b"{}"})
    store = DirectoryStore(tmp_path / "art")
    assert store.keys() == []
    assert store.get_dir("models/m/adapter", tmp_path / "out") is False


def test_artifacts_default_to_the_data_directory() -> None:
    assert Settings.from_env({}).artifacts == ".tuneloop/artifacts"
    assert Settings.from_env({"TUNELOOP_DATA_DIR": "/srv/tl"}).artifacts == "/srv/tl/artifacts"
    given = {"TUNELOOP_DATA_DIR": "/srv/tl", "TUNELOOP_ARTIFACTS": "s3://b/p"}
    assert Settings.from_env(given).artifacts == "s3://b/p"
    assert Settings.from_env({"TUNELOOP_S3_ENDPOINT": "http://s3:9000"}).s3_endpoint == (
        "http://s3:9000"
    )


def test_the_configured_store_is_the_settings_one(tmp_path: Path) -> None:
    settings = Settings.from_env({"TUNELOOP_ARTIFACTS": str(tmp_path)})
    store = artifact_store.open_configured(settings)
    assert isinstance(store, DirectoryStore) and store.root == tmp_path
